"""Inline Markdown of a `say:` line → Typebot rich-text leaves.

Our format lets authors write `**bold**`, `_italic_`/`*italic*`, `` `code` ``, `~~strike~~`
and `[text](url)`; Typebot stores those as marks on Slate leaves and links as `a` elements. Doing
the same keeps one rendering path: plain text for `play` has no asterisks, Markdown for the TUI
is rebuilt from the marks.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"\[(?P<link_text>[^\]]+)\]\((?P<url>[^)\s]+)\)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|~~(?P<strike>.+?)~~"
    r"|`(?P<code>[^`]+)`"
    r"|(?<![\w*])\*(?P<star_italic>[^*\s][^*]*?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\s][^_]*?)_(?![\w_])"
)

_MARKS = {"bold": "bold", "strike": "strikethrough", "code": "code", "star_italic": "italic", "italic": "italic"}


def inline_children(line: str) -> list[dict[str, Any]]:
    """The Slate children of one paragraph: text leaves with marks, and link elements."""
    children: list[dict[str, Any]] = []
    position = 0
    for match in _TOKEN.finditer(line):
        if match.start() > position:
            children.append({"text": line[position : match.start()]})
        kind = match.lastgroup
        if match.group("url") is not None:
            children.append({"type": "a", "url": match.group("url"), "children": [{"text": match.group("link_text")}]})
        elif kind in _MARKS:
            children.append({"text": match.group(kind), _MARKS[kind]: True})
        position = match.end()
    if position < len(line) or not children:
        children.append({"text": line[position:]})
    return children
