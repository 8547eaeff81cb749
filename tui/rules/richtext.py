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
    lines = [_block_markdown(el, scope, take_latest_if_list) for el in rich_text or []]
    return "\n".join(lines)


def rich_text_to_plain(rich_text: list[Any] | None, scope: Scope, *, take_latest_if_list: bool = False) -> str:
    """Plain text for a bubble: each top-level element's leaves concatenated, joined by "\\n"."""
    return "\n".join(_plain(el, scope, take_latest_if_list) for el in rich_text or [])


def _plain(node: Any, scope: Scope, latest: bool) -> str:
    if not isinstance(node, dict):
        return ""
    if "text" in node and "children" not in node:
        return _leaf_text(node, scope, latest)
    if node.get("type") in _LIST_TYPES:
        return "\n".join(_plain(child, scope, latest) for child in node.get("children") or [])
    return "".join(_plain(child, scope, latest) for child in node.get("children") or [])


def _block_markdown(node: Any, scope: Scope, latest: bool) -> str:
    """One top-level element: a paragraph-like line, or a list rendered line by line."""
    if not isinstance(node, dict):
        return ""
    if node.get("type") in _LIST_TYPES:
        return _list_markdown(node, scope, latest, depth=0)
    return _inline_markdown(node, scope, latest)


def _list_markdown(node: dict[str, Any], scope: Scope, latest: bool, depth: int) -> str:
    ordered = node.get("type") == "ol"
    lines: list[str] = []
    for index, item in enumerate(node.get("children") or [], start=1):
        marker = f"{index}." if ordered else "-"
        text_parts: list[str] = []
        nested: list[str] = []
        for child in (item.get("children") or []) if isinstance(item, dict) else []:
            if isinstance(child, dict) and child.get("type") in _LIST_TYPES:
                nested.append(_list_markdown(child, scope, latest, depth + 1))
            else:
                text_parts.append(_inline_markdown(child, scope, latest))
        lines.append("   " * depth + f"{marker} " + "".join(text_parts))
        lines.extend(nested)
    return "\n".join(lines)


def _inline_markdown(node: Any, scope: Scope, latest: bool) -> str:
    """Leaves with their marks, links with substituted urls, other elements by children."""
    if not isinstance(node, dict):
        return ""
    if "text" in node and "children" not in node:
        return _leaf_markdown(node, scope, latest)
    inner = "".join(_inline_markdown(child, scope, latest) for child in node.get("children") or [])
    if node.get("type") == "a":
        url = substitute(str(node.get("url") or ""), scope)
        return f"[{inner}]({url})" if url else inner
    return inner


def _leaf_markdown(leaf: dict[str, Any], scope: Scope, latest: bool) -> str:
    text = _leaf_text(leaf, scope, latest)
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


def _leaf_text(leaf: dict[str, Any], scope: Scope, latest: bool) -> str:
    """A text leaf with its variables substituted. A variable sharing the leaf with other text
    (or other variables) has its line breaks turned into spaces, as Typebot does."""
    raw = str(leaf.get("text") or "")
    return substitute(raw, scope, take_latest_if_list=latest, collapse_newlines=not is_standalone_variable(raw))
