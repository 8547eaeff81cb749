"""The outbox client: delivers every committed event to the sync server once, in order.

The outbox is the store itself (events above each session's acked seq), so nothing is queued in
memory and a restart loses nothing. One long-lived loop (`run`) does everything on a monotonic
clock: heartbeat, kicks (debounced so a burst of steps travels as one batch), backoff, draining.

The parts, one job each: `transport.Requester` (one request, failures named by the error tree),
`ledger.Ledger` (pending counts, registrations, conflicts), `multi_drain.MultiDrain` (many
sessions per POST /v1/sync, pipelined), `session_drain.SessionDrain` (PUT + POSTs, one session
at a time: older servers), `batches` (store rows → bodies). This module runs the loop and owns
the status.

How answers are treated (the poison policy is the last row; POST /v1/sync results are judged the
same way per session, see multi_drain.py):

| outcome                                   | what happens                                           |
|-------------------------------------------|--------------------------------------------------------|
| 200 with a parseable ack inside the batch | ack committed to the store, next batch                 |
| any httpx.TransportError / timeout        | OFFLINE; probe after full jitter in [0, min(backoff, heartbeat)] |
| a data request over `total_timeout`        | slow, not offline: batch halved, retried soon          |
| 401 / 403                                 | UNAUTHORIZED; one probe every `auth_retry` s, no storm  |
| 429 / 5xx / unparsable 200 / unknown 4xx  | transient: backoff, never sooner than Retry-After      |
| 404 / 405 on POST /v1/sync                | an older server: PUT + POSTs per session until the     |
|                                           | connection is lost                                     |
| 409 gap (server holds less)               | acked seq lowered to the server's, resend from there    |
| 409 diverged / PUT 404 (foreign sid)      | CONFLICT for that session, others keep going; a        |
|                                           | divergence is kept in the store until `resolve`        |
| 404 on POST                               | session registered again, then resent (once per pass)  |
| 413                                       | batch halved; a single event too large is poison       |
| poison (one event > 1 MiB, 422 on a body) | CONFLICT for that session with a detail; its events stay |
|                                           | queued locally, never dropped or skipped                |

Store calls are synchronous (they take milliseconds); run the client on its own loop
(`BackgroundSync`) when the caller's loop must never stall. `on_status` and `on_log` are called
on the client's loop thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx

from tui.errors import OfflineError, ServerRefusalError, SlowLinkError, SyncError, UnauthorizedError
from tui.sync.backoff import Backoff
from tui.sync.batches import encode_batch, encode_raw_batch
from tui.sync.ledger import Ledger, Pace
from tui.sync.multi_drain import MultiDrain
from tui.sync.outbox import Outbox
from tui.sync.protocol import MAX_BATCH_EVENTS
from tui.sync.remote import ServerApi
from tui.sync.session_drain import SessionDrain
from tui.sync.status import Phase, SyncStatus, compose_status
from tui.sync.transport import MAX_ANSWER_BYTES, Requester, tls_for

__all__ = ["MAX_ANSWER_BYTES", "SyncClient", "encode_batch", "encode_raw_batch"]

PIPELINE_DEPTH = 2
"""POST /v1/sync requests in flight at once (the next one is always read ahead as well)."""


class SyncClient:
    """Delivers a store's queued events to one server; reports a `SyncStatus` on every change."""

    def __init__(
        self,
        store: Outbox,
        server_url: str | None,
        token: str | None,
        *,
        heartbeat: float = 5.0,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        total_timeout: float = 20.0,
        batch_size: int = MAX_BATCH_EVENTS,
        debounce: float = 0.1,
        auth_retry: float = 60.0,
        multi: bool = True,
        pipeline: int = PIPELINE_DEPTH,
        on_status: Callable[[SyncStatus], None] | None = None,
        on_log: Callable[[str], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: Any = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.server_url = server_url.rstrip("/") if server_url else None
        self._token = token
        self.heartbeat = heartbeat
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.batch_size = max(1, min(batch_size, MAX_BATCH_EVENTS))
        self.debounce = debounce
        self.auth_retry = auth_retry
        self.multi = multi
        self.pipeline = max(1, pipeline)
        self.on_status = on_status
        self.on_log = on_log
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._backoff = Backoff(0.5, 30.0, healthy_period=heartbeat, rng=rng, clock=clock)
        self._ledger = Ledger(store, self._log, self._publish)
        self._pace = Pace(self.batch_size)
        self._sync_endpoint: bool | None = None  # does the server have POST /v1/sync? None: not asked yet

        self._phase: Phase = "local" if self.server_url is None else "connecting"
        self._detail = ""
        self._not_before = 0.0
        self._next_attempt = 0.0
        self._requester: Requester | None = None
        self._status: SyncStatus | None = None
        self._attempts = 0

        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._progress: asyncio.Event | None = None
        self._busy = False
        self._kicked = False
        self._kick_all = True
        self._kick_sids: set[str] = set()
        self._stopping = False
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- public surface
    @property
    def status(self) -> SyncStatus:
        """The latest status (also delivered through `on_status`)."""
        return self._status or self._compose()

    @property
    def conflicts(self) -> dict[str, str]:
        """Sessions that stopped syncing, with the reason (conflict or poison)."""
        return dict(self._ledger.conflicts)

    def server_api(self) -> ServerApi | None:
        """A blocking reader of the same server with the same token (listing, pull, resolve from
        a worker thread), or None when local-only. Close it after use."""
        if self.server_url is None:
            return None
        return ServerApi(self.server_url, self._token or "", connect_timeout=self.connect_timeout)

    def set_token(self, token: str | None) -> None:
        """Use another token from now on and probe at once (thread-safe)."""
        self._token = token
        self._call_in_loop(self._on_new_token)

    def kick(self, sid: str | None = None) -> None:
        """New events were committed: send them soon (debounced). Callable from any thread."""
        with self._lock:
            self._kicked = True
            if sid is None:
                self._kick_all = True
            else:
                self._kick_sids.add(sid)
        self._call_in_loop(self._wake_up)

    def stop(self) -> None:
        """End `run()` promptly, cancelling an in-flight request (thread-safe, idempotent)."""
        self._stopping = True
        self._call_in_loop(self._on_stop)

    def pending(self) -> int:
        """Events queued in the store right now, all sessions (read from the store)."""
        return sum(self.store.pending_count(sid) for sid in self.store.session_ids())

    async def drain(self, timeout: float) -> int:
        """Deliver everything now, for up to `timeout` seconds; returns the count left.

        Returns early when nothing is left, when the token is refused, or when only conflicted
        sessions remain. Works whether or not `run()` is already going on this loop.
        """
        if self.server_url is None:
            return self.pending()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        own: asyncio.Task[None] | None = None
        # an attempt already under way may have read the store before the caller's last commit
        start = self._attempts + (1 if self._busy else 0)
        if self._task is None:
            own = asyncio.create_task(self.run())
            await asyncio.sleep(0)  # let run() set up its events before we wait on them
        else:
            self._next_attempt = max(self._clock(), self._not_before)
            self._wake_up()
        try:
            while not self._settled(start):
                remaining = deadline - loop.time()
                if remaining <= 0 or self._progress is None:
                    break
                self._progress.clear()
                try:
                    await asyncio.wait_for(self._progress.wait(), remaining)
                except TimeoutError:
                    break
        finally:
            if own is not None:
                self.stop()
                await asyncio.gather(own, return_exceptions=True)
        return self.pending()

    async def run(self) -> None:
        """The long-lived loop: heartbeat, kicks, backoff and draining, until `stop()`."""
        if self._task is not None:
            raise RuntimeError("SyncClient.run() is already running")
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._task = asyncio.current_task()
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        try:
            if self.server_url is None:
                await self._run_local()
            else:
                await self._run_online()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        finally:
            self._task = None
            self._loop = None
            self._loop_thread = None
            self._busy = False

    # ----------------------------------------------------------------- the loop
    async def _run_local(self) -> None:
        self._phase = "local"
        self._ledger.refresh()
        self._publish()
        while not self._stopping:
            self._take_kick()
            assert self._wake is not None
            self._wake.clear()
            await self._wait(self.heartbeat)

    async def _run_online(self) -> None:
        self._phase = "connecting"
        self._next_attempt = self._clock()
        self._ledger.refresh()
        self._publish()
        timeout = httpx.Timeout(
            connect=self.connect_timeout, read=self.read_timeout, write=self.read_timeout, pool=self.connect_timeout
        )
        async with httpx.AsyncClient(
            base_url=self.server_url or "",
            timeout=timeout,
            transport=self._transport,
            verify=tls_for(self.server_url or ""),
            headers={"User-Agent": "steadychat-sync/1"},
        ) as http:
            requester = Requester(
                http,
                lambda: self._token,
                total_timeout=self.total_timeout,
                clock=self._clock,
                wall_clock=self._wall_clock,
            )
            self._requester = requester
            while not self._stopping:
                self._take_kick()
                now = self._clock()
                if now >= self._next_attempt:
                    await self._attempt_once(requester)
                    continue
                assert self._wake is not None
                self._wake.clear()
                if self._kicked or self._stopping:
                    continue
                await self._wait(self._next_attempt - now)

    async def _attempt_once(self, requester: Requester) -> None:
        self._busy = True
        try:
            await self._attempt(requester)
        finally:
            self._busy = False
        self._attempts += 1
        assert self._progress is not None
        self._progress.set()

    async def _wait(self, timeout: float) -> None:
        """Sleep up to `timeout` (injectable sleep), waking early on a kick or stop."""
        assert self._wake is not None
        if self._wake.is_set() or timeout <= 0:
            return
        sleeper = asyncio.ensure_future(self._sleep(timeout))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)

    def _take_kick(self) -> None:
        """Apply pending kicks: refresh counts, and schedule a debounced attempt if online."""
        with self._lock:
            if not self._kicked:
                return
            self._kicked = False
            everything, sids = self._kick_all, self._kick_sids
            self._kick_all, self._kick_sids = False, set()
        if everything:
            self._ledger.refresh()
        else:
            for sid in sids:
                self._ledger.refresh_one(sid)
        if self._phase in ("up", "connecting"):
            soon = self._clock() + self.debounce
            self._next_attempt = max(min(self._next_attempt, soon), self._not_before)
        self._publish()
        if self._progress is not None:
            self._progress.set()

    async def _attempt(self, requester: Requester) -> None:
        """One round: health check if needed, then drain every session; failures schedule retry."""
        try:
            await self._round(requester)
            self._backoff.success()
            self._not_before = 0.0
            self._detail = ""
            self._next_attempt = (requester.last_contact or self._clock()) + self.heartbeat
        except SyncError as exc:
            self._on_sync_error(exc)
        except Exception as exc:  # the loop must outlive any bug or store failure
            self._fail("down", f"sync error: {type(exc).__name__}: {exc}", self._backoff.next())
        self._publish()

    async def _round(self, requester: Requester) -> None:
        self._ledger.refresh()
        if self._phase != "up" or self._heartbeat_due(requester):
            await requester.health()
            if self._phase != "up":
                self._log("online" if self._phase == "connecting" else "back online")
                self._sync_endpoint = None  # the server may have changed while we were away
            self._phase = "up"
            self._detail = ""
        self._publish()
        await self._drain_all(requester)

    def _on_sync_error(self, exc: SyncError) -> None:
        if isinstance(exc, OfflineError):
            delay = self._backoff.next(limit=self.heartbeat)  # so a returning server is seen within one heartbeat
            self._fail("down", f"no connection: {exc}", delay)
        elif isinstance(exc, SlowLinkError):
            # Bytes were flowing: retry soon with half of what was in flight, and do not grow back
            # to a size the link just proved too slow for.
            self._pace.slowed()
            delay = self._backoff.next(limit=self.heartbeat)
            self._fail("up", f"slow link: {exc}; batch now {self._pace.limit}", delay)
        elif isinstance(exc, UnauthorizedError):
            if self._phase != "auth":
                self._log(f"unauthorized: the server refused the token; probing every {self.auth_retry:g}s")
            self._phase = "auth"
            self._detail = "the server refused the token"
            self._not_before = self._next_attempt = self._clock() + self.auth_retry
        else:
            delay = self._backoff.next()
            if isinstance(exc, ServerRefusalError) and exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            self._fail("down", str(exc), delay)

    def _fail(self, phase: Phase, reason: str, delay: float) -> None:
        self._phase = phase
        self._detail = reason
        self._not_before = self._next_attempt = self._clock() + delay
        self._log(f"{reason}; retry in {delay:.1f}s")

    def _heartbeat_due(self, requester: Requester) -> bool:
        last = requester.last_contact
        return last is None or self._clock() - last >= self.heartbeat

    # ----------------------------------------------------------------- draining
    async def _drain_all(self, requester: Requester) -> None:
        """Every due session: many per POST /v1/sync when the server has it, else one by one."""
        due = self._ledger.due()
        if due and self.multi and self._sync_endpoint is not False:
            due = await self._drain_multi(requester, due)
        single = SessionDrain(
            self._ledger, self._pace, requester, log=self._log, publish=self._publish, stopping=self._is_stopping
        )
        for sid in due:
            if self._stopping:
                return
            if sid not in self._ledger.conflicts and self._ledger.pending.get(sid, 0) > 0:
                await single.run(sid)

    async def _drain_multi(self, requester: Requester, due: list[str]) -> list[str]:
        """The multi-session pass; returns the sessions left to the per-session path."""
        multi = MultiDrain(
            self._ledger,
            self._pace,
            requester,
            depth=self.pipeline,
            log=self._log,
            publish=self._publish,
            stopping=self._is_stopping,
        )
        left = await multi.run(due)
        if not multi.unsupported:
            self._sync_endpoint = True
            return left
        self._sync_endpoint = False
        self._log("the server has no POST /v1/sync (an older server): sending one session at a time")
        return self._ledger.due()

    def _is_stopping(self) -> bool:
        return self._stopping

    # ----------------------------------------------------------------- status
    def _settled(self, start_attempts: int) -> bool:
        if self._phase == "auth":
            return True
        if self._phase != "up" or self._attempts <= start_attempts:
            return False
        return self._ledger.settled()

    def _compose(self) -> SyncStatus:
        return compose_status(
            self._phase,
            self._ledger.total(),
            self._ledger.conflicts,
            detail=self._detail,
            next_attempt=self._next_attempt,
            now=self._clock(),
        )

    def _publish(self) -> None:
        status = self._compose()
        previous = self._status
        self._status = status
        if previous is not None and replace(previous, retry_in=None) == replace(status, retry_in=None):
            return
        if self.on_status is not None:
            try:
                self.on_status(status)
            except Exception as exc:  # a UI bug must not stop delivery
                self._log(f"on_status failed: {type(exc).__name__}: {exc}")

    def _log(self, line: str) -> None:
        if self.on_log is not None:
            try:
                self.on_log(line)
            except Exception:
                pass

    # ----------------------------------------------------------------- cross-thread plumbing
    def _call_in_loop(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            fn()
            return
        try:
            loop.call_soon_threadsafe(fn)
        except RuntimeError:  # the loop closed meanwhile: nothing to wake
            pass

    def _wake_up(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _on_stop(self) -> None:
        self._wake_up()
        if self._busy and self._task is not None:
            self._task.cancel()

    def _on_new_token(self) -> None:
        if self._phase == "auth":
            self._phase = "down"
            self._not_before = 0.0
            self._next_attempt = self._clock()
        self._wake_up()
