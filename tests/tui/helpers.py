"""The TUI tests' one set of fixtures and helpers (pilot tests in tests/tui, pictures in tests/snapshots).

Fixtures: `store` (a tmp store), `flow_file` (a small YAML flow in a tmp file) and `make_app`
(`tui.app.testing.build_app` on that store: fixed clock and ids, no typing pause, no blink, no
animation; every app's session is closed afterwards). Both conftest files import them from here.
Helpers: what the transcript shows, waiting on conditions, a terminal's burst of keys.
"""

from __future__ import annotations

import asyncio
import textwrap
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.keys import _character_to_key, _get_unicode_name_from_key
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Markdown

from tui.app.app import SteadyChatApp
from tui.app.testing import build_app
from tui.app.widgets.answer_area import AnswerArea
from tui.app.widgets.bubble import BotMarkdown, Bubble
from tui.app.widgets.connection_indicator import ConnectionIndicator
from tui.app.widgets.transcript import Transcript
from tui.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "store.db")
    yield opened
    opened.close()


@pytest.fixture
def flow_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write a small YAML flow to a tmp file and return its path."""
    counter = iter(range(1000))

    def write(text: str) -> Path:
        path = tmp_path / f"flow{next(counter)}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_app(store: Store) -> Iterator[Callable[..., SteadyChatApp]]:
    """Build apps on the tmp store (`make_app(flow, **settings)` or `make_app(session=...)`);
    their sessions are closed (locks released) afterwards."""
    apps: list[SteadyChatApp] = []

    def make(flow: Any = None, **settings: Any) -> SteadyChatApp:
        app = build_app(store, flow, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.session.close()


def transcript(app: SteadyChatApp) -> Transcript:
    return app.chat.query_one(Transcript)


def answer_area(app: SteadyChatApp) -> AnswerArea:
    return app.chat.query_one(AnswerArea)


def indicator(app: SteadyChatApp) -> ConnectionIndicator:
    return app.chat.query_one(ConnectionIndicator)


def bubble_texts(app: SteadyChatApp) -> list[str]:
    """The text of every shown event, in order (Markdown bubbles as their source)."""
    texts = []
    for widget in transcript(app).query("Bubble, BotMarkdown"):
        if isinstance(widget, BotMarkdown):
            texts.append(widget.source)
        elif isinstance(widget, Bubble):
            texts.append(str(widget.render()))
    return texts


def static_text(widget: Widget) -> str:
    return str(widget.render())


async def wait_for(pilot: Pilot[Any], condition: Callable[..., bool], timeout: float = 30.0) -> None:
    """Wait until `condition()` holds (checked between UI turns), or fail after `timeout`: a hang
    guard generous enough for a loaded 2-core box, never a speed assertion."""
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
    "flow_file",
    "indicator",
    "make_app",
    "static_text",
    "store",
    "transcript",
    "typed",
    "wait_for",
]
