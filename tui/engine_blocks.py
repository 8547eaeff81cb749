"""Block-level helpers of the engine: bubbles, input specs, Set variable values, ids.

Pure functions over a block and a `Scope`; the walking itself (edges, frames, pauses) lives in
`tui/engine.py`. Reference: ../shared/typebot-format.md §7 (catalogue) and Typebot's
`parseBubbleBlock.ts`, `formatInputForChatResponse.ts`, `executeSetVariable.ts`.
"""

from __future__ import annotations

import functools
import json
import math
import random
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tui.flow.jsvalues import js_to_number, optional_text
from tui.flow.model import Block, Flow, Item
from tui.rules.richtext import rich_text_to_markdown_and_plain
from tui.rules.templates import substitute
from tui.rules.variables import Scope, is_single_variable
from tui.steps import Choice, InputSpec, VariableValue

INTEGRATION_TYPES = frozenset(
    {
        "Webhook",
        "Email",
        "Google Sheets",
        "OpenAI",
        "Google Analytics",
        "Zapier",
        "Make.com",
        "Pabbly",
        "Chatwoot",
        "Pixel",
    }
)

# Typebot's replyEventInputTypeFromEnum: what a reply event stores as the input type.
REPLY_INPUT_TYPE = {
    "text input": "text",
    "number input": "number",
    "email input": "email",
    "url input": "url",
    "date input": "date",
    "time input": "time",
    "phone number input": "phone",
    "choice input": "buttons",
    "picture choice input": "picture choice",
    "payment input": "payment",
    "rating input": "rating",
    "file input": "file",
    "cards": "cards",
}

_INPUT_KIND = {
    "text input": "text",
    "number input": "number",
    "email input": "email",
    "url input": "url",
    "phone number input": "phone",
    "date input": "date",
    "time input": "time",
    "choice input": "choice",
    "picture choice input": "picture choice",
    "rating input": "rating",
    "file input": "file",
    "payment input": "payment",
    "cards": "cards",
}

_PLACEHOLDERS = {
    "text input": "Type your answer...",
    "number input": "Type a number...",
    "email input": "Type your email...",
    "url input": "Type a URL...",
    "phone number input": "Type your phone number...",
}

_ID_ALPHABET = string.ascii_lowercase + string.digits


def is_v6(flow: Flow) -> bool:
    """Typebot's `Number(version) >= 6`; an unreadable version counts as older."""
    return _is_v6_version(flow.version)


@functools.lru_cache(maxsize=64)
def _is_v6_version(version: Any) -> bool:
    """`is_v6` by version value (asked once per bubble: a flow has few distinct versions)."""
    try:
        return float(version) >= 6
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# Bubbles
# ---------------------------------------------------------------------------------------------


def bubble_message(block: Block, scope: Scope, *, take_latest: bool) -> dict[str, Any] | None:
    """The `message` event data for a bubble, or None when there is nothing to show."""
    content = block.content
    if not content:
        return None
    if block.type == "text":
        return _text_message(content, scope, take_latest)
    url = _media_url(block.type, content, scope)
    if not url:
        return None
    text = f"[{block.type}: {url}]"
    return {"kind": block.type, "text": text, "markdown": text, "url": url}


def _text_message(content: dict[str, Any], scope: Scope, take_latest: bool) -> dict[str, Any]:
    """A text bubble from Slate rich text (or the plain text of very old files)."""
    rich = content.get("richText")
    if isinstance(rich, list):
        markdown, plain = rich_text_to_markdown_and_plain(rich, scope, take_latest_if_list=take_latest)
    else:
        plain = substitute(content.get("plainText") or "", scope, take_latest_if_list=take_latest)
        markdown = plain
    return {"kind": "text", "text": plain, "markdown": markdown}


def _media_url(kind: str, content: dict[str, Any], scope: Scope) -> str:
    """The substituted URL of an image/video/audio/embed bubble (videos may give only an id)."""
    url = substitute(optional_text(content.get("url")), scope)
    if url or kind != "video":
        return url
    video_id = optional_text(content.get("id"))
    if not video_id:
        return ""
    if content.get("type") == "youtube":
        return f"https://www.youtube.com/watch?v={video_id}"
    if content.get("type") == "vimeo":
        return f"https://vimeo.com/{video_id}"
    return ""


def embed_waits(block: Block) -> bool:
    """An embed bubble with `waitForEvent.isEnabled` pauses the flow on itself."""
    return block.type == "embed" and bool(wait_for_event(block).get("isEnabled"))


