"""JSON flow files parsed as JSON (not as YAML), keeping the line of every mapping, key and item.

`json.loads` is strict and fast but forgets where things were, and it recurses: a file nested a
few thousand levels deep ends in a RecursionError. Here one iterative pass over the tokens builds
the same data as `LineMap`/`LineList` (so compile errors keep `file:line`), refuses nesting deeper
than `MAX_DEPTH` and repeated keys with the line, and `json.loads` (safe once the depth is known)
stays the judge of what is valid JSON and of its error messages. Cost: linear in the file
(≈ 0.2 s/MB here, against ≈ 3 s/MB when JSON went through PyYAML).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tui.errors import FlowError
from tui.flow.limits import MAX_DEPTH, too_deep_message
from tui.flow.lines import LineList, LineMap

# json's own string scanner (C): decodes escapes exactly as json.loads does. Not in the type stubs.
scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

# A token: a structural character, a string's opening quote, or a bare word (number, literal).
_TOKEN = re.compile(r'[ \t\n\r]*(?:([{}\[\],:])|(")|([^ \t\n\r{}\[\],:"]+))')
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")
_LITERALS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "NaN": float("nan"),
    "Infinity": float("inf"),
    "-Infinity": float("-inf"),
}
# Anything that opens or closes a container outside strings: for the depth check of any JSON.
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]')


class _Malformed(FlowError):
    """Not JSON: json.loads then says exactly why, with its line."""

    def __init__(self) -> None:
        super().__init__("invalid JSON")


def check_json_depth(text: str, *, path: str) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH (naming the line) before anything recursive reads it."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise FlowError(too_deep_message(), path=path, line=text.count("\n", 0, match.start()) + 1)
        elif char in "]}":
            depth -= 1


def load_json(text: str, *, path: str) -> Any:
    """Plain `json.loads` (for Typebot exports), after the depth check: one FlowError line on failure."""
    check_json_depth(text, path=path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FlowError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None


def parse_json_with_lines(text: str, *, path: str) -> Any:
    """The JSON data with `LineMap`/`LineList` containers (1-based lines), or one FlowError."""
    try:
        data = _Parser(text, path).parse()
    except (_Malformed, ValueError):  # ValueError: json's string scanner (an unterminated string)
        data = None
    # json.loads judges validity (our pass is lenient where the text is not JSON); the depth is
    # bounded by now, so it cannot recurse too deep.
    load_json(text, path=path)
    if data is None:  # json.loads accepted what our pass did not: never expected, say so plainly
        raise FlowError("invalid JSON", path=path)
    return data


class _Parser:
    """One pass, explicit stack: each frame is [container, expects_key, pending_key, key_line]."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self._line = 1
        self._line_pos = 0
        self._stack: list[list[Any]] = []
        self._root: list[Any] = []
        self._after_value = False  # a value just ended: only `,` or a closing bracket may follow

    def line_at(self, pos: int) -> int:
        """The 1-based line of `pos`; positions only move forward, so counting is linear."""
        self._line += self.text.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    def parse(self) -> Any:
        text, stack = self.text, self._stack
        separator, token, next_token = self._separator, self._token, _TOKEN.match  # hot loop: bound once
        pos, end = 0, len(text)
        while True:
            match = next_token(text, pos)
            if match is None:
                if text[pos:].strip() or stack or not self._root:
                    raise _Malformed
                return self._root[0]
            top = stack[-1] if stack else None
            punct = match.group(1)
            if punct is not None and punct in "}],:":
                separator(punct, top)
                pos = match.end()
                continue
            pos = token(match, top)
            if pos > end:
                raise _Malformed

    def _separator(self, punct: str, top: list[Any] | None) -> None:
        """A closing bracket, `,` or `:`: only where the grammar allows it."""
        if top is None:
            raise _Malformed
        if punct == ",":
            if not self._after_value:
                raise _Malformed
            top[1] = isinstance(top[0], dict)
            self._after_value = False
        elif punct == ":":
            if top[2] is None or top[1]:
                raise _Malformed
        else:
            if (punct == "}") != isinstance(top[0], dict) or top[2] is not None:
                raise _Malformed
            self._stack.pop()
            self._after_value = True

    def _token(self, match: re.Match[str], top: list[Any] | None) -> int:
        """A key, or a value (an opening bracket, a string, a bare word); returns the next position."""
        punct, quote, word = match.groups()
        pos = match.end()
        if self._after_value or (top is None and self._root):
            raise _Malformed
        line = self.line_at(match.start(match.lastindex or 0))
        if top is not None and top[1]:  # a key
            if not quote:
                raise _Malformed
            key, pos = scanstring(self.text, pos)
            if key in top[0]:
                raise FlowError(f"duplicate key {key!r}", path=self.path, line=line)
            top[1], top[2], top[3] = False, key, line
            return pos
        if punct is not None:
            self._open(punct, top, line)
            return pos
        value: Any
        if quote:
            value, pos = scanstring(self.text, pos)
        else:
            value = _bare_word(word)
        self._put(top, value, line)
        self._after_value = True
        return pos

    def _open(self, punct: str, top: list[Any] | None, line: int) -> None:
        """`{` or `[`: a new container, put in its parent and entered."""
        value: LineMap | LineList
        if punct == "{":
            value = LineMap()
            value.key_lines = {}
        else:
            value = LineList()
            value.item_lines = []
        value.line = line
        self._put(top, value, line)
        if len(self._stack) >= MAX_DEPTH:
            raise FlowError(too_deep_message(), path=self.path, line=line)
        self._stack.append([value, punct == "{", None, None])
        self._after_value = False

    def _put(self, top: list[Any] | None, value: Any, line: int) -> None:
        if top is None:
            self._root.append(value)
            return
        container = top[0]
        if isinstance(container, LineMap):
            if top[2] is None:
                raise _Malformed
            container[top[2]] = value
            container.key_lines[top[2]] = top[3]
            top[2] = None
        else:
            container.append(value)
            container.item_lines.append(line)


def _bare_word(word: str) -> Any:
    if word in _LITERALS:
        return _LITERALS[word]
    number = _NUMBER.match(word)
    if number is None:
        raise _Malformed
    return float(word) if number.group(1) or number.group(2) else int(word)
