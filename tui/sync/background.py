"""Sync for callers that are not async: a `SyncClient` on its own thread and event loop.

The headless `play` command and the TUI keep their own loop free of network and store waits by
running the client here. `close()` is bounded whatever the network does: it drains for at most
`drain_timeout`, then cancels any in-flight request and joins the thread with a timeout.
`sync_all` is the one-shot drain behind `steadychat sync`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tui.sync.client import SyncClient
from tui.sync.outbox import Outbox
from tui.sync.status import SyncStatus

JOIN_TIMEOUT_S = 2.0


class BackgroundSync:
    """Runs `SyncClient.run()` on a daemon thread; `kick()` and `close()` are thread-safe."""

    def __init__(
        self,
        store: Outbox,
        server_url: str | None,
        token: str | None,
        *,
        on_status: Callable[[SyncStatus], None] | None = None,
        on_log: Callable[[str], None] | None = None,
        **client_options: Any,
    ) -> None:
        self.client = SyncClient(store, server_url, token, on_status=on_status, on_log=on_log, **client_options)
        self._store = store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._closed = False

    @property
    def status(self) -> SyncStatus:
        """The client's latest status."""
        return self.client.status

    def start(self) -> BackgroundSync:
        """Start the thread and wait (bounded) until its loop runs."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._main, name="steadychat-sync", daemon=True)
        self._thread.start()
        self._running.wait(JOIN_TIMEOUT_S)
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def serve() -> None:
            run = asyncio.ensure_future(self.client.run())
            await asyncio.sleep(0)  # run() has registered itself: drain() will join it, not start another
            self._running.set()
            await run

        try:
            loop.run_until_complete(serve())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            self._running.set()
            loop.close()

    def kick(self, sid: str | None = None) -> None:
        """New events were committed; callable from any thread, never blocks."""
        self.client.kick(sid)

    def set_token(self, token: str | None) -> None:
        """Switch to another token and probe at once."""
        self.client.set_token(token)

    def close(self, drain_timeout: float = 3.0) -> int:
        """Drain for up to `drain_timeout` s, stop the loop, join the thread; returns events left."""
        if self._closed:
            return self._left()
        self._closed = True
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            try:
                future = asyncio.run_coroutine_threadsafe(self.client.drain(drain_timeout), loop)
                future.result(timeout=drain_timeout + JOIN_TIMEOUT_S)
            except Exception:
                pass
            finally:
                self.client.stop()
                thread.join(JOIN_TIMEOUT_S)
        return self._left()

    def _left(self) -> int:
        try:
            return self.client.pending()
        except Exception:  # a closed or failing store: report what we last knew
            return self.client.status.pending

    def __enter__(self) -> BackgroundSync:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()


def sync_all(
    store: Outbox,
    server_url: str | None,
    token: str | None,
    timeout: float,
    *,
    on_status: Callable[[SyncStatus], None] | None = None,
    on_log: Callable[[str], None] | None = None,
    **client_options: Any,
) -> int:
    """Deliver every queued event within `timeout` seconds; returns how many are left."""
    return sync_report(store, server_url, token, timeout, on_status=on_status, on_log=on_log, **client_options).left


@dataclass(frozen=True)
class SyncReport:
    """How a one-shot drain ended: events left, the last status, and the sessions in conflict
    (full id → reason), so `steadychat sync` can say why in one line."""

    left: int
    status: SyncStatus
    conflicts: dict[str, str]


def sync_report(
    store: Outbox,
    server_url: str | None,
    token: str | None,
    timeout: float,
    *,
    on_status: Callable[[SyncStatus], None] | None = None,
    on_log: Callable[[str], None] | None = None,
    **client_options: Any,
) -> SyncReport:
    """`sync_all`, keeping what the caller needs to explain a failure."""
    client = SyncClient(store, server_url, token, on_status=on_status, on_log=on_log, **client_options)
    left = asyncio.run(client.drain(timeout))
    return SyncReport(left, client.status, client.conflicts)
