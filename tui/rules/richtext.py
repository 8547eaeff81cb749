"""Slate rich text (Typebot text bubbles) to Markdown and to plain text.

Typebot substitutes variables inside each text leaf (`parseVariablesInRichText.ts`) and
serialises paragraphs one per line, an empty paragraph giving a blank line
(`convertRichTextToMarkdown.ts`). Variable values are inserted as they are: a value holding
Markdown therefore renders as Markdown, which is what Typebot's re-parsing achieves.
"""

from __future__ import annotations

from typing import Any

from tui.rules.templates import is_standalone_variable, substitute
from tui.rules.variables import Scope

_LIST_TYPES = ("ul", "ol")


def rich_text_to_markdown(rich_text: list[Any] | None, scope: Scope, *, take_latest_if_list: bool = False) -> str:
    """Markdown for a bubble: one line per paragraph, `**bold**`, `_italic_`, `~~strike~~`,
    `` `code` ``, `[text](url)` links and `-`/`1.` lists."""
    return _markdown(rich_text, _Leaves(scope, take_latest_if_list))


def rich_text_to_plain(rich_text: list[Any] | None, scope: Scope, *, take_latest_if_list: bool = False) -> str:
    """Plain text for a bubble: each top-level element's leaves concatenated, joined by "\\n"."""
    return _plain_text(rich_text, _Leaves(scope, take_latest_if_list))


def rich_text_to_markdown_and_plain(
    rich_text: list[Any] | None, scope: Scope, *, take_latest_if_list: bool = False
) -> tuple[str, str]:
    """Both forms of a bubble, as the two functions above give them, each leaf filled once."""
    leaves = _Leaves(scope, take_latest_if_list)
    flat = _flat_text(rich_text, leaves)
    if flat is not None:
        return flat, flat
    return _markdown(rich_text, leaves), _plain_text(rich_text, leaves)


_NOT_FLAT = ("ul", "ol", "a")


def _children(node: dict[str, Any]) -> list[Any]:
    """An element's `children`; anything but a list (a number in a hand-edited file) is none.
    A text or object there read as characters or keys, none of them an element: as none."""
    children = node.get("children")
    return children if isinstance(children, list) else []


def _flat_text(rich_text: list[Any] | None, leaves: _Leaves) -> str | None:
    """Both forms at once for the usual bubble, or None: when every top-level element is a
    paragraph-like element of unmarked leaves (or such a leaf itself), with no list, no link and
    no inline code, its Markdown is its plain text. Leaves are filled in the same order as
    `_markdown` fills them. A leaf with inline code (`{{= ... =}}`) takes the two-form path, where
    its code runs once per form."""
    lines: list[str] = []
    for element in rich_text or []:
        if not isinstance(element, dict):
            return None
        if "text" in element and "children" not in element:
            parts: Any = (element,)
        elif element.get("type") in _NOT_FLAT:
            return None
        else:
            parts = _children(element)
        texts: list[str] = []
        for leaf in parts:
            if not _plain_leaf(leaf):
                return None
            texts.append(leaves.text(leaf))
        lines.append("".join(texts))
    return "\n".join(lines)


def _plain_leaf(leaf: Any) -> bool:
    """A text leaf without marks and without inline code."""
    if not isinstance(leaf, dict) or "children" in leaf or "text" not in leaf:
        return False
    if "{{=" in str(leaf.get("text") or ""):
        return False
    return not (leaf.get("code") or leaf.get("strikethrough") or leaf.get("italic") or leaf.get("bold"))


class _Leaves:
    """Each text leaf with its variables substituted, remembered for the bubble's second form.

    A leaf with inline code (`{{= ... =}}`) is not remembered: its code runs for each form, as
    it always has (it may draw random numbers, which advance the session's seeded counter)."""

    def __init__(self, scope: Scope, latest: bool) -> None:
        self.scope = scope
        self.latest = latest
        self._done: dict[int, str] = {}

    def text(self, leaf: dict[str, Any]) -> str:
        done = self._done.get(id(leaf))
        if done is not None:
            return done
        raw = str(leaf.get("text") or "")
        text = _leaf_text(raw, self.scope, self.latest)
        if "{{=" not in raw:
            self._done[id(leaf)] = text
        return text


def _markdown(rich_text: list[Any] | None, leaves: _Leaves) -> str:
    return "\n".join([_block_markdown(el, leaves) for el in rich_text or []])


def _plain_text(rich_text: list[Any] | None, leaves: _Leaves) -> str:
    return "\n".join(_plain(el, leaves) for el in rich_text or [])


def _plain(node: Any, leaves: _Leaves) -> str:
    if not isinstance(node, dict):
        return ""
    if "text" in node and "children" not in node:
        return leaves.text(node)
    if node.get("type") in _LIST_TYPES:
        return "\n".join(_plain(child, leaves) for child in _children(node))
    return "".join(_plain(child, leaves) for child in _children(node))


def _block_markdown(node: Any, leaves: _Leaves) -> str:
    """One top-level element: a paragraph-like line, or a list rendered line by line."""
    if not isinstance(node, dict):
        return ""
    if node.get("type") in _LIST_TYPES:
        return _list_markdown(node, leaves, depth=0)
    return _inline_markdown(node, leaves)


def _list_markdown(node: dict[str, Any], leaves: _Leaves, depth: int) -> str:
    ordered = node.get("type") == "ol"
    lines: list[str] = []
    for index, item in enumerate(_children(node), start=1):
        marker = f"{index}." if ordered else "-"
        text_parts: list[str] = []
        nested: list[str] = []
        for child in _children(item) if isinstance(item, dict) else []:
            if isinstance(child, dict) and child.get("type") in _LIST_TYPES:
                nested.append(_list_markdown(child, leaves, depth + 1))
            else:
                text_parts.append(_inline_markdown(child, leaves))
        lines.append("   " * depth + f"{marker} " + "".join(text_parts))
        lines.extend(nested)
    return "\n".join(lines)


def _inline_markdown(node: Any, leaves: _Leaves) -> str:
    """Leaves with their marks, links with substituted urls, other elements by children."""
    if not isinstance(node, dict):
        return ""
    if "text" in node and "children" not in node:
        return _leaf_markdown(node, leaves)
    inner = "".join(_inline_markdown(child, leaves) for child in _children(node))
    if node.get("type") == "a":
        url = substitute(str(node.get("url") or ""), leaves.scope)
        return f"[{inner}]({url})" if url else inner
    return inner


def _leaf_markdown(leaf: dict[str, Any], leaves: _Leaves) -> str:
    text = leaves.text(leaf)
    if not text.strip():
        return text
    stripped = text.strip()
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    if leaf.get("code"):
        stripped = f"`{stripped}`"
    if leaf.get("strikethrough"):
        stripped = f"~~{stripped}~~"
    if leaf.get("italic"):
        stripped = f"_{stripped}_"
    if leaf.get("bold"):
        stripped = f"**{stripped}**"
    return lead + stripped + trail


def _leaf_text(raw: str, scope: Scope, latest: bool) -> str:
    """A text leaf with its variables substituted. A variable sharing the leaf with other text
    (or other variables) has its line breaks turned into spaces, as Typebot does."""
    if "{{" not in raw:
        return raw
    return substitute(raw, scope, take_latest_if_list=latest, collapse_newlines=not is_standalone_variable(raw))
