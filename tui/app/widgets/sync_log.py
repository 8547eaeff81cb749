"""The sync log: batches sent, acknowledged and retried, for watching the demo work.

Repeats collapse (`no connection: ConnectError ×12`) so an outage reads as one line, not a flood.
The app keeps the book; the widget follows the app's `sync_log_added` (new lines) and
`sync_log_visible` (F4) reactives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

MAX_ENTRIES = 200


@dataclass
class Entry:
    stamp: str
    text: str
    count: int = 1

    @property
    def key(self) -> str:
        # "no connection: ConnectError; retry in 0.4s" repeats with another delay: same line.
        return self.text.split(";", 1)[0]

    def line(self) -> str:
        repeat = f" ×{self.count}" if self.count > 1 else ""
        return f"{self.stamp} {self.text}{repeat}"


class SyncLogBook:
    """The log's lines (kept by the app, so no line is lost while the widget is not mounted)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.entries: list[Entry] = []

    def add(self, line: str) -> None:
        entry = Entry(f"{self._clock():%H:%M:%S}", line)
        last = self.entries[-1] if self.entries else None
        if last is not None and last.key == entry.key:
            last.count += 1
            last.stamp = entry.stamp
            last.text = entry.text
        else:
            self.entries.append(entry)
            del self.entries[:-MAX_ENTRIES]

    @property
    def lines(self) -> list[str]:
        return [entry.line() for entry in self.entries]


class SyncLog(VerticalScroll):
    """A titled, collapsible view of the sync log book; it shows each new line as the app adds it."""

    def __init__(self, book: SyncLogBook, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.book = book
        self.border_title = "Sync log"

    @property
    def lines(self) -> list[str]:
        return self.book.lines

    def compose(self) -> ComposeResult:
        yield Static("", id="sync-log-text", markup=False)

    def on_mount(self) -> None:
        self.refresh_lines()
        # Anchored: stays on the newest line as lines arrive; scrolling up to read releases it,
        # scrolling back to the bottom follows again (no position check that a burst can race).
        self.anchor()
        self.watch(self.app, "sync_log_added", self.refresh_lines, init=False)
        self.watch(self.app, "sync_log_visible", self._show, init=True)

    def _show(self, visible: bool) -> None:
        self.display = visible
        if visible:
            self.follow()

    def follow(self) -> None:
        """Follow the newest line again (when the log is shown)."""
        self.anchor()

    def refresh_lines(self) -> None:
        texts = self.query("#sync-log-text")
        if not texts:
            return
        texts.first(Static).update(Text("\n".join(self.lines) if self.book.entries else "nothing sent yet"))
