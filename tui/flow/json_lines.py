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
    except _Malformed:
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

    def line_at(self, pos: int) -> int:
        """The 1-based line of `pos`; positions only move forward, so counting is linear."""
        self._line += self.text.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    def parse(self) -> Any:
        text = self.text
        stack: list[list[Any]] = []
        root: list[Any] = []
        pos, end = 0, len(text)
        after_value = False  # a value just ended: only `,` or a closing bracket may follow
        while True:
            match = _TOKEN.match(text, pos)
            if match is None:
                if text[pos:].strip() or stack or not root:
                    raise _Malformed
                return root[0]
            start = match.start(match.lastindex or 0)
            pos = match.end()
            punct, quote, word = match.groups()
            top = stack[-1] if stack else None
            if punct in ("}", "]"):
                if top is None or (punct == "}") != isinstance(top[0], dict) or top[2] is not None:
                    raise _Malformed
                stack.pop()
                after_value = True
                continue
            if punct == ",":
                if top is None or not after_value:
                    raise _Malformed
                top[1] = isinstance(top[0], dict)
                after_value = False
                continue
            if punct == ":":
                if top is None or top[2] is None or top[1]:
                    raise _Malformed
                continue
            if after_value or (top is None and root):
                raise _Malformed
            line = self.line_at(start)
            if top is not None and top[1]:  # a key
                if not quote:
                    raise _Malformed
                key, pos = scanstring(text, pos)
                if key in top[0]:
                    raise FlowError(f"duplicate key {key!r}", path=self.path, line=line)
                top[1], top[2], top[3] = False, key, line
                continue
            if punct in ("{", "["):
                value: Any = LineMap() if punct == "{" else LineList()
                value.line = line
                if punct == "{":
                    value.key_lines = {}
                else:
                    value.item_lines = []
            elif quote:
                value, pos = scanstring(text, pos)
            else:
                value = _bare_word(word)
            self._put(root, top, value, line)
            if punct in ("{", "["):
                if len(stack) >= MAX_DEPTH:
                    raise FlowError(too_deep_message(), path=self.path, line=line)
                stack.append([value, punct == "{", None, None])
                after_value = False
            else:
                after_value = True
            if pos > end:
                raise _Malformed

    @staticmethod
    def _put(root: list[Any], top: list[Any] | None, value: Any, line: int) -> None:
        if top is None:
            root.append(value)
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
