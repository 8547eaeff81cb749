"""A pydantic description of our YAML flow format, and the JSON Schema editors use from it.

This is documentation-grade: the compiler (yaml_format.py) does the real checking with line
numbers; this model exists so that `flows/steadychat-flow.schema.json` gives editors completion,
hover text and red squiggles. A test keeps the committed file equal to the generated one and the
option names equal to the compiler's tables. Regenerate with:

    python -m tui.flow.schema > flows/steadychat-flow.schema.json
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tui.flow.model import DEFAULT_MAX_ANSWER_BYTES, MAX_ANSWER_BYTES_LIMIT

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

InputType = Literal["text", "number", "email", "url", "phone", "date", "time", "rating", "file"]
SetOp = Literal[
    "custom", "empty", "append", "pop", "shift", "now", "today", "yesterday", "tomorrow", "random id", "transcript"
]
ComparisonOp = Literal[
    "==", "!=", ">", ">=", "<", "<=", "contains", "not contains", "starts with", "ends with",
    "matches", "not matches", "is set", "is empty",
    "Equal to", "Not equal", "Greater than", "Greater or equal to", "Less than", "Less or equal to",
    "Contains", "Does not contain", "Starts with", "Ends with", "Matches regex",
    "Does not match regex", "Is set", "Is empty",
]  # fmt: skip
Scalar = str | int | float | bool
NumberOrVar = Annotated[int | float | str, Field(description="A number, or a '{{variable}}' holding one.")]

GROUP = "Title of a group of this flow."


def _opt(description: str, **kwargs: Any) -> Any:
    """An optional field with a description. The default None stands for "not given": the type
    stays non-nullable, because the compiler refuses an explicit `key: null` there."""
    return Field(default=None, description=description, **kwargs)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- bubbles -------------------------------------------------------------------------------------


class Say(_Entry):
    """A text bubble. One paragraph per line; Markdown and {{variables}} allowed."""

    say: str = Field(description="The message. Markdown and {{variables}} allowed; one paragraph per line.")


class Image(_Entry):
    """An image bubble (shown as a link in a terminal)."""

    image: str = Field(description="Image URL.")
    alt: str = _opt("Alternative text.")
    link: str = _opt("URL opened when the image is clicked.")


class Video(_Entry):
    """A video bubble (shown as a link)."""

    video: str = Field(description="Video URL (YouTube, Vimeo, a file ...).")


class Audio(_Entry):
    """An audio bubble (shown as a link)."""

    audio: str = Field(description="Audio file URL.")
    autoplay: bool = _opt("Play on display (default true).")


class Embed(_Entry):
    """An embedded page (shown as a link)."""

    embed: str = Field(description="Page URL.")
    height: NumberOrVar = _opt("Height in pixels (default 400).")


# --- inputs ---------------------------------------------------------------------------------------


class _InputLabels(_Entry):
    placeholder: str = _opt("Placeholder shown in the empty answer box.")
    button: str = _opt("Label of the send button (default 'Send').")
    retry: str = _opt("Message sent when the answer is invalid, before asking again.")


class _RatingOptions(_Entry):
    length: int = _opt("Highest rating (default 10).")
    from_: int = _opt("Lowest rating (default 0).", alias="from")
    left: str = _opt("Label under the lowest rating.")
    right: str = _opt("Label under the highest rating.")


class Ask(_InputLabels, _RatingOptions):
    """An input saved into a variable. `ask: email` is an email input saved into `email`; other
    names are text inputs unless `type:` says otherwise."""

    ask: str = Field(
        description="Variable the answer is saved into. An input type name (text, number, email, url, "
        "phone, date, time, rating, file) also sets the type."
    )
    type: InputType = _opt("Input type (default: the ask: name if it is a type name, else text).")
    into: str = _opt("Variable to save into instead of the ask: name.")
    long: bool = _opt("text: a multi-line answer.")
    min: NumberOrVar = _opt("number: smallest accepted value; date: earliest date.")
    max: NumberOrVar = _opt("number: largest accepted value; date: latest date.")
    step: NumberOrVar = _opt("number: step between values.")
    country: str = _opt("phone: default country code (ISO 3166 alpha-2, e.g. FR).")
    time: bool = _opt("date: ask for a time too.")
    range: bool = _opt("date: ask for a start and an end date.")
    format: str = _opt("date/time: output format (Unicode TR35, default dd/MM/yyyy or HH:mm).")
    required: bool = _opt("file: the answer cannot be skipped (default true).")
    multiple: bool = _opt("file: several files may be given.")


class Rating(_InputLabels, _RatingOptions):
    """A rating input saved into a variable (numbers from `from:` to `length:`)."""

    rating: str = Field(description="Variable the rating is saved into.")


class ChoiceItemFull(_Entry):
    """A choice item with every field spelled out."""

    label: Scalar = Field(description="Text shown on the button.")
    value: Scalar | None = _opt("Internal value saved instead of the label.")
    goto: str = _opt(f"{GROUP} Where the flow goes when this item is picked (single choice only).")


ChoiceItemGoto = Annotated[
    dict[str, str],
    Field(min_length=1, max_length=1, description="'Label: Group': picking the item goes to that group."),
]
ChoiceItem = Annotated[Scalar, Field(description="A label.")] | ChoiceItemGoto | ChoiceItemFull


class Choice(_Entry):
    """Buttons. Items without a goto continue with the next block."""

    choice: list[ChoiceItem] = Field(min_length=1, description="The items, in order.")
    into: str = _opt("Variable the picked label (or value) is saved into.")
    multiple: bool = _opt("Several items may be picked (answers joined with ', '; no item gotos).")
    button: str = _opt("Label of the send button for multiple choice.")
    searchable: bool = _opt("Show a search box over the items.")


# --- logic ----------------------------------------------------------------------------------------


class Comparison(_Entry):
    """One comparison of a variable with a value."""

    var: str = Field(description="Variable name (left side).")
    op: ComparisonOp = Field(description="Operator: a short form (==, >, contains ...) or Typebot's name.")
    value: Scalar = _opt("Right side; may contain {{variables}}. Not used by 'is set'/'is empty'.")


ComparisonText = Annotated[
    str, Field(description="'{{variable}} OP value', e.g. '{{score}} > 5', '{{plan}} == pro', '{{email}} is set'.")
]
OneComparison = ComparisonText | Comparison


class AllOf(_Entry):
    """True when every comparison holds."""

    all: list[OneComparison] = Field(min_length=1)


class AnyOf(_Entry):
    """True when at least one comparison holds."""

    any: list[OneComparison] = Field(min_length=1)


class If(_Entry):
    """A condition: go to `then` when it holds, else to `else` (or on to the next block)."""

    if_: OneComparison | AllOf | AnyOf = Field(alias="if", description="The condition.")
    then: str = Field(description=f"{GROUP} Where to go when the condition holds.")
    else_: str = _opt(f"{GROUP} Where to go otherwise (default: the next block).", alias="else")


class Set(_Entry):
    """Set variables: `set: {score: "{{score}} + 5"}`, or `set: name` with `op:` and `value:`."""

    set: str | dict[str, Scalar | list[Any] | dict[str, Any] | None] = Field(
        description="A mapping of variable → expression (null empties it), or one variable name used with op:."
    )
    op: SetOp = _opt("What to do with the variable (default custom: evaluate value:).")
    value: Scalar | list[Any] | dict[str, Any] | None = _opt(
        "custom: the expression ({{var}} + 1, text, JSON); append: the item to append."
    )
    into: str = _opt("pop/shift: variable that receives the removed item.")
    timezone: str = _opt("now/today/yesterday/tomorrow: IANA time zone.")


class Goto(_Entry):
    """Jump to a group (a later `return: true` comes back after this block)."""

    goto: str = Field(description=f"{GROUP} Or '{{{{variable}}}}' holding a group title.")


class Wait(_Entry):
    """Pause before the next block."""

    wait: NumberOrVar = Field(description="Seconds to wait.")
    pause: bool = _opt("Wait for the user to reply before going on.")


class Redirect(_Entry):
    """Send the user to a URL (shown as a link in a terminal)."""

    redirect: str = Field(description="URL.")
    new_tab: bool = _opt("Open in a new tab (web only).")


class Return(_Entry):
    """Go back to the block after the last goto."""

    return_: Literal[True] = Field(alias="return", description="Always true.")


class End(_Entry):
    """End the conversation here (must be the last block of its group)."""

    end: Literal[True] = Field(description="Always true.")


BareSay = Annotated[str, Field(description="A bare text is a say: bubble.")]
Entry = (
    BareSay
    | Say
    | Image
    | Video
    | Audio
    | Embed
    | Ask
    | Rating
    | Choice
    | If
    | Set
    | Goto
    | Wait
    | Redirect
    | Return
    | End
)

# Block key → its model (for the test that keeps this file and the compiler in step).
ENTRY_MODELS: dict[str, type[_Entry]] = {
    "say": Say, "image": Image, "video": Video, "audio": Audio, "embed": Embed, "ask": Ask,
    "choice": Choice, "rating": Rating, "if": If, "set": Set, "goto": Goto, "wait": Wait,
    "redirect": Redirect, "return": Return, "end": End,
}  # fmt: skip

InitialValue = Scalar | list[Scalar | None] | None


class FlowFile(BaseModel):
    """A SteadyChat flow: named groups of blocks. See docs/flow-format.md."""

    model_config = ConfigDict(extra="forbid", title="SteadyChat flow")

    name: str = Field(description="Name shown to the user.")
    id: str | None = _opt("Stable id of the flow (default: the file name without extension).")
    variables: dict[str, InitialValue] | None = _opt(
        "Initial variable values. Variables used anywhere are declared automatically."
    )
    start: str = _opt(f"{GROUP} Where the conversation starts (default: the first group).")
    invalid_message: str | None = _opt("Message sent when an answer is invalid and the input has no retry:.")
    max_answer_bytes: int = _opt(
        f"Longest answer accepted, in UTF-8 bytes (default {DEFAULT_MAX_ANSWER_BYTES}); "
        "a longer one is refused before it is saved.",
        ge=1,
        le=MAX_ANSWER_BYTES_LIMIT,
    )
    groups: dict[str, list[Entry]] = Field(
        min_length=1,
        description="Groups by title, in order. A group runs its blocks in order, then continues into the "
        "next group unless it ends with goto, end, return or an if with both then and else.",
    )


def flow_json_schema() -> dict[str, Any]:
    """The JSON Schema of our flow format, as committed in flows/steadychat-flow.schema.json."""
    schema = FlowFile.model_json_schema(by_alias=True)
    return {"$schema": SCHEMA_DIALECT, **schema}


def schema_text() -> str:
    """The exact text of the committed schema file."""
    return json.dumps(flow_json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(schema_text())
