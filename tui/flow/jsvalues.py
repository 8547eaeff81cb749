"""JavaScript value semantics that Typebot's rules lean on: Number(), parseFloat(), String(n),
JSON.stringify() and Typebot's safeStringify.

Typebot runs on V8, so its answers depend on how JS converts text to numbers and back
("12.0" saves as "12", "" is the number 0, NaN stringifies to null). Reproducing those
conversions in one place keeps every rule module literal about them. The module sits in the flow
layer, beside the model, because the Typebot importer stores declared values with the same
safeStringify the rules use (`tui.rules` builds on `tui.flow`, never the other way round).
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from tui.flow.model import VariableValue

# JS String.prototype.trim / Number() whitespace: ASCII space family plus Unicode spaces.
_JS_WS = " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")
_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_RADIX = {"0x": 16, "0o": 8, "0b": 2}


class Undefined:
    """JS `undefined`, distinct from `null` (None) where the difference shows."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = Undefined()


def js_trim(text: str) -> str:
    """String.prototype.trim: strips JS whitespace (which includes U+FEFF)."""
    return text.strip(_JS_WS)


def js_number(text: str) -> float:
    """`Number(text)`: whole-string numeric conversion; "" and blanks are 0; else NaN."""
    s = js_trim(text)
    if s == "":
        return 0.0
    if s in ("Infinity", "+Infinity"):
        return math.inf
    if s == "-Infinity":
        return -math.inf
    radix = _RADIX.get(s[:2].lower())
    if radix is not None:
        try:
            return float(int(s[2:], radix)) if s[2:] and "_" not in s else math.nan
        except ValueError:
            return math.nan
    if _DECIMAL.fullmatch(s):
        return float(s)
    return math.nan


def js_parse_float(text: str) -> float:
    """`parseFloat(text)`: the longest numeric prefix after leading blanks ("12abc" is 12)."""
    match = _FLOAT_PREFIX.match(text.lstrip(_JS_WS))
    if match is None:
        return math.nan
    token = match.group(0)
    if token.lstrip("+-") == "Infinity":
        return -math.inf if token.startswith("-") else math.inf
    return float(token)


def js_number_to_string(value: float | int) -> str:
    """`String(n)`: ECMAScript Number::toString (12.0 -> "12", 1e21 -> "1e+21")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    x = float(value)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    _, digit_tuple, exp = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = k + int(exp)  # position of the decimal point relative to the digits
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        body = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + body


def optional_text(value: Any) -> str | None:
    """A Typebot field that should hold text, read from a hand-edited export: text as is, a
    number as its JS text, anything else (a list, an object, a boolean, "") None, so the
    caller's default applies. Records built from it (a Struct's constructor checks nothing)
    then stay readable, and no `str` method meets a list."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return js_number_to_string(value)
    return None


def js_json_stringify(value: Any) -> str | None:
    """`JSON.stringify(value)` with JS spacing (none) and number formatting; None for undefined."""
    if value is UNDEFINED:
        return None
    if value is None or value is True or value is False:
        return "null" if value is None else ("true" if value else "false")
    if isinstance(value, (int, float)):
        return "null" if not math.isfinite(float(value)) else js_number_to_string(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(js_json_stringify(v) or "null" for v in value) + "]"
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            text = js_json_stringify(item)
            if text is not None:
                parts.append(json.dumps(str(key), ensure_ascii=False) + ":" + text)
        return "{" + ",".join(parts) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def js_to_string(value: Any) -> str:
    """`String(value)`: how JS turns any value into text (arrays join with ",")."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number_to_string(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if v is None or v is UNDEFINED else js_to_string(v) for v in value)
    return "[object Object]"


def js_to_number(value: Any) -> float:
    """`Number(value)` for any value (null is 0, undefined is NaN, arrays via their text)."""
    if value is UNDEFINED:
        return math.nan
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return js_number(value)
    if isinstance(value, list):
        return js_number(js_to_string(value))
    return math.nan


def safe_stringify(value: Any) -> VariableValue:
    """Typebot's safeStringify as applied when storing: strings stay, None stays None, lists
    map element-wise, anything else becomes JSON.stringify text (3 -> "3", NaN -> "null")."""
    if value is None or value is UNDEFINED:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_stringify_one(item) for item in value]
    return js_json_stringify(value)


def _stringify_one(value: Any) -> str | None:
    """safeStringify of one list element: nested lists and objects become JSON text."""
    if value is None or value is UNDEFINED:
        return None
    if isinstance(value, str):
        return value
    return js_json_stringify(value)
