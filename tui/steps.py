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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, PrivateAttr
from pydantic_core import to_json

from tui.events import EventType
from tui.flow.model import VariableValue as VariableValue  # one definition; the engine imports it from here
from tui.flow.model import new_dict, new_list


@dataclass(slots=True)
class Emitted:
    """An event as the engine produces it: no seq, no timestamp yet.

    A plain dataclass, not a model: the engine makes several per step from values it knows
    good, and the session turns each into a `StoredEvent` (the validated, stored form) at once.
    """

    type: EventType
    data: dict[str, Any] = field(default_factory=dict)


class StoredEvent(BaseModel):
    """An event as committed: contiguous seq per session, UTC ISO-8601 timestamp.

    Its JSON text (compact, UTF-8 as is: the store's row, the wire's element, `play --json`'s
    line) is made once, when the session commits it (`committed`) or when the store reads it
    (the stored text), and reused: `json_text()`.
    """

    seq: int
    type: EventType
    ts: str
    data: dict[str, Any] = Field(default_factory=new_dict)
    _json: str | None = PrivateAttr(default=None)

    @classmethod
    def committed(cls, first: int, ts: str, emitted: list[Emitted]) -> list[StoredEvent]:
        """The events the session makes of one step's `emitted`, numbered from `first`, all
        stamped `ts`: their fields are known good (no validation pass) and each one's JSON is
        encoded here, once."""
        new, set_ = cls.__new__, object.__setattr__
        tail = f'","ts":"{ts}","data":'
        events: list[StoredEvent] = []
        for seq, item in enumerate(emitted, first):
            type_, data = item.type, item.data
            event = new(cls)
            set_(event, "__dict__", {"seq": seq, "type": type_, "ts": ts, "data": data})
            set_(event, "__pydantic_fields_set__", set(_ALL_FIELDS))
            set_(event, "__pydantic_extra__", None)
            text = f'{{"seq":{seq},"type":"{type_}{tail}{to_json(data).decode()}}}'
            set_(event, "__pydantic_private__", {"_json": text})
            events.append(event)
        return events

    def __eq__(self, other: object) -> bool:
        """Equal events have equal fields, whether or not their JSON was kept."""
        if not isinstance(other, StoredEvent):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> StoredEvent:
        """A copy; one with changed fields forgets the JSON of the original."""
        copy = super().model_copy(update=update, deep=deep)
        if update:
            object.__setattr__(copy, "__pydantic_private__", {"_json": None})
        return copy

    def with_json(self, text: str) -> StoredEvent:
        """Remember `text` (the stored JSON this event was read from) as its encoding."""
        self.__pydantic_private__["_json"] = text  # type: ignore[index]
        return self

    def json_text(self) -> str:
        """The event's JSON: the text made once, else encoded now (an event built by hand)."""
        text = self.__pydantic_private__["_json"]  # type: ignore[index]
        return text if text is not None else self.model_dump_json()


_ALL_FIELDS = frozenset(("seq", "type", "ts", "data"))

_Plain = TypeVar("_Plain", bound=BaseModel)


def copy_with(model: _Plain, update: dict[str, Any]) -> _Plain:
    """`model.model_copy(update=update)` for a model without extra fields or private attributes
    (EngineState, SessionRecord): the same shallow copy, without pydantic's general path. It
    runs twice per answer."""
    copy = model.__class__.__new__(model.__class__)
    set_ = object.__setattr__
    set_(copy, "__dict__", {**model.__dict__, **update})
    set_(copy, "__pydantic_extra__", None)
    set_(copy, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys())
    set_(copy, "__pydantic_private__", None)
    return copy


class Choice(BaseModel):
    """One option of a choice-like input, as the user sees it."""

    id: str
    label: str
    description: str | None = None
    picture: str | None = None


class InputSpec(BaseModel):
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
    choices: list[Choice] = Field(default_factory=new_list)
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


class Pointer(BaseModel):
    """A place in a flow: the flow (`""` = the root, else a linked flow's id) and a block."""

    flow: str = ""
    group_id: str
    block_index: int = 0


class EngineState(BaseModel):
    """Everything the engine needs to continue a conversation; JSON-serialisable.

    `variables` are keyed by variable id (Typebot semantics); `waiting` is the input the flow
    waits at (None when completed); `link_stack` the parents to return to when a linked flow
    ends; `return_mark` where a Return block goes; `rng_counter` advances the seeded random
    source so replay is deterministic.
    """

    status: Literal["active", "completed"] = "active"
    variables: dict[str, VariableValue] = Field(default_factory=new_dict)
    waiting: Pointer | None = None
    input: InputSpec | None = None
    return_mark: Pointer | None = None
    link_stack: list[Pointer] = Field(default_factory=new_list)
    seed: int = 0
    rng_counter: int = 0
    transcript: list[dict[str, str]] | None = None
    # Parallel to `link_stack`: the parent's saved variables (None when the link stays in the
    # same flow and shares them) and whether the child's values merge back by name on return.
    link_frames: list[dict[str, Any]] = Field(default_factory=new_list)
    # A reply a `reply` event interrupted: {flow, block_id, text}; a Return to that input
    # submits it again (Typebot's auto-resume after a reply event).
    pending_reply: dict[str, str] | None = None
