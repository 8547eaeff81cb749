"""Typebot conditions (`packages/conditions/src/executeCondition.ts`), quirks included.

A Condition is `{logicalOperator?, comparisons?: [{variableId, comparisonOperator, value}]}`.
The left side is the variable's raw stored value (text, list or None); the right side is
`null` for "undefined"/"null", a variable's raw value for exactly `{{X}}`, else substituted text.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tui.flow.jsvalues import js_number, js_trim
from tui.rules.templates import substitute
from tui.rules.variables import Scope, find_unique_variable

Side = str | list[str | None] | None
StrCompare = Callable[[str | None, str | None], bool]


def evaluate_condition(condition: Any, scope: Scope) -> bool:
    """True when the condition holds; no comparisons at all is False. AND is the default.

    A condition that is not an object, or `comparisons` that is not a list, counts as no
    comparisons; a comparison that is not an object is false (a hand-edited export)."""
    if not isinstance(condition, dict):
        return False
    comparisons = condition.get("comparisons")
    if not comparisons or not isinstance(comparisons, list):
        return False
    results = (_evaluate_comparison(c, scope) if isinstance(c, dict) else False for c in comparisons)
    if condition.get("logicalOperator", "AND") == "OR":
        return any(results)
    return all(results)


def _right_side(raw: Any, scope: Scope) -> Side:
    """Resolve the comparison value the way Typebot does (a missing value reads as "")."""
    if raw in ("undefined", "null"):
        return None
    text = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
    variable = find_unique_variable(text, scope)
    if variable is not None:
        value = scope.get_by_id(variable.id)
        if value is not None:
            return value
    return substitute(text, scope)


def _evaluate_comparison(comparison: dict[str, Any], scope: Scope) -> bool:
    variable_id = comparison.get("variableId")
    if not variable_id and not isinstance(variable_id, (dict, list)):  # JS `!variableId`
        return False
    # Typebot looks the id up with `===`: an id that is not text (an object, a list) names no
    # variable, so the left side is null, as for an unknown id.
    left: Side = scope.get_by_id(variable_id) if isinstance(variable_id, str) else None
    right = _right_side(comparison.get("value"), scope)
    operator = comparison.get("comparisonOperator")
    handler = _OPERATORS.get(operator) if isinstance(operator, str) else None
    return handler(left, right) if handler else False


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _prep(text: str) -> str:
    """Lower-case, trim, normalise: the preparation of the text operators."""
    return _nfc(js_trim(text.lower()))


def _compare(fn: StrCompare, a: Side, b: Side, mode: str = "every") -> bool:
    """Typebot's `compare`: pairs up scalars and list elements with every/some."""
    pick = all if mode == "every" else any
    if a is None or isinstance(a, str):  # JS `!a`: an empty list is truthy there
        if b is None or isinstance(b, str):
            return fn(a, b)
        return pick(fn(a, item) for item in b)
    if b is None or isinstance(b, str):
        return pick(fn(item, b) for item in a)
    if mode == "every":
        return all(all(fn(x, y) for y in b) for x in a)
    return any(any(fn(x, y) for y in b) for x in a)


def _equal(a: str | None, b: str | None) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return _nfc(a) == _nfc(b)
    return a == b


def _not_equal(a: str | None, b: str | None) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return _nfc(a) != _nfc(b)
    return a != b


def _list_equal(a: str | None, b: str | None) -> bool:
    """Element equality for `Contains` on a list; Typebot returns a !== b for non-strings."""
    if isinstance(a, str) and isinstance(b, str):
        return _nfc(a) == _nfc(b)
    return a != b


def _contains(a: str | None, b: str | None) -> bool:
    if not b or not a:
        return False
    return _prep(b) in _prep(a)


def _not_contains(a: str | None, b: str | None) -> bool:
    if not b or not a:
        return True
    return _prep(b) not in _prep(a)


