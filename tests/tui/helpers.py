"""Small helpers for pilot tests: what the transcript shows, waiting on conditions."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from textual import events
from textual.keys import _character_to_key, _get_unicode_name_from_key
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


@dataclass(frozen=True)
class Paste:
    """A bracketed paste in a `burst`."""

    text: str


def burst(app: SteadyChatApp, *keys: str | Paste) -> None:
    """Queue keys as a terminal delivers a fast typist's or tmux's burst: all at once, no wait.

    `pilot.press` waits for the app to go idle after every key, which hides ordering bugs.
    """
    driver = app._driver
    assert driver is not None
    for key in keys:
        if isinstance(key, Paste):
            driver.send_message(events.Paste(key.text))
            continue
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(name))
        except KeyError:
            char = key if len(key) == 1 else None
        driver.send_message(events.Key(name, char))


def typed(text: str) -> list[str]:
    """A word as keys."""
    return list(text)


__all__ = [
    "Markdown",
    "Paste",
    "answer_area",
    "bubble_texts",
    "burst",
    "static_text",
    "transcript",
    "typed",
    "wait_for",
]
