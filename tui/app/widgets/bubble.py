"""One widget per shown event: bot and user bubbles, media links, dimmed notes, system lines.

`bubble_for(event)` decides; events that are not shown (input, variables, wait) give None.
Text we did not write (bot messages, answers) is never parsed as markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Markdown, Static

from tui.steps import StoredEvent
from tui.transcript import shown_answer

MEDIA_GLYPHS = {"image": "🖼", "video": "▶", "audio": "♪", "embed": "⧉", "link": "↗"}


class Bubble(Static):
    """A shown event; `seq` ties it to the store."""

    def __init__(self, content: Any, *, seq: int, classes: str = "") -> None:
        super().__init__(content, markup=False, classes=classes)
        self.seq = seq


class BotBubble(Bubble):
    """A bot message (plain text)."""


class MediaBubble(Bubble):
    """An image, video, audio, embed or link, shown as a link (a terminal shows no pictures)."""


class UserBubble(Bubble):
    """The user's answer; a refused answer is marked. The transcript's layout puts it against the
    right edge (no row container: one widget per answer keeps the transcript's layout cheap)."""


class NoteLine(Bubble):
    """A block the terminal skipped, dimmed."""


class SystemLine(Bubble):
    """Start, end and error lines."""


class BotMarkdown(Markdown):
    """A bot message with rich text (bold, links, lists)."""

    def __init__(self, markdown: str, *, seq: int) -> None:
        super().__init__(markdown)
        self.seq = seq


_MARKDOWN_SYNTAX = re.compile(r"(\*\*?\S|__\S|`|\[[^\]]+\]\(|^\s*[-*+] |^\s*\d+\. |^#{1,6} |~~)", re.M)


def _has_markup(markdown: str) -> bool:
    """Whether the message needs the Markdown widget (bold, code, links, lists)."""
    return bool(markdown) and _MARKDOWN_SYNTAX.search(markdown) is not None


def _start_line(event: StoredEvent) -> Widget:
    data = event.data
    when = str(data.get("created_at") or event.ts).replace("T", " ")[:16]
    name = data.get("flow_name") or data.get("flow_id") or "Conversation"
    return SystemLine(f"── {name} · started {when} UTC ──", seq=event.seq)


def _media_bubble(event: StoredEvent, kind: str, text: str) -> Widget:
    url = str(event.data.get("url") or text)
    label = Text.assemble(f"{MEDIA_GLYPHS.get(kind, '↗')} {kind}  ", (url, f"link {url}" if url else ""))
    # The engine's text for media is often "[image: URL]" (what `play` prints): the URL once is enough.
    if text and url not in text:
        label.append(f"\n{text}")
    return MediaBubble(label, seq=event.seq)


def _message_bubble(event: StoredEvent) -> Widget:
    data = event.data
    kind = data.get("kind", "text")
    text = str(data.get("text") or "")
    if kind != "text" or (data.get("url") and not text):
        return _media_bubble(event, kind, text)
    if data.get("retry"):
        return BotBubble(f"⚠ {text}", seq=event.seq, classes="-retry")
    markdown = str(data.get("markdown") or "")
    if _has_markup(markdown):
        return BotMarkdown(markdown, seq=event.seq)
    return BotBubble(text, seq=event.seq)


def _answer_row(event: StoredEvent) -> Widget:
    text = shown_answer(event.data)  # as saved, like Typebot relabels it; a refusal as typed
    if event.data.get("valid", True) is False:
        return UserBubble(f"{text or '(empty)'}  ✗ refused", seq=event.seq, classes="-refused")
    return UserBubble(text or "(skipped)", seq=event.seq)


def _command_row(event: StoredEvent) -> Widget:
    return UserBubble(f"/{event.data.get('name', '')}", seq=event.seq)


def _note_line(event: StoredEvent) -> Widget:
    return NoteLine(f"note: {event.data.get('text', '')}", seq=event.seq)


def _end_line(event: StoredEvent) -> Widget:
    return SystemLine("✓ Conversation complete", seq=event.seq, classes="-end")


def _error_line(event: StoredEvent) -> Widget:
    return SystemLine(f"✗ The flow stopped: {event.data.get('text', '')}", seq=event.seq, classes="-error")


SHOWN: dict[str, Callable[[StoredEvent], Widget]] = {
    "start": _start_line,
    "message": _message_bubble,
    "answer": _answer_row,
    "command": _command_row,
    "note": _note_line,
    "end": _end_line,
    "error": _error_line,
}
"""The widget for each event type a transcript shows."""


def bubble_for(event: StoredEvent) -> Widget | None:
    """The widget that shows `event`, or None for events a transcript does not show."""
    show = SHOWN.get(event.type)
    return show(event) if show is not None else None
