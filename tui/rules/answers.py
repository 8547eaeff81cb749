"""Answer validation: Typebot's `validateAndParseInputMessage` for every input type.

`validate_answer` returns `Success` (with the *content* to save and show, which may differ
from the typed text), `Skip` (an optional file input left empty) or `Fail` (with the retry
message Typebot would send before re-asking). Reference: section 8 of typebot-format.md.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from msgspec.structs import replace

from tui.flow.jsvalues import (
    js_json_stringify,
    js_number,
    js_number_to_string,
    js_parse_float,
    js_trim,
    optional_text,
)
from tui.flow.model import Block, Item, VariableValue
from tui.rules._dates import format_tr35, parse_bound, parse_reply_date
from tui.rules.conditions import evaluate_condition
from tui.rules.templates import substitute
from tui.rules.variables import Scope, find_unique_variable

EMAIL_RETRY_MESSAGE = "This email doesn't seem to be valid. Can you type it again?"
PAYMENT_RETRY_MESSAGE = "Payment failed. Please, try again."
DEFAULT_INVALID_MESSAGE = "Invalid message. Please, try again."
DEFAULT_DATE_FORMAT = "dd/MM/yyyy"
DEFAULT_DATE_TIME_FORMAT = "dd/MM/yyyy HH:mm"
DEFAULT_TIME_FORMAT = "HH:mm"

_EMAIL = re.compile(
    r'(([^<>()\[\]\\.,;:\s@"]+(\.[^<>()\[\]\\.,;:\s@"]+)*)|(".+"))@'
    r"((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))"
)


@dataclass(frozen=True)
class Fail:
    """The reply is refused; the bot says `retry_message` and asks the same input again."""

    retry_message: str


@dataclass(frozen=True)
class Skip:
    """The input is skipped (an optional file input answered with nothing)."""


@dataclass(frozen=True)
class Success:
    """The reply is accepted. `content` is what gets saved into the input's variable and shown;
    `outgoing_edge_id` is an item/path edge that overrides the block's own edge;
    `variables_to_update` (by variable id, stored form) are extra writes such as cards mappings."""

    content: str
    outgoing_edge_id: str | None = None
    variables_to_update: dict[str, VariableValue] = field(default_factory=dict)


AnswerResult = Fail | Skip | Success


def validate_answer(
    block: Block, text: str, scope: Scope, *, now: datetime, default_invalid_message: str = DEFAULT_INVALID_MESSAGE
) -> AnswerResult:
    """Validate and normalise a typed reply to an input block, Typebot's way."""
    parser = _PARSERS.get(block.type, _parse_text)
    result = parser(block, text, scope, now)
    if result is None:
        return Fail(retry_message(block, scope, default_invalid_message))
    return result


def retry_message(block: Block, scope: Scope, default_invalid_message: str = DEFAULT_INVALID_MESSAGE) -> str:
    """The text Typebot sends on a refused reply (parseRetryMessage)."""
    custom = block.options.get("retryMessageContent")
    if isinstance(custom, str) and custom:
        return substitute(custom, scope)
    if block.type == "email input":
        return EMAIL_RETRY_MESSAGE
    if block.type == "payment input":
        return PAYMENT_RETRY_MESSAGE
    # parseDefaultRetryMessage: the flow's invalidMessage is variable-substituted too.
    return substitute(default_invalid_message, scope) if default_invalid_message else DEFAULT_INVALID_MESSAGE


# --- simple inputs -----------------------------------------------------------------------


