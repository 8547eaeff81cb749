"""The vocabulary shared by engine, store, session, sync and UI: event types and engine state.

An *event* is one committed fact of a conversation: `{"seq", "type", "ts", "data"}`. The engine
produces events without `seq`/`ts` (`Emitted`); the session numbers and timestamps them, commits
them, and only then shows them. Events are plain JSON so the store, the wire and `export` share
one shape.

Event types and their `data` (as `TypedDict`s for the type checker in `tui/events.py`):
- `start`     {flow_id, flow_name, flow_hash, seed, device_id, created_at}   always seq 1
- `message`   {kind: "text"|"image"|"video"|"audio"|"embed"|"link", text, markdown?, url?,
               retry?: bool}                          a bot bubble (retry: a re-ask after a refusal)
- `note`      {text}                                  a block we skipped, shown dimmed
- `input`     InputSpec as a dict                     the flow now waits at this input
- `answer`    {block_id, text, content, valid}        the user's reply as typed and as saved
                                                      (valid false: refused, content null)
- `command`   {name}                                  a command event the user triggered
- `variables` {changes: {name: value}}                variables that changed in the step
- `wait`      {seconds}                               a pause the UI may honour
- `end`       {}                                      the conversation is complete
- `error`     {text}                                  the flow stopped (e.g. the step limit)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import msgspec

from tui.events import EventType
from tui.flow.model import VariableValue as VariableValue  # one definition; the engine imports it from here
from tui.flow.model import plain_json_value

_encode_json = msgspec.json.Encoder(enc_hook=plain_json_value).encode


class Record(msgspec.Struct, kw_only=True):
    """The base of the records the client stores and shows: a msgspec Struct, not a pydantic
    model. Building pydantic's models was over half of `steadychat play`'s own start (its import
    and schema build: ~60 ms of ~85 ms here); msgspec, which the server already uses, imports in
    a few and validates the same JSON at C speed.

    A Struct's constructor does not validate: code builds records from values it knows good, and
    everything read from outside (the store, the wire) is checked by `msgspec.json.decode` /
    `msgspec.convert` with the record's type. Unknown keys are ignored, as they were, so a
    store written by a newer version still loads. JSON keys follow the field order. msgspec does
    not inherit `kw_only`: each record says it again.
    """


@dataclass(slots=True)
class Emitted:
    """An event as the engine produces it: no seq, no timestamp yet.

    A plain dataclass, not a record: the engine makes several per step from values it knows
    good, and the session turns each into a `StoredEvent` (the stored form) at once.
    """

    type: EventType
    data: dict[str, Any] = field(default_factory=dict)


class StoredEvent(Record, kw_only=True, dict=True):
    """An event as committed: contiguous seq per session, UTC ISO-8601 timestamp.

    Its JSON text (compact, UTF-8 as is: the store's row, the wire's element, `play --json`'s
    line) is made once, when the session commits it (`committed`) or when the store reads it
    (the stored text), and reused: `json_text()`. The text lives in the instance `__dict__`
    (`dict=True`), outside the fields: equality, copies and encoding ignore it.
    """

    seq: int
    type: EventType
    ts: str
    data: dict[str, Any] = {}

    @classmethod
    def committed(cls, first: int, ts: str, emitted: list[Emitted]) -> list[StoredEvent]:
        """The events the session makes of one step's `emitted`, numbered from `first`, all
        stamped `ts`, each one's JSON encoded here, once."""
        tail = f'","ts":"{ts}","data":'
        events: list[StoredEvent] = []
        for seq, item in enumerate(emitted, first):
            type_, data = item.type, item.data
            event = cls(seq=seq, type=type_, ts=ts, data=data)
            event.__dict__["_json"] = f'{{"seq":{seq},"type":"{type_}{tail}{_encode_json(data).decode()}}}'
            events.append(event)
        return events

    def with_json(self, text: str) -> StoredEvent:
        """Remember `text` (the stored JSON this event was read from) as its encoding."""
        self.__dict__["_json"] = text
        return self

    def json_text(self) -> str:
        """The event's JSON: the text made once, else encoded now (an event built by hand)."""
        text: str | None = self.__dict__.get("_json")
        return text if text is not None else _encode_json(self).decode()


_R = TypeVar("_R", bound=msgspec.Struct)


def copy_with(record: _R, update: dict[str, Any]) -> _R:
    """A shallow copy of `record` with the fields in `update` changed (`msgspec.structs.replace`)."""
    return msgspec.structs.replace(record, **update)


def as_json_data(record: msgspec.Struct) -> Any:
    """The record as JSON values (dicts, lists, text, numbers): what its stored JSON decodes to."""
    return msgspec.to_builtins(record, enc_hook=plain_json_value)


def as_json_text(record: msgspec.Struct) -> str:
    """The record's compact JSON text (UTF-8 as is)."""
    return _encode_json(record).decode()


class Choice(Record, kw_only=True):
    """One option of a choice-like input, as the user sees it."""

    id: str
    label: str
    description: str | None = None
    picture: str | None = None


class InputSpec(Record, kw_only=True):
    """What the waiting input needs from a UI: kind, prompt texts and options.

    `kind` is one of text, number, email, url, phone, date, time, choice, picture choice,
    rating, file, payment, cards, embed (an embed waiting for an event), pause.
    """

    block_id: str
    kind: str
    placeholder: str = ""
    button: str = "Send"
    long: bool = False
    multiple: bool = False
    choices: list[Choice] = []
    min: float | str | None = None
    max: float | str | None = None
    step: float | None = None
    rating_from: int | None = None
    rating_to: int | None = None
    rating_left: str | None = None
    rating_right: str | None = None
    has_time: bool = False
    is_range: bool = False
    date_format: str | None = None
    required: bool = True
    prefill: str | None = None


class Pointer(Record, kw_only=True):
    """A place in a flow: the flow (`""` = the root, else a linked flow's id) and a block."""

    flow: str = ""
    group_id: str
    block_index: int = 0


class EngineState(Record, kw_only=True):
    """Everything the engine needs to continue a conversation; JSON-serialisable.

    `variables` are keyed by variable id (Typebot semantics); `waiting` is the input the flow
    waits at (None when completed); `link_stack` the parents to return to when a linked flow
    ends; `return_mark` where a Return block goes; `rng_counter` advances the seeded random
    source so replay is deterministic.
    """

    status: Literal["active", "completed"] = "active"
    variables: dict[str, VariableValue] = {}
    waiting: Pointer | None = None
    input: InputSpec | None = None
    return_mark: Pointer | None = None
    link_stack: list[Pointer] = []
    seed: int = 0
    rng_counter: int = 0
    transcript: list[dict[str, str]] | None = None
    # Parallel to `link_stack`: the parent's saved variables (None when the link stays in the
    # same flow and shares them) and whether the child's values merge back by name on return.
    link_frames: list[dict[str, Any]] = []
    # A reply a `reply` event interrupted: {flow, block_id, text}; a Return to that input
    # submits it again (Typebot's auto-resume after a reply event).
    pending_reply: dict[str, str] | None = None
