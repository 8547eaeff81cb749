"""Small helpers for pilot tests: what the transcript shows, waiting on conditions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import Markdown, Static

from tui.app.app import SteadyChatApp
from tui.app.widgets.answer_area import AnswerArea
from tui.app.widgets.bubble import BotMarkdown, Bubble
from tui.app.widgets.transcript import Transcript


def transcript(app: SteadyChatApp) -> Transcript:
    return app.chat.query_one(Transcript)


def answer_area(app: SteadyChatApp) -> AnswerArea:
    return app.chat.query_one(AnswerArea)


def bubble_texts(app: SteadyChatApp) -> list[str]:
    """The text of every shown event, in order (Markdown bubbles as their source)."""
    texts = []
    for widget in transcript(app).query("Bubble, BotMarkdown"):
        if isinstance(widget, BotMarkdown):
            texts.append(widget.source)
        elif isinstance(widget, Bubble):
            texts.append(str(widget.render()))
    return texts


def static_text(widget: Static) -> str:
    return str(widget.render())


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `condition()` holds (checked between UI turns), or fail after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


__all__ = ["Markdown", "answer_area", "bubble_texts", "static_text", "transcript", "wait_for"]
