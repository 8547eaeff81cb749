"""Custom Set-variable expressions without running JavaScript.

Typebot evaluates `return <expression>` as JavaScript, with each `{{Var}}` bound to the
variable's guessed-type value, and on any error stores the template-substituted text instead
(`packages/variables/src/evaluateSetVariableExpression.ts`). This module covers the JS that
flows actually use (literals, arithmetic, string concatenation, JSON-like arrays/objects) with
a tiny tokenizer and recursive-descent parser; everything else takes Typebot's error path.
It never uses eval/exec.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from tui.flow.model import VariableValue
from tui.rules._js import UNDEFINED, js_number, js_to_number, js_to_string
from tui.rules.variables import Scope, guess_type, is_single_variable, substitute, to_stored_value

_OCTAL_GUARD = re.compile(r"0[^.\n\r\u2028\u2029].+")


def evaluate_expression(expr: str | None, scope: Scope) -> VariableValue:
    """The value Typebot stores for a Custom Set-variable expression.

    Exactly `{{X}}` is a text copy (lists become JSON text, as Typebot's parseVariables
    does); a numeric text with a leading zero ("007") is kept as is; otherwise the
    expression is evaluated and its result stored Typebot's way (numbers as JS text, arrays
    as lists of text, objects as JSON text, "" as None). Anything this evaluator cannot run
    (unknown identifiers, statements, URLs...) yields the template-substituted text.
    """
    code = expr or ""
    if is_single_variable(code):
        return to_stored_value(substitute(code, scope))
    if code and js_number(code) == js_number(code) and _OCTAL_GUARD.search(code):
        return to_stored_value(code)
    try:
        value = evaluate_js(code, scope)
    except ValueError:
        return to_stored_value(substitute(code, scope))
    return to_stored_value(value)


def evaluate_js(code: str, scope: Scope) -> Any:
    """Evaluate a supported JS expression (with an optional leading `return`).

    Returns a JS-like Python value: float, str, bool, None, UNDEFINED, list or dict.
    Raises ValueError for anything outside the supported subset (Typebot's error path).
    """
    body = code if "return " in code else f"return {code}"
    parser = _Parser(_tokenize(body, scope))
    return parser.program()


# --- tokenizer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # num, str, value, ident, punct, eof
    value: Any
    newline_before: bool = False


_PUNCT = set("+-*/%()[]{},:;")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_VAR = re.compile(r"\{\{([^{}]+)\}\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _tokenize(text: str, scope: Scope) -> list[_Token]:
    """Split the body into tokens; `{{Var}}` becomes a value token (or vanishes if unknown,
    as Typebot writes "" for a variable the flow does not declare)."""
    tokens: list[_Token] = []
    i, newline = 0, False
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            newline = newline or ch in "\n\r\u2028\u2029"
            i += 1
            continue
        if text.startswith("//", i) or text.startswith("/*", i):
            i, newline = _skip_comment(text, i, newline)
            continue
        token, i = _next_token(text, i, scope)
        if token is not None:
            tokens.append(_Token(token.kind, token.value, newline))
        newline = False
    tokens.append(_Token("eof", None, newline))
    return tokens


def _skip_comment(text: str, i: int, newline: bool) -> tuple[int, bool]:
    if text.startswith("//", i):
        end = text.find("\n", i)
        return (len(text), newline) if end < 0 else (end, newline)
    end = text.find("*/", i + 2)
    if end < 0:
        raise ValueError("unterminated comment")
    return end + 2, newline or "\n" in text[i:end]


def _next_token(text: str, i: int, scope: Scope) -> tuple[_Token | None, int]:
    ch = text[i]
    var = _VAR.match(text, i)
    if var:
        variable = scope.variable_by_name(var.group(1))
        if variable is None:
            return None, var.end()
        return _Token("value", guess_type(scope.get_by_id(variable.id))), var.end()
    number = _NUMBER.match(text, i)
    if number and (ch.isdigit() or ch == "."):
        end = number.end()
        if end < len(text) and (text[end].isalnum() or text[end] in "_$"):
            raise ValueError("invalid number literal")
        return _Token("num", _number_literal(number.group(0))), end
    if ch in "\"'`":
        return _string_literal(text, i, scope)
    ident = _IDENT.match(text, i)
    if ident:
        return _Token("ident", ident.group(0)), ident.end()
    if ch in _PUNCT:
        return _Token("punct", ch), i + 1
    raise ValueError(f"unexpected character {ch!r}")


def _number_literal(text: str) -> float:
    """A JS numeric literal, legacy octal (`017`) included."""
    if len(text) > 1 and text[0] == "0" and text[1:].isdigit():
        return float(int(text, 8)) if set(text) <= set("01234567") else float(text)
    return js_number(text)


def _string_literal(text: str, i: int, scope: Scope) -> tuple[_Token, int]:
    """A quoted string; `{{Var}}` inside reads as the variable id, as in Typebot's code body."""
    quote, j, out = text[i], i + 1, []
    while j < len(text):
        ch = text[j]
        if ch == quote:
            return _Token("str", "".join(out)), j + 1
        if ch == "\\" and j + 1 < len(text):
            j = _escape(text, j, out)
            continue
        if quote == "`" and text.startswith("${", j):
            raise ValueError("template substitutions are not supported")
        if ch in "\n\r" and quote != "`":
            raise ValueError("unterminated string")
        var = _VAR.match(text, j)
        if var:
            out.append(scope.id_for_name(var.group(1)) or "")
            j = var.end()
            continue
        out.append(ch)
        j += 1
    raise ValueError("unterminated string")


def _escape(text: str, j: int, out: list[str]) -> int:
    nxt = text[j + 1]
    if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[j + 2 : j + 6]):
        out.append(chr(int(text[j + 2 : j + 6], 16)))
        return j + 6
    if nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[j + 2 : j + 4]):
        out.append(chr(int(text[j + 2 : j + 4], 16)))
        return j + 4
    if nxt == "\n":
        return j + 2
    out.append(_ESCAPES.get(nxt, nxt))
    return j + 2