def _starts_with(a: str | None, b: str | None) -> bool:
    if not b or not a:
        return False
    return _prep(a).startswith(_prep(b))


def _ends_with(a: str | None, b: str | None) -> bool:
    if not b or not a:
        return False
    return _prep(a).endswith(_prep(b))


def _matches(a: str | None, b: str | None) -> bool:
    if not b or not a:
        return False
    tester = compile_js_regex(b)
    return bool(tester and tester(a))


def _not_matches(a: str | None, b: str | None) -> bool:
    if not b or not a:
        return False
    tester = compile_js_regex(b)
    return not (tester and tester(a))


def _op_contains(a: Side, b: Side) -> bool:
    if isinstance(a, list):
        return _compare(_list_equal, a, b, "some")
    return _compare(_contains, a, b, "some")


def _op_not_contains(a: Side, b: Side) -> bool:
    if isinstance(a, list):
        return _compare(_not_equal, a, b)
    return _compare(_not_contains, a, b)


def _ordering(check: Callable[[float, float], bool]) -> Callable[[Side, Side], bool]:
    """Greater/Less family: numbers, then Date.parse, then text length; lists by length."""

    def operator(a: Side, b: Side) -> bool:
        if a is None or b is None:
            return False
        if isinstance(a, str):
            if isinstance(b, str):
                return check(_number_date_or_length(a), _number_date_or_length(b))
            return check(js_number(a), float(len(b)))
        if isinstance(b, str):
            return check(float(len(a)), js_number(b))
        return check(float(len(a)), float(len(b)))

    return operator


def _is_set(a: Side, _b: Side) -> bool:
    return a is not None and len(a) > 0


def _is_empty(a: Side, _b: Side) -> bool:
    return a is None or len(a) == 0


_OPERATORS: dict[str, Callable[[Side, Side], bool]] = {
    "Equal to": lambda a, b: _compare(_equal, a, b),
    "Not equal": lambda a, b: _compare(_not_equal, a, b),
    "Contains": _op_contains,
    "Does not contain": _op_not_contains,
    "Greater than": _ordering(lambda x, y: x > y),
    "Greater or equal to": _ordering(lambda x, y: x >= y),
    "Less than": _ordering(lambda x, y: x < y),
    "Less or equal to": _ordering(lambda x, y: x <= y),
    "Is set": _is_set,
    "Is empty": _is_empty,
    "Starts with": lambda a, b: _compare(_starts_with, a, b),
    "Ends with": lambda a, b: _compare(_ends_with, a, b),
    "Matches regex": lambda a, b: _compare(_matches, a, b, "some"),
    "Does not match regex": lambda a, b: _compare(_not_matches, a, b),
}


def _number_date_or_length(text: str) -> float:
    """Typebot's parseDateOrNumberOrStringLength ("+5" is deliberately not a number)."""
    number = float("nan") if text.startswith("+") else js_number(text)
    if number == number:
        return number
    time = js_date_parse(text)
    return float(len(text)) if time is None else time


# --- Date.parse --------------------------------------------------------------------------

_ISO = re.compile(
    r"(?P<y>[+-]\d{6}|\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2}))?)?"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<ms>\d{1,3})\d*)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?"
)
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTH_WORD = re.compile(r"\b(" + "|".join(_MONTHS) + r")[a-z]*\b", re.IGNORECASE)
_SLASHED = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{1,4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def js_date_parse(text: str) -> float | None:
    """A deterministic subset of V8's Date.parse in epoch milliseconds (UTC), None for NaN.

    Accepts ISO dates/date-times, `M/D/YYYY [h:mm[:ss]]` and texts naming a month
    ("Jan 5, 2024", "5 January 2024 10:00"). Times without offsets are read as UTC.
    """
    text = js_trim(text)
    iso = _ISO.fullmatch(text)
    if iso:
        return _iso_millis(iso)
    slashed = _SLASHED.fullmatch(text)
    if slashed:
        month, day, year, hour, minute, second = (int(g) if g else 0 for g in slashed.groups())
        return _millis(year, month, day, hour, minute, second)
    if _MONTH_WORD.search(text):
        return _month_text_millis(text)
    return None


def _millis(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float | None:
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    return moment.timestamp() * 1000


def _iso_millis(match: re.Match[str]) -> float | None:
    parts = match.groupdict()
    base = _millis(
        int(parts["y"]),
        int(parts["mo"] or 1),
        int(parts["d"] or 1),
        int(parts["h"] or 0),
        int(parts["mi"] or 0),
        int(parts["s"] or 0),
    )
    if base is None:
        return None
    base += int((parts["ms"] or "0").ljust(3, "0"))
    tz = parts["tz"]
    if tz and tz != "Z":
        offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])).total_seconds() * 1000
        base -= offset if tz[0] == "+" else -offset
    return base


