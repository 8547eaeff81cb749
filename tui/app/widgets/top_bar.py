"""The top bar: app and flow name on the left, the connection indicator on the right.

A custom bar rather than `Header(show_clock=True)`: a clock would break snapshots.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static

from tui.app.widgets.connection_indicator import ConnectionIndicator
from tui.sync.status import SyncStatus


class TopBar(Horizontal):
    """One line: `SteadyChat · <flow> · <session>` and the connection indicator."""

    title: reactive[str] = reactive("", init=False)

    def __init__(
        self, title: str, status: SyncStatus, *, monotonic: Callable[[], float], id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.set_reactive(TopBar.title, title)
        self._status = status
        self._monotonic = monotonic

    def compose(self) -> ComposeResult:
        yield Static("SteadyChat", id="app-name")
        yield Static(self.title, id="flow-title", markup=False)
        # The app's status now, not at construction: a status may arrive in between.
        status = getattr(self.app, "sync_status", self._status)
        yield ConnectionIndicator(status, monotonic=self._monotonic, id="indicator")

    def watch_title(self, title: str) -> None:
        self.query_one("#flow-title", Static).update(title)