def wait_for_event(block: Block) -> dict[str, Any]:
    """An embed's `waitForEvent` object; anything else (a list in a hand-edited file) is none."""
    wait = (block.content or {}).get("waitForEvent")
    return wait if isinstance(wait, dict) else {}


def transcript_entry(message: dict[str, Any]) -> dict[str, str] | None:
    """What a bot message contributes to a Transcript (computeResultTranscript): markdown for
    text, the URL for image/video/audio, nothing for embeds and links."""
    if message["kind"] == "text":
        return {"role": "bot", "text": message["markdown"]}
    if message["kind"] in ("image", "video", "audio"):
        return {"role": "bot", "text": message["url"]}
    return None


def format_transcript(entries: list[dict[str, str]]) -> str:
    """Typebot's Transcript text: `Assistant: "…"` / `User: "…"` joined by blank lines."""
    lines = [f'{"Assistant:" if e["role"] == "bot" else "User:"} "{e["text"]}"' for e in entries]
    return "\n\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def input_spec(block: Block, scope: Scope) -> InputSpec:
    """The InputSpec for a waiting input, with Typebot's defaults and variables resolved."""
    options = block.options or {}
    labels = _labels(options)
    spec = InputSpec(
        block_id=block.id,
        kind=_INPUT_KIND.get(block.type, block.type),
        placeholder=substitute(optional_text(labels.get("placeholder")) or _PLACEHOLDERS.get(block.type, ""), scope),
        button=substitute(optional_text(labels.get("button")) or "Send", scope),
        prefill=_prefill(options, scope),
    )
    builder = _SPEC_BUILDERS.get(block.type)
    if builder is not None:
        builder(spec, block, scope)
    return spec


def pause_spec(block: Block, kind: str) -> InputSpec:
    """The InputSpec of a non-input pause (an embed waiting for its event, a pausing Wait)."""
    return InputSpec(block_id=block.id, kind=kind, required=False)


def _prefill(options: dict[str, Any], scope: Scope) -> str | None:
    """The current text value of the input's variable (Typebot's prefilledValue)."""
    variable_id = options.get("variableId")
    value = scope.get_by_id(variable_id) if variable_id else None
    return value if isinstance(value, str) else None


def _number_or_text(raw: Any, scope: Scope) -> float | str | None:
    """A min/max/step option: a number, or a `{{Var}}` resolved to a number when it reads as one."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    text = substitute(str(raw), scope)
    try:
        return float(text)
    except ValueError:
        return text or None


def _number_spec(spec: InputSpec, block: Block, scope: Scope) -> None:
    options = block.options
    spec.min = _number_or_text(options.get("min"), scope)
    spec.max = _number_or_text(options.get("max"), scope)
    step = _number_or_text(options.get("step"), scope)
    spec.step = step if isinstance(step, float) else None


def _text_spec(spec: InputSpec, block: Block, scope: Scope) -> None:
    spec.long = bool(block.options.get("isLong", False))


def _date_spec(spec: InputSpec, block: Block, scope: Scope) -> None:
    options = block.options
    spec.has_time = bool(options.get("hasTime", False))
    spec.is_range = bool(options.get("isRange", False))
    spec.date_format = optional_text(options.get("format")) or ("dd/MM/yyyy HH:mm" if spec.has_time else "dd/MM/yyyy")
    spec.min = substitute(optional_text(options.get("min")), scope) or None
    spec.max = substitute(optional_text(options.get("max")), scope) or None


def _time_spec(spec: InputSpec, block: Block, scope: Scope) -> None:
    spec.date_format = optional_text(block.options.get("format")) or "HH:mm"


def _visible_items(block: Block, scope: Scope) -> list[Item]:
    from tui.rules.answers import visible_items  # lazy: answer rules load when a flow needs them

    return visible_items(block, scope)


def _choice_spec(spec: InputSpec, block: Block, scope: Scope) -> None:
    options = block.options
    spec.multiple = bool(options.get("isMultipleChoice", False))
    spec.button = substitute(optional_text(options.get("buttonLabel")) or "Send", scope)
    spec.placeholder = (
        substitute(optional_text(options.get("searchInputPlaceholder")) or "Filter the options...", scope)
        if options.get("isSearchable")
        else ""
    )
    spec.choices = [
        Choice(id=item.id, label=str(item.data.get("content") or "")) for item in _visible_items(block, scope)
    ]


def _picture_spec(spec: InputSpec, block: Block, scope: Scope) -> None:
    _choice_spec(spec, block, scope)
    spec.choices = [
        Choice(
            id=item.id,
            label=optional_text(item.data.get("title")) or optional_text(item.data.get("pictureSrc")) or "",
            description=optional_text(item.data.get("description")),
            picture=optional_text(item.data.get("pictureSrc")),
        )
        for item in _visible_items(block, scope)
    ]


def _whole_number(value: Any, default: int) -> int:
    """A rating bound: `value || default` as JS `Number` reads it, its whole part; a value that
    is no finite number (an object, "abc", "{{X}}") takes the default instead of raising."""
    if not value:
        return default
    number = js_to_number(value)
    return int(number) if math.isfinite(number) else default


def _labels(options: dict[str, Any]) -> dict[str, Any]:
    """An input's `labels` object; anything else counts as none."""
    labels = options.get("labels")
    return labels if isinstance(labels, dict) else {}


