"""Dates for the date and time inputs: reading a reply (≈ chrono-node) and writing it with a
Unicode TR35 pattern (≈ date-fns `format`).

chrono-node implies 12:00 for a date without a time and fills a missing year/month/day from
the reference date; we do the same with python-dateutil and the step's `now`.
"""

from __future__ import annotations

import calendar
import re
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta

_ISO_START = re.compile(r"\s*\d{4}-\d{1,2}-\d{1,2}")
_MONTH_OR_DAY = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)[a-z]*\b",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(r"\d{1,4}[/.-]\d{1,2}(?:[/.-]\d{1,4})?")
_TIME = re.compile(r"\d{1,2}:\d{2}|\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)\b", re.IGNORECASE)
_RELATIVE = {"today": 0, "tomorrow": 1, "yesterday": -1, "now": 0}


def parse_reply_date(text: str, *, now: datetime, day_first: bool, need_date: bool = True) -> datetime | None:
    """The first date (and time) a reply names, or None.

    `need_date=False` (time input) also accepts a bare time such as "3pm" or "15:30".
    """
    text = text.strip()
    if not text:
        return None
    implied_noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    relative = _relative(text, now, implied_noon)
    if relative is not None:
        return relative
    looks_dated = bool(_MONTH_OR_DAY.search(text) or _NUMERIC_DATE.search(text))
    if not looks_dated and (need_date or not _TIME.search(text)):
        return None
    from dateutil import parser as date_parser

    iso = bool(_ISO_START.match(text))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed: datetime = date_parser.parse(text, default=implied_noon, dayfirst=day_first and not iso, fuzzy=True)
        except (ValueError, OverflowError):
            return None
    return parsed.replace(tzinfo=None)


def _relative(text: str, now: datetime, noon: datetime) -> datetime | None:
    """today / tomorrow / yesterday / now, optionally followed by a time ("tomorrow 3pm")."""
    word, _, rest = text.lower().partition(" ")
    if word not in _RELATIVE:
        return None
    base = now if word == "now" else noon + timedelta(days=_RELATIVE[word])
    if not rest.strip():
        return base.replace(microsecond=0)
    timed = parse_reply_date(rest, now=base, day_first=False, need_date=False)
    if timed is None:
        return None
    return base.replace(hour=timed.hour, minute=timed.minute, second=timed.second, microsecond=0)


_BOUND_ISO = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:[T\s](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?")


def parse_bound(text: str | None, *, is_max: bool = False, has_time: bool = False) -> datetime | None:
    """A date input's min/max as Typebot's parseLimitToUtcMs reads it (naive wall-clock time).

    `yyyy-mm-dd[ hh:mm[:ss]]` first, else any date the reply parser understands. The bound's
    own time counts only when the input has a time too; otherwise a max means the end of its
    day and a min the start of it.
    """
    if not text or not text.strip():
        return None
    match = _BOUND_ISO.match(text)
    if match:
        try:
            day = datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return None
        if has_time and match.group(4) is not None:
            return day.replace(hour=int(match.group(4)), minute=int(match.group(5)), second=int(match.group(6) or 0))
        return _day_edge(day, is_max)
    parsed = parse_reply_date(text, now=datetime(2001, 1, 1), day_first=False)
    if parsed is None:
        return None
    if has_time and _TIME.search(text):
        return parsed.replace(microsecond=0)
    return _day_edge(parsed, is_max)


def _day_edge(day: datetime, is_max: bool) -> datetime:
    if is_max:
        return day.replace(hour=23, minute=59, second=59, microsecond=999000)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


# --- TR35 formatting ---------------------------------------------------------------------

_TOKEN = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|.", re.DOTALL)


def format_tr35(moment: datetime, pattern: str) -> str:
    """Format like date-fns `format` for the common TR35 fields (y M d E H h m s a ...)."""
    out: list[str] = []
    for match in _TOKEN.finditer(pattern):
        token = match.group(0)
        if token.startswith("'"):
            out.append("'" if token == "''" else token[1:-1].replace("''", "'"))
        elif token[0].isalpha():
            out.append(_field(moment, token[0], len(token)))
        else:
            out.append(token)
    return "".join(out)


def _field(m: datetime, letter: str, width: int) -> str:
    handler = _FIELDS.get(letter)
    return handler(m, width) if handler else letter * width


def _year(m: datetime, width: int) -> str:
    return f"{m.year % 100:02d}" if width == 2 else str(m.year).zfill(width)


def _month(m: datetime, width: int) -> str:
    if width >= 3:
        name = calendar.month_name[m.month]
        return {3: name[:3], 4: name}.get(width, name[0])
    return str(m.month).zfill(width)


def _weekday(m: datetime, width: int) -> str:
    name = calendar.day_name[m.weekday()]
    if width <= 3:
        return name[:3]
    return {4: name, 5: name[0]}.get(width, name[:2])


def _hour12(m: datetime, width: int) -> str:
    return str(m.hour % 12 or 12).zfill(width)


def _day_period(m: datetime, width: int) -> str:
    am = m.hour < 12
    if width <= 2:
        return "AM" if am else "PM"
    if width == 3:
        return "am" if am else "pm"
    return ("a.m." if am else "p.m.") if width == 4 else ("a" if am else "p")


def _fraction(m: datetime, width: int) -> str:
    return f"{m.microsecond:06d}"[:width].ljust(width, "0")


_FIELDS: dict[str, Callable[[datetime, int], str]] = {
    "y": _year,
    "Y": _year,
    "u": _year,
    "M": _month,
    "L": _month,
    "d": lambda m, w: str(m.day).zfill(w),
    "D": lambda m, w: str(m.timetuple().tm_yday).zfill(w),
    "E": _weekday,
    "H": lambda m, w: str(m.hour).zfill(w),
    "k": lambda m, w: str(m.hour or 24).zfill(w),
    "h": _hour12,
    "K": lambda m, w: str(m.hour % 12).zfill(w),
    "m": lambda m, w: str(m.minute).zfill(w),
    "s": lambda m, w: str(m.second).zfill(w),
    "S": _fraction,
    "a": _day_period,
    "Q": lambda m, w: str((m.month - 1) // 3 + 1).zfill(w),
}
