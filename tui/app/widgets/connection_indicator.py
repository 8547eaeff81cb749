"""The connection indicator: one reactive SyncStatus shown as a glyph, words and a dash class.

Mounted in the app, it follows the app's `sync_status` reactive (`self.watch(self.app, ...)`):
nothing pushes statuses down to it.

Never colour alone: every state has its own glyph and the contract's status words
(`offline · 3 queued · retry in 2s`), so the state reads the same in a monochrome terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from tui.sync.status import ConnState, SyncStatus

GLYPHS: dict[ConnState, str] = {
    ConnState.LOCAL_ONLY: "◇",
    ConnState.CONNECTING: "◌",
    ConnState.ONLINE: "●",
    ConnState.SYNCING: "↻",
    ConnState.OFFLINE: "○",
    ConnState.UNAUTHORIZED: "⚠",
    ConnState.CONFLICT: "≠",
}
STATE_CLASSES = tuple(f"-{state.value}" for state in ConnState)


def state_class(state: ConnState) -> str:
    """`-online`, `-offline`, ... (local-only is `-local`)."""
    return "-local" if state is ConnState.LOCAL_ONLY else f"-{state.value}"


class ConnectionIndicator(Static):
    """Glyph + status words for the sync state; counts the retry down once a second."""

    status: reactive[SyncStatus] = reactive(SyncStatus(ConnState.LOCAL_ONLY), init=False)

    def __init__(
        self,
        status: SyncStatus | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        id: str | None = None,
    ) -> None:
        super().__init__("", id=id, markup=False)
        self._monotonic = monotonic
        self._ticker: Timer | None = None
        if status is not None:
            self.set_reactive(ConnectionIndicator.status, status)

    def on_mount(self) -> None:
        self._show(self.status)
        self._ticker = self.set_interval(1.0, self._tick, pause=True)
        self._update_ticker(self.status)
        self.watch(self.app, "sync_status", self._follow, init=True)

    def _follow(self, status: SyncStatus) -> None:
        self.status = status

    def watch_status(self, status: SyncStatus) -> None:
        self._show(status)
        self._update_ticker(status)

    @property
    def words(self) -> str:
        """What the indicator says right now (glyph excluded)."""
        return self.status.words(now=self._monotonic())

    def _show(self, status: SyncStatus) -> None:
        self.remove_class(*STATE_CLASSES, "-local")
        self.add_class(state_class(status.state))
        self.update(f"{GLYPHS[status.state]} {status.words(now=self._monotonic())}")
        self.tooltip = status.detail or None

    def _update_ticker(self, status: SyncStatus) -> None:
        if self._ticker is None:
            return
        if status.state is ConnState.OFFLINE and status.retry_at is not None:
            self._ticker.resume()
        else:
            self._ticker.pause()

    def _tick(self) -> None:
        self._show(self.status)