def _rating_spec(spec: InputSpec, block: Block, scope: Scope) -> None:
    options = block.options
    labels = _labels(options)
    is_numbers = (options.get("buttonType") or "Numbers") == "Numbers"
    spec.rating_from = _whole_number(options.get("startsAt"), 0) if is_numbers else 1
    spec.rating_to = _whole_number(options.get("length"), 10)
    left, right = optional_text(labels.get("left")), optional_text(labels.get("right"))
    spec.rating_left = substitute(left, scope) if left else None
    spec.rating_right = substitute(right, scope) if right else None


def _file_spec(spec: InputSpec, block: Block, scope: Scope) -> None:
    options = block.options
    labels = _labels(options)
    spec.required = bool(options.get("isRequired", True))
    spec.multiple = bool(options.get("isMultipleAllowed", False))
    spec.button = substitute(optional_text(labels.get("button")) or "Upload", scope)


def _cards_spec(spec: InputSpec, block: Block, scope: Scope) -> None:
    spec.choices = [
        Choice(
            id=item.id,
            label=optional_text(item.data.get("title")) or "",
            description=optional_text(item.data.get("description")),
            picture=optional_text(item.data.get("imageUrl")),
        )
        for item in _visible_items(block, scope)
    ]


_SPEC_BUILDERS = {
    "text input": _text_spec,
    "number input": _number_spec,
    "date input": _date_spec,
    "time input": _time_spec,
    "choice input": _choice_spec,
    "picture choice input": _picture_spec,
    "rating input": _rating_spec,
    "file input": _file_spec,
    "cards": _cards_spec,
}


# ---------------------------------------------------------------------------------------------
# Set variable: the non-code value types
# ---------------------------------------------------------------------------------------------


def make_id(rng: random.Random) -> str:
    """A cuid2-looking id (24 chars, starts with a letter) from a seeded source."""
    return rng.choice(string.ascii_lowercase) + "".join(rng.choice(_ID_ALPHABET) for _ in range(23))


def result_id(seed: int) -> str:
    """The session's result id: stable for a session (User ID and Result ID share it)."""
    return make_id(random.Random(f"{seed}:result-id"))


def js_iso(moment: datetime) -> str:
    """`Date.prototype.toISOString()`: UTC, milliseconds, `Z`."""
    utc = _utc(moment)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_in_zone(moment: datetime, zone: str) -> str:
    """date-fns-tz `yyyy-MM-dd'T'HH:mm:ssXXX` in a time zone; plain UTC ISO if the zone is unknown."""
    try:
        from zoneinfo import ZoneInfo

        local = _utc(moment).astimezone(ZoneInfo(zone))
    except Exception:  # unknown zone name or no tz database: keep UTC
        return js_iso(moment)
    offset = local.strftime("%z")
    suffix = "Z" if offset in ("+0000", "-0000") else f"{offset[:3]}:{offset[3:]}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + suffix


def dated_value(kind: str, now: datetime, zone: str) -> str:
    """Now / Today / Yesterday / Tomorrow as Typebot writes them (Today ignores the zone)."""
    shift = {"Yesterday": -1, "Tomorrow": 1}.get(kind, 0)
    moment = now + timedelta(days=shift)
    if kind == "Today" or not zone.strip():
        return js_iso(moment)
    return iso_in_zone(moment, zone)


def moment_of_day(now: datetime) -> str:
    """Typebot's client script: < 12 morning, < 18 afternoon, else evening (its `night`
    branch is unreachable, so it is never returned)."""
    if now.hour < 12:
        return "morning"
    if now.hour < 18:
        return "afternoon"
    return "evening"


def append_value(current: VariableValue, item: str) -> list[str | None]:
    """Append value(s): `[item]` when unset, `[old, item]` for a scalar, else list + item."""
    if current is None:
        return [item]
    if not isinstance(current, list):
        return [current, item]
    return [*current, item]