def _parse_text(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    return Success(text)


def _parse_email(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    return Success(text.lower()) if _EMAIL.fullmatch(text) else None


def _parse_url(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    """The web client prefixes https:// when the text does not start with "http"."""
    from tui.rules._isurl import is_url  # lazy: its patterns take ~20 ms to compile at import

    url = text if text.startswith("http") else f"https://{text}"
    return Success(url) if is_url(url, require_protocol=False) else None


def _parse_phone(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    import phonenumbers

    code = block.options.get("defaultCountryCode")
    region = code if isinstance(code, str) and code in phonenumbers.SUPPORTED_REGIONS else None
    for match in phonenumbers.PhoneNumberMatcher(text, region):
        return Success(phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))
    return None


def _safe_parse_float(value: Any) -> float | None:
    """Typebot's safeParseFloat: numbers pass, "" and NaN give None, "," reads as "."."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not value:
        return None
    number = js_parse_float(str(value).replace(",", ".", 1))
    return None if number != number else number


def _bound(raw: Any, scope: Scope) -> float | None:
    """A number input's min/max: variable-substituted, then safeParseFloat."""
    if raw is None:
        return None
    text = js_number_to_string(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else str(raw)
    return _safe_parse_float(substitute(text, scope))


def _parse_number(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    number = _safe_parse_float(text)
    if number is None:
        return None
    low, high = _bound(block.options.get("min"), scope), _bound(block.options.get("max"), scope)
    if low and number < low:
        return None
    if high and number > high:
        return None
    return Success(text if text.startswith("0") else js_number_to_string(number))


def _parse_rating(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    length = block.options.get("length") or 10
    try:
        limit = float(length)
    except (TypeError, ValueError):
        limit = js_number(str(length))
    return Success(text) if js_number(text) <= limit else None


def _parse_payment(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    return None if text == "fail" else Success(text)


# --- file ------------------------------------------------------------------------------------

_IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "ico", "tif", "tiff", "heic", "avif"}


def _parse_file(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    """Typed URLs stand for uploaded files; "" or "skip" means no file."""
    if js_trim(text) == "" or js_trim(text).lower() == "skip":
        return None if block.options.get("isRequired", True) is not False else Skip()
    from tui.rules._isurl import is_url  # lazy, as in _parse_url

    urls = [u.strip() for u in re.split(r",\s*|\n+", text) if u.strip()]
    if not urls or not any(is_url(u, require_tld=not _is_localhost(u)) for u in urls):
        return None
    if not _extensions_allowed(block.options.get("allowedFileTypes"), urls):
        return None
    if not block.options.get("isMultipleAllowed") and len(urls) > 1:
        return Success(urls[0])
    return Success(", ".join(urls))


def _is_localhost(url: str) -> bool:
    match = re.match(r"[a-z]+://([^/:?#]+)", url, re.IGNORECASE)
    return match is not None and match.group(1).lower() == "localhost"


def _extensions_allowed(config: Any, urls: list[str]) -> bool:
    types = config.get("types") if isinstance(config, dict) and config.get("isEnabled") else None
    if not types or not isinstance(types, list):  # no list of types: no restriction
        return True
    allowed = {_extension_of_type(t) for t in types if isinstance(t, str)}
    for url in urls:
        extension = url.rsplit(".", 1)[-1].lower() if "." in url else ""
        if not extension:
            return False
        if extension not in allowed and not ("image/*" in allowed and extension in _IMAGE_EXTENSIONS):
            return False
    return True


def _extension_of_type(file_type: str) -> str:
    """ ".pdf" -> "pdf", "image/png" -> "png"; wildcard mime types are kept as is."""
    file_type = file_type.strip().lower()
    if file_type.endswith("/*"):
        return file_type
    if "/" in file_type:
        subtype = file_type.split("/", 1)[1]
        return {"jpeg": "jpg", "svg+xml": "svg", "plain": "txt"}.get(subtype, subtype)
    return file_type.lstrip(".")


# --- date and time -----------------------------------------------------------------------


def _parse_date(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    options = block.options
    # a format that is not text takes the default, as the input's spec does (engine_blocks)
    written = optional_text(options.get("format"))
    pattern = written or (DEFAULT_DATE_TIME_FORMAT if options.get("hasTime") else DEFAULT_DATE_FORMAT)
    day_first = (written or DEFAULT_DATE_FORMAT).startswith("dd")
    start, end = _parse_date_range(text, _separator(options), now=now, day_first=day_first)
    if start is None or (options.get("isRange") and end is None):
        return None
    if not _within_bounds(options, scope, start, end):
        return None
    content = format_tr35(start, pattern)
    if options.get("isRange"):
        # parseDateReply writes "<start> to <end>" whatever the separator label says.
        content = f"{content} to {format_tr35(end, pattern)}"  # type: ignore[arg-type]
    return Success(content)


def _separator(options: dict[str, Any]) -> str:
    labels = options.get("labels")
    label = labels.get("separator") if isinstance(labels, dict) else None
    return label if isinstance(label, str) and label else "to"


# chrono-node's English range words (ENMergeDateRangeRefiner), plus the input's own label.
_RANGE_WORDS = ("to", "-", "–", "until", "through", "till")


def _parse_date_range(
    text: str, separator: str, *, now: datetime, day_first: bool
) -> tuple[datetime | None, datetime | None]:
    """A start date and, when the reply is "<start> <sep> <end>", an end date."""
    for sep in dict.fromkeys([*_RANGE_WORDS, separator]):
        pieces = re.split(rf"\s+{re.escape(sep)}\s+", text.strip(), maxsplit=1, flags=re.IGNORECASE)
        if len(pieces) == 2:
            start = parse_reply_date(pieces[0], now=now, day_first=day_first)
            end = parse_reply_date(pieces[1], now=now, day_first=day_first)
            if start is not None and end is not None:
                return start, end
    return parse_reply_date(text, now=now, day_first=day_first), None


def _within_bounds(options: dict[str, Any], scope: Scope, start: datetime, end: datetime | None) -> bool:
    """min/max (variable-substituted) checked against start and end (parseLimitToUtcMs: a
    bound without a time covers its whole day, unless the input has a time and the bound too)."""
    has_time = bool(options.get("hasTime"))
    highest, lowest = optional_text(options.get("max")), optional_text(options.get("min"))
    high = parse_bound(substitute(highest, scope), is_max=True, has_time=has_time) if highest else None
    low = parse_bound(substitute(lowest, scope), is_max=False, has_time=has_time) if lowest else None
    if high is not None and (start > high or (end is not None and end > high)):
        return False
    if low is not None and (start < low or (end is not None and end < low)):
        return False
    return True


def _parse_time(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    moment = parse_reply_date(text, now=now, day_first=False, need_date=False)
    if moment is None:
        return None
    pattern = block.options.get("format")
    return Success(format_tr35(moment, pattern if isinstance(pattern, str) else DEFAULT_TIME_FORMAT))


# --- choices ---------------------------------------------------------------------------------


def visible_items(block: Block, scope: Scope) -> list[Item]:
    """The items an input shows: displayCondition-filtered, variable-substituted, or built
    from list variables (choice `dynamicVariableId`, picture choice `dynamicItems`, cards
    whose single item names list variables)."""
    if block.type == "choice input":
        dynamic = _dynamic_choice_items(block, scope)
    elif block.type == "picture choice input":
        dynamic = _dynamic_picture_items(block, scope)
    elif block.type == "cards":
        dynamic = _dynamic_cards(block, scope)
    else:
        dynamic = None
    if dynamic is not None:
        return dynamic
    shown = [item for item in block.items if _is_displayed(item, block.type, scope)]
    return [replace(item, data=_deep_substitute(item.data, scope)) for item in shown]


def _is_displayed(item: Item, block_type: str, scope: Scope) -> bool:
    holder = item.data.get("options") if block_type == "cards" else item.data
    display = holder.get("displayCondition") if isinstance(holder, dict) else None
    if isinstance(display, dict) and display.get("isEnabled") and display.get("condition"):
        return evaluate_condition(display["condition"], scope)
    return True


def _deep_substitute(value: Any, scope: Scope) -> Any:
    """Typebot's deepParseVariables: substitute every string inside dicts and lists."""
    if isinstance(value, str):
        return substitute(value, scope)
    if isinstance(value, dict):
        return {key: _deep_substitute(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_substitute(item, scope) for item in value]
    return value


def _as_list(value: VariableValue) -> list[str | None] | None:
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


def _list_value(value: VariableValue) -> list[str | None] | None:
    """transformVariablesToList: a list stays, a text holding a JSON array becomes that array
    (elements as stored text), any other text a one-element list."""
    if value is None or isinstance(value, list):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return [value]
    if isinstance(parsed, list):
        return [safe_stringify_item(item) for item in parsed]
    return [value]


def safe_stringify_item(item: Any) -> str | None:
    if item is None or isinstance(item, str):
        return item
    return js_json_stringify(item)


def _dynamic_choice_items(block: Block, scope: Scope) -> list[Item] | None:
    variable_id = block.options.get("dynamicVariableId")
    if not variable_id:
        return None
    values = _list_value(scope.get_by_id(variable_id))
    if values is None:
        return list(block.items)  # Typebot returns the block untouched
    unique = list(dict.fromkeys(v for v in values if v not in (None, "")))
    return [Item(id=f"choice{i}", data={"content": v}) for i, v in enumerate(unique)]


def _dynamic_picture_items(block: Block, scope: Scope) -> list[Item] | None:
    dynamic = block.options.get("dynamicItems")
    if not isinstance(dynamic, dict) or not dynamic.get("isEnabled") or not dynamic.get("pictureSrcsVariableId"):
        return None
    sources = _as_list(scope.get_by_id(dynamic["pictureSrcsVariableId"]))
    if sources is None:
        return [replace(item, data=_deep_substitute(item.data, scope)) for item in block.items]
    titles = _as_list(scope.get_by_id(dynamic.get("titlesVariableId") or "")) or []
    descriptions = _as_list(scope.get_by_id(dynamic.get("descriptionsVariableId") or "")) or []
    items = []
    for index, source in enumerate(s for s in sources if s is not None):
        title = titles[index] if index < len(titles) and titles[index] is not None else ""
        description = descriptions[index] if index < len(descriptions) and descriptions[index] is not None else ""
        items.append(Item(id=str(index), data={"pictureSrc": source, "title": title, "description": description}))
    return items


def _dynamic_cards(block: Block, scope: Scope) -> list[Item] | None:
    """A single card whose image/title/description is exactly a list variable becomes one
    card per list element (Typebot's injectVariableValuesInCardsBlock)."""
    if len(block.items) != 1:
        return None
    item = block.items[0]
    lists: dict[str, Any] = {}
    texts = {key: _str_or_none(item.data.get(key)) for key in ("imageUrl", "title", "description")}
    for key, text in texts.items():
        variable = find_unique_variable(text, scope)
        lists[key] = scope.get_by_id(variable.id) if variable else None
    driver = next((k for k in ("title", "imageUrl", "description") if isinstance(lists[k], list)), None)
    if driver is None:
        return None
    cards = []
    for index in range(len(lists[driver])):
        data = dict(item.data)
        for key, value in lists.items():
            if isinstance(value, list):
                data[key] = value[index] if index < len(value) else None
            elif key in lists and find_unique_variable(texts[key], scope):
                data[key] = value
        cards.append(replace(item, data=_deep_substitute(data, scope)))
    return cards


def _str_or_none(value: Any) -> str | None:
    """A card field that only names a list variable when it is text (`{{X}}`); a number, list
    or object in a hand-edited export names none (and must not reach `str.startswith`)."""
    return value if isinstance(value, str) else None


def _label(item: Item) -> str | None:
    """What a choice shows: `content` for buttons, `title || pictureSrc` for pictures."""
    data = item.data
    if "content" in data or ("title" not in data and "pictureSrc" not in data):
        content = data.get("content")
        return content if isinstance(content, str) else None
    return optional_text(data.get("title")) or optional_text(data.get("pictureSrc"))


def _value(item: Item) -> str | None:
    value = item.data.get("value")
    return value if isinstance(value, str) else None


def _longest_first(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda item: -len(_label(item) or ""))


def _parse_choice(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    items = visible_items(block, scope)
    if block.options.get("isMultipleChoice"):
        return _parse_multiple_choice(text, items)
    return _parse_single_choice(text, items)


def _parse_single_choice(text: str, items: list[Item]) -> AnswerResult | None:
    """Item id (exact), then value or label (trimmed, exact, case-sensitive); longest first."""
    reply = js_trim(text)
    for item in _longest_first(items):
        value, label = _value(item), _label(item)
        if item.id == text or (value and reply == js_trim(value)) or (label and reply == js_trim(label)):
            return Success(value or label or "", item.outgoing_edge_id)
    return None


def _parse_multiple_choice(text: str, items: list[Item]) -> AnswerResult | None:
    """Whole-phrase, case-insensitive matching of ids, then values, then labels, then 1-based
    indexes; each match is cut out of the reply (first exact occurrence) before the next."""
    remaining = text
    candidates = _longest_first(items)
    matched: list[str] = []
    for key in ("id", "value", "label"):
        for item in [i for i in candidates if i.id not in matched]:
            phrase = item.id if key == "id" else (_value(item) if key == "value" else _label(item))
            if phrase and _includes_whole_phrase(remaining, phrase):
                remaining = js_trim(remaining.replace(phrase, "", 1))
                matched.append(item.id)
                if key == "label":
                    candidates.remove(item)
    for index, item in enumerate(items):
        number = str(index + 1)
        if _includes_whole_phrase(remaining, number) and any(c.id == item.id for c in candidates):
            remaining = js_trim(remaining.replace(number, "", 1))
            matched.append(item.id)
            candidates = [c for c in candidates if c.id != item.id]
    if not matched:
        return None
    chosen = [item for item in items if item.id in matched]
    return Success(", ".join(js_trim(_multi_content(item)) for item in chosen))


def _multi_content(item: Item) -> str:
    """`value ?? content`: an empty-string value still wins over the label."""
    value = item.data.get("value")
    return value if isinstance(value, str) else (_label(item) or "")


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LNM"


def _includes_whole_phrase(text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in `text` as whole words (Unicode letters/numbers/marks)."""
    words = phrase.split()
    if not text or not words:
        return False
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
    for start in range(len(text)):
        if start > 0 and _is_word_char(text[start - 1]):
            continue
        match = pattern.match(text, start)
        if match and (match.end() == len(text) or not _is_word_char(text[match.end()])):
            return True
    return False


# --- cards -----------------------------------------------------------------------------------

_CARD_FIELDS = {"Image URL": "imageUrl", "Title": "title", "Description": "description"}


def _parse_cards(block: Block, text: str, scope: Scope, now: datetime) -> AnswerResult | None:
    """A path id or a card title (case-insensitive); as a terminal convenience, a button text
    Typebot would refuse is accepted last. A title match takes the card's first path."""
    items = visible_items(block, scope)
    item, path = _match_card(items, text)
    if item is None:
        return None
    content = optional_text(item.data.get("title")) or optional_text(item.data.get("imageUrl"))
    if not content:
        return None
    updates = _card_variable_updates(block, scope, item, path)
    edge = path.get("outgoingEdgeId") if isinstance(path, dict) else None
    return Success(content, edge, updates)


def _paths(item: Item) -> list[dict[str, Any]]:
    paths = item.data.get("paths")
    return [p for p in paths if isinstance(p, dict)] if isinstance(paths, list) else []


def _match_card(items: list[Item], text: str) -> tuple[Item | None, dict[str, Any] | None]:
    ordered = sorted(items, key=lambda i: -len(str(i.data.get("title") or "")))
    reply = js_trim(text.lower())
    for item in ordered:
        path = next((p for p in _paths(item) if p.get("id") == text), None)
        if path is not None:
            return item, path
        title = item.data.get("title")
        if isinstance(title, str) and js_trim(title.lower()) == reply:
            return item, next(iter(_paths(item)), None)
    for item in ordered:
        path = next((p for p in _paths(item) if js_trim(str(p.get("text") or "").lower()) == reply), None)
        if path is not None:
            return item, path
    return None, None


def _card_variable_updates(
    block: Block, scope: Scope, item: Item, path: dict[str, Any] | None
) -> dict[str, VariableValue]:
    updates: dict[str, VariableValue] = {}
    mappings = block.options.get("saveResponseMapping")
    for mapping in mappings if isinstance(mappings, list) else []:
        if not isinstance(mapping, dict):
            continue
        variable_id, kind = mapping.get("variableId"), mapping.get("field")
        if not variable_id or not isinstance(kind, str) or not kind or not scope.has_id(variable_id):
            continue
        value: Any = None
        if kind in _CARD_FIELDS:
            value = item.data.get(_CARD_FIELDS[kind])
        elif kind == "Button":
            value = path.get("text") if path else None
        elif kind == "Internal Value":
            options = item.data.get("options")
            value = options.get("internalValue") if isinstance(options, dict) else None
        updates[variable_id] = value if isinstance(value, str) and value else None
    return updates


_PARSERS = {
    "text input": _parse_text,
    "email input": _parse_email,
    "url input": _parse_url,
    "phone number input": _parse_phone,
    "number input": _parse_number,
    "date input": _parse_date,
    "time input": _parse_time,
    "choice input": _parse_choice,
    "picture choice input": _parse_choice,
    "rating input": _parse_rating,
    "file input": _parse_file,
    "payment input": _parse_payment,
    "cards": _parse_cards,
}
