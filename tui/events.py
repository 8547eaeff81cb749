"""The shape of each event type's `data`, for the type checker.

Events stay plain JSON dicts at run time (the store, the wire and `export` share one shape, see
`tui/steps.py`); these `TypedDict`s only name the keys each type carries, so code that reads an
event says which type it expects and gets its keys checked:

    if event.type == "answer":
        answer = data_of(event, "answer")
        answer["text"]

`data_of` is a cast, not a check (zero cost); the caller has already compared `event.type`.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, Protocol, TypedDict, cast, overload

from tui.flow.model import VariableValue

EventType = Literal["start", "message", "note", "input", "answer", "command", "variables", "wait", "end", "error"]
"""Every event type, in the order a conversation meets them."""

InputKind = Literal[
    "text",
    "number",
    "email",
    "url",
    "phone",
    "date",
    "time",
    "choice",
    "picture choice",
    "rating",
    "file",
    "payment",
    "cards",
    "embed",
    "pause",
]
"""What the waiting input asks for (`embed`: an embed waiting for its event; `pause`: a Wait)."""

MessageKind = Literal["text", "image", "video", "audio", "embed", "link"]
"""What a bot bubble shows."""


class StartData(TypedDict):
    """`start`, always seq 1: which flow, with which seed, on which device."""

    flow_id: str
    flow_name: str
    flow_hash: str
    seed: int
    device_id: str
    created_at: str


class MessageData(TypedDict):
    """`message`: a bot bubble. `retry` marks the re-ask after a refused answer."""

    kind: MessageKind
    text: str
    markdown: NotRequired[str]
    url: NotRequired[str]
    retry: NotRequired[bool]


class NoteData(TypedDict):
    """`note`: a block skipped in a terminal, a failed script, a refused value (shown dimmed)."""

    text: str


class ChoiceData(TypedDict):
    """One option of a choice-like input (`tui.steps.Choice` as JSON)."""

    id: str
    label: str
    description: str | None
    picture: str | None


class InputData(TypedDict):
    """`input`: the flow now waits here (`tui.steps.InputSpec` as JSON, every key present)."""

    block_id: str
    kind: InputKind
    placeholder: str
    button: str
    long: bool
    multiple: bool
    choices: list[ChoiceData]
    min: float | str | None
    max: float | str | None
    step: float | None
    rating_from: int | None
    rating_to: int | None
    rating_left: str | None
    rating_right: str | None
    has_time: bool
    is_range: bool
    date_format: str | None
    required: bool
    prefill: str | None


class AnswerData(TypedDict):
    """`answer`: the reply as typed (`text`) and as saved (`content`). `valid` is present and false
    only for a refused reply, which was re-asked (its `content` is null)."""

    block_id: str
    text: str
    content: str | None
    valid: NotRequired[bool]


class CommandData(TypedDict):
    """`command`: a Typebot command event the user triggered."""

    name: str


class VariablesData(TypedDict):
    """`variables`: the variables that changed in the step, by name, in stored form."""

    changes: dict[str, VariableValue]


class WaitData(TypedDict):
    """`wait`: a pause the UI may honour."""

    seconds: float


class EndData(TypedDict):
    """`end`: the conversation is complete (no keys)."""


class ErrorData(TypedDict):
    """`error`: the flow stopped (e.g. a loop without input)."""

    text: str


EventData = (
    StartData
    | MessageData
    | NoteData
    | InputData
    | AnswerData
    | CommandData
    | VariablesData
    | WaitData
    | EndData
    | ErrorData
)


class HasData(Protocol):
    """Anything shaped like an event: `tui.steps.Emitted` and `StoredEvent`."""

    @property
    def type(self) -> EventType: ...

    @property
    def data(self) -> dict[str, Any]: ...


@overload
def data_of(event: HasData, expected: Literal["start"]) -> StartData: ...
@overload
def data_of(event: HasData, expected: Literal["message"]) -> MessageData: ...
@overload
def data_of(event: HasData, expected: Literal["note"]) -> NoteData: ...
@overload
def data_of(event: HasData, expected: Literal["input"]) -> InputData: ...
@overload
def data_of(event: HasData, expected: Literal["answer"]) -> AnswerData: ...
@overload
def data_of(event: HasData, expected: Literal["command"]) -> CommandData: ...
@overload
def data_of(event: HasData, expected: Literal["variables"]) -> VariablesData: ...
@overload
def data_of(event: HasData, expected: Literal["wait"]) -> WaitData: ...
@overload
def data_of(event: HasData, expected: Literal["end"]) -> EndData: ...
@overload
def data_of(event: HasData, expected: Literal["error"]) -> ErrorData: ...
def data_of(event: HasData, expected: EventType) -> EventData:
    """The event's `data`, typed as `expected`'s (the same dict: nothing is copied or checked)."""
    return cast(EventData, event.data)