def popped(current: VariableValue, kind: str) -> tuple[Any, Any]:
    """(new list value, removed item) for Pop/Shift; scalars stay and give their last/first
    character as the item, like JS `.at()` on a string."""
    if current is None:
        return None, None
    if not isinstance(current, list):
        item = (current[-1] if kind == "Pop" else current[0]) if current else None
        return current, item
    if not current:
        return [], None
    if kind == "Pop":
        return current[:-1], current[-1]
    return current[1:], current[0]


def map_item_value(options: dict[str, Any], scope: Scope) -> VariableValue:
    """Map item with same index: the target list's item at the base item's index, else None."""
    params = options.get("mapListItemParams")
    if not isinstance(params, dict):
        return None
    base_list = scope.get_by_id(params.get("baseListVariableId") or "")
    base_item = scope.get_by_id(params.get("baseItemVariableId") or "")
    target = scope.get_by_id(params.get("targetListVariableId") or "")
    if not isinstance(base_list, list) or not isinstance(base_item, str) or not base_item:
        return None
    if base_item not in base_list or not isinstance(target, list):
        return None
    index = base_list.index(base_item)
    return target[index] if index < len(target) and target[index] else None


def json_or_text(text: str) -> Any:
    """JSON.parse when the text is JSON, else the text (Typebot's safeJsonParse)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def group_ref(raw: str, flow: Flow, scope: Scope) -> str | None:
    """A Jump/link `groupId`: a `{{Var}}` or a variable id names a group by title, else an id.
    Returns the group's id, or None when nothing matches."""
    title: Any = None
    if is_single_variable(raw):
        title = substitute(raw, scope)
    elif scope.variable_by_id(raw) is not None:
        title = scope.get_by_id(raw)
    if title:
        group = flow.group_by_title(str(title))
        return group.id if group else None
    group = flow.group(raw)
    return group.id if group else None


def uses_transcript(flow: Flow) -> bool:
    """Whether this flow or a linked one has a Transcript Set variable (then we record it)."""
    flows = [flow, *flow.linked.values()]
    return any(
        block.type == "Set variable" and (block.options or {}).get("type") == "Transcript"
        for f in flows
        for group in f.groups
        for block in group.blocks
    )


@functools.cache
def _evaluate_expression() -> Callable[..., VariableValue]:
    """`evaluate_expression`, imported on first use (a start often sets nothing) and kept: an
    import statement per Set variable block cost about a microsecond."""
    from tui.rules.expressions import evaluate_expression

    return evaluate_expression


def set_variable_value(
    kind: str,
    options: dict[str, Any],
    scope: Scope,
    *,
    now: datetime,
    seed: int,
    transcript: list[dict[str, str]],
    next_counter: Callable[[], int],
    note: Callable[[str], None] = lambda _text: None,
) -> Any:
    """The value a Set variable block computes for its type (None clears the variable).

    Pop/Shift are handled by the engine (they also write a second variable). WhatsApp-only
    types (Phone number, Contact name, Referral ids) have no value here, as on the web.
    """
    if kind in ("Now", "Today", "Yesterday", "Tomorrow"):
        return dated_value(kind, now, substitute(optional_text(options.get("timeZone")), scope))
    if kind == "Custom":
        expression = optional_text(options.get("expressionToEvaluate"))
        on_client = bool(options.get("isExecutedOnClient"))
        if not expression:
            return None

        def client_failed(error: str) -> None:
            # A browser has `window`, `location`...; a terminal does not: say so (typebot-format §11).
            variable = scope.variable_by_id(options["variableId"])
            name = variable.name if variable else options["variableId"]
            note(f"client script failed (Set variable {name}): {error}; its text is stored")

        return _evaluate_expression()(
            expression, scope, on_client=on_client, on_error=client_failed if on_client else None
        )
    if kind == "Append value(s)":
        item = substitute(optional_text(options.get("item")), scope)
        return append_value(scope.get_by_id(options["variableId"]), item)
    if kind in ("User ID", "Result ID"):
        return result_id(seed)
    if kind == "Random ID":
        return make_id(random.Random(f"{seed}:{next_counter()}"))
    if kind == "Map item with same index":
        return map_item_value(options, scope)
    if kind == "Transcript":
        return format_transcript(transcript)
    constants = {"Environment name": "web", "Device type": "desktop"}
    if kind == "Moment of the day":
        return moment_of_day(now)
    return constants.get(kind)