# --- parser / evaluator ------------------------------------------------------------------

_KEYWORD_VALUES: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "undefined": UNDEFINED,
    "NaN": math.nan,
    "Infinity": math.inf,
}


class _Parser:
    """Recursive descent over: program := 'return' expr ';'? ; expr := additive."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def accept(self, punct: str) -> bool:
        token = self.peek()
        if token.kind == "punct" and token.value == punct:
            self.pos += 1
            return True
        return False

    def expect(self, punct: str) -> None:
        if not self.accept(punct):
            raise ValueError(f"expected {punct!r}")

    def program(self) -> Any:
        token = self.take()
        if token.kind != "ident" or token.value != "return":
            raise ValueError("unsupported statement")
        nxt = self.peek()
        value: Any = UNDEFINED
        if nxt.kind != "eof" and nxt.newline_before:
            self.expression()  # `return` then a line break returns undefined (ASI); the rest is dead code
        elif not (nxt.kind == "eof" or (nxt.kind == "punct" and nxt.value == ";")):
            value = self.expression()
        self.accept(";")
        if self.peek().kind != "eof":
            raise ValueError("unsupported trailing code")
        return value

    def expression(self) -> Any:
        left = self.term()
        while True:
            if self.accept("+"):
                left = _js_add(left, self.term())
            elif self.accept("-"):
                left = js_to_number(left) - js_to_number(self.term())
            else:
                return left

    def term(self) -> Any:
        left = self.unary()
        while True:
            token = self.peek()
            if token.kind != "punct" or token.value not in "*/%":
                return left
            self.pos += 1
            left = _arith(token.value, js_to_number(left), js_to_number(self.unary()))

    def unary(self) -> Any:
        if self.accept("-"):
            return -js_to_number(self.unary())
        if self.accept("+"):
            return js_to_number(self.unary())
        return self.primary()

    def primary(self) -> Any:
        token = self.take()
        if token.kind in ("num", "str", "value"):
            return token.value
        if token.kind == "ident" and token.value in _KEYWORD_VALUES:
            return _KEYWORD_VALUES[token.value]
        if token.kind == "punct":
            if token.value == "(":
                value = self.expression()
                self.expect(")")
                return value
            if token.value == "[":
                return self.array()
            if token.value == "{":
                return self.object()
        raise ValueError("unsupported expression")

    def array(self) -> list[Any]:
        items: list[Any] = []
        while not self.accept("]"):
            items.append(self.expression())
            if not self.accept(","):
                self.expect("]")
                break
        return items

    def object(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while not self.accept("}"):
            key = self.take()
            if key.kind not in ("str", "ident", "num"):
                raise ValueError("unsupported object key")
            name = js_to_string(key.value) if key.kind == "num" else key.value
            self.expect(":")
            result[name] = self.expression()
            if not self.accept(","):
                self.expect("}")
                break
        return result


def _js_add(left: Any, right: Any) -> Any:
    """JS `+`: concatenation when either side is text (arrays/objects read as text)."""
    text_like = (str, list, dict)
    if isinstance(left, text_like) or isinstance(right, text_like):
        return js_to_string(left) + js_to_string(right)
    return js_to_number(left) + js_to_number(right)


def _arith(op: str, x: float, y: float) -> float:
    """JS `*`, `/` and `%` on numbers (division by zero gives ±Infinity or NaN)."""
    if op == "*":
        return x * y if not ((math.isinf(x) and y == 0) or (math.isinf(y) and x == 0)) else math.nan
    if op == "/":
        if y == 0:
            if x == 0 or math.isnan(x):
                return math.nan
            return math.copysign(math.inf, x) * math.copysign(1.0, y)
        return x / y
    if y == 0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
        return math.nan
    return x if math.isinf(y) else math.fmod(x, y)