def _month_text_millis(text: str) -> float | None:
    from dateutil import parser as date_parser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            moment: datetime = date_parser.parse(text, default=datetime(2001, 1, 1))
        except (ValueError, OverflowError):
            return None
    if moment.tzinfo is not None:
        return moment.timestamp() * 1000
    return moment.replace(tzinfo=UTC).timestamp() * 1000


# --- JS regular expressions --------------------------------------------------------------

_REGEX_WITH_FLAGS = re.compile(r"/(.+)/([gimuy]*)\Z")


REGEX_TIMEOUT_S = 0.1
"""A flow's regex gets this long per match. Patterns like `/^(a+)+$/` backtrack exponentially on
a few dozen characters; a match that runs out of time counts as a pattern that cannot be used
(as an invalid one does): `Matches regex` is false, `Does not match regex` is true. A pattern
and text that timed out are remembered, so a loop that tests them again costs nothing more."""

_TIMED_OUT: dict[tuple[str, str], None] = {}
_TIMED_OUT_KEPT = 64


def compile_js_regex(source: str) -> Callable[[str], bool | None] | None:
    """A tester for `pattern` or `/pattern/flags` as Typebot builds it; None if invalid.

    JS flags: i -> IGNORECASE, m -> MULTILINE, y -> anchored at the start; g and u change
    nothing for a one-off `test`. The pattern is translated for Python regex syntax and run by
    the `regex` package, whose matches take a timeout (REGEX_TIMEOUT_S): a tester returns
    None when its match ran out of time.
    """
    found = _REGEX_WITH_FLAGS.search(source)
    pattern, flags = (found.group(1), found.group(2)) if found else (source, "")
    if not pattern:
        return None
    import regex  # lazy: the package takes ~15 ms to import and only regex conditions need it

    re_flags = (regex.IGNORECASE if "i" in flags else 0) | (regex.MULTILINE if "m" in flags else 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = regex.compile(_translate_js_pattern(pattern, multiline="m" in flags), re_flags)
    except (regex.error, ValueError, OverflowError, RecursionError):
        return None
    find = compiled.match if "y" in flags else compiled.search

    def test(text: str) -> bool | None:
        if (source, text) in _TIMED_OUT:
            return None
        try:
            return find(text, timeout=REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            if len(_TIMED_OUT) >= _TIMED_OUT_KEPT:
                _TIMED_OUT.pop(next(iter(_TIMED_OUT)))
            _TIMED_OUT[(source, text)] = None
            return None

    return test


def _translate_js_pattern(pattern: str, *, multiline: bool) -> str:
    """Rewrite the JS-only bits: named groups `(?<n>`, ASCII `\\d`, end-only `$`."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "d":
                out.append("0-9" if in_class else "[0-9]")
            elif nxt == "/":
                out.append("/")
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
            out.append(ch)
        elif ch == "[":
            in_class = True
            out.append(ch)
        elif pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        elif ch == "$" and not multiline:
            out.append(r"\Z")
        else:
            out.append(ch)
        i += 1
    return "".join(out)
