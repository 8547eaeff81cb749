"""The outbox client: delivers every committed event to the sync server once, in order.

The outbox is the store itself (events above each session's acked seq), so nothing is queued in
memory and a restart loses nothing. One long-lived loop (`run`) does everything on a monotonic
clock: heartbeat, kicks (debounced so a burst of steps travels as one batch), backoff, draining.

How answers are treated (the poison policy is the last row):

| outcome                                   | what happens                                           |
|-------------------------------------------|--------------------------------------------------------|
| 200 with a parseable ack inside the batch | ack committed to the store, next batch                 |
| any httpx.TransportError / timeout        | OFFLINE; probe after full jitter in [0, min(backoff, heartbeat)] |
| a data request over `total_timeout`        | slow, not offline: batch halved, retried soon          |
| 401 / 403                                 | UNAUTHORIZED; one probe every `auth_retry` s, no storm  |
| 429 / 5xx / unparsable 200 / unknown 4xx  | transient: backoff, never sooner than Retry-After      |
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
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from tui.errors import StoreError
from tui.sync.backoff import Backoff, parse_retry_after
from tui.sync.protocol import (
    ERR_DIVERGED,
    ERR_GAP,
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    Ack,
    Health,
    ProtocolError,
    SessionMeta,
)
from tui.sync.remote import ServerApi
from tui.sync.status import ConnState, SyncStatus

MAX_ANSWER_BYTES = 1024 * 1024
"""An answer body beyond this is cut and therefore unparsable: a hostile server cannot fill memory."""

Phase = Literal["local", "connecting", "up", "down", "auth"]


class _Offline(Exception):
    """No usable connection: transport error or no answer in time."""


class _Slow(Exception):
    """A data request outlived its total deadline while the link may still be alive."""


class _Unauthorized(Exception):
    """The server refused our token."""


class _Transient(Exception):
    """The server answered but not usefully; retry after backoff (and Retry-After, if any)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class _Batch:
    """An encoded batch: events after `after`, seqs first..last; `poison` says why none fits."""

    after: int
    first: int
    last: int
    count: int
    body: bytes
    poison: str = ""
    limit_used: int = 0


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes


def encode_batch(events: Iterable[Any], max_bytes: int = MAX_BODY_BYTES) -> tuple[bytes, int]:
    """The longest prefix of `events` whose `{"events": [...]}` body fits `max_bytes`.

    Returns (body, count); count 0 means the first event alone is too large. Events are
    StoredEvent models (pydantic's fast JSON) or plain dicts (NaN/Infinity raise ValueError).
    """
    texts = [
        json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if isinstance(event, dict)
        else event.model_dump_json()
        for event in events
    ]
    return encode_raw_batch(texts, max_bytes)


def encode_raw_batch(texts: list[str], max_bytes: int = MAX_BODY_BYTES) -> tuple[bytes, int]:
    """Like `encode_batch` for events that are already JSON text (as the store keeps them)."""
    parts: list[bytes] = []
    size = len(b'{"events":[]}')
    for text in texts:
        part = text.encode()
        extra = len(part) + (1 if parts else 0)
        if size + extra > max_bytes:
            break
        parts.append(part)
        size += extra
    return b'{"events":[' + b",".join(parts) + b"]}", len(parts)


class SyncClient:
    """Delivers a store's queued events to one server; reports a `SyncStatus` on every change."""

    def __init__(
        self,
        store: Any,
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
        self.on_status = on_status
        self.on_log = on_log
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._backoff = Backoff(0.5, 30.0, healthy_period=heartbeat, rng=rng, clock=clock)

        self._phase: Phase = "local" if self.server_url is None else "connecting"
        self._detail = ""
        self._not_before = 0.0
        self._next_attempt = 0.0
        self._last_contact: float | None = None
        self._pending: dict[str, int] = {}
        self._registered: set[str] = set()
        self._conflicts: dict[str, str] = {}
        self._stored_conflicts: set[str] = set()  # diverged sessions, as the store remembers them
        self._batch_limit = self.batch_size
        self._slow_ceiling: int | None = None  # a batch size the link proved too slow for
        self._inflight_count = 0
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
        return dict(self._conflicts)

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
        self._refresh_pending()
        self._publish()
        while not self._stopping:
            self._take_kick()
            assert self._wake is not None
            self._wake.clear()
            await self._wait(self.heartbeat)

    async def _run_online(self) -> None:
        self._phase = "connecting"
        self._next_attempt = self._clock()
        self._refresh_pending()
        self._publish()
        timeout = httpx.Timeout(
            connect=self.connect_timeout, read=self.read_timeout, write=self.read_timeout, pool=self.connect_timeout
        )
        async with httpx.AsyncClient(
            base_url=self.server_url or "",
            timeout=timeout,
            transport=self._transport,
            headers={"User-Agent": "steadychat-sync/1"},
        ) as http:
            while not self._stopping:
                self._take_kick()
                now = self._clock()
                if now >= self._next_attempt:
                    self._busy = True
                    try:
                        await self._attempt(http)
                    finally:
                        self._busy = False
                    self._attempts += 1
                    assert self._progress is not None
                    self._progress.set()
                    continue
                assert self._wake is not None
                self._wake.clear()
                if self._kicked or self._stopping:
                    continue
                await self._wait(self._next_attempt - now)

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
            self._refresh_pending()
        else:
            for sid in sids:
                self._pending[sid] = self.store.pending_count(sid)
        if self._phase in ("up", "connecting"):
            soon = self._clock() + self.debounce
            self._next_attempt = max(min(self._next_attempt, soon), self._not_before)
        self._publish()
        if self._progress is not None:
            self._progress.set()

    async def _attempt(self, http: httpx.AsyncClient) -> None:
        """One round: health check if needed, then drain every session; failures schedule retry."""
        try:
            self._refresh_pending()
            if self._phase != "up" or self._heartbeat_due():
                await self._health(http)
                if self._phase != "up":
                    self._log("online" if self._phase == "connecting" else "back online")
                self._phase = "up"
                self._detail = ""
            self._publish()
            await self._drain_all(http)
            self._backoff.success()
            self._not_before = 0.0
            self._detail = ""
            self._next_attempt = (self._last_contact or self._clock()) + self.heartbeat
        except _Offline as exc:
            delay = self._backoff.next(limit=self.heartbeat)  # so a returning server is seen within one heartbeat
            self._fail("down", f"no connection: {exc}", delay)
        except _Slow as exc:
            # Bytes were flowing: retry soon with half of what was in flight, and do not grow back
            # to a size the link just proved too slow for.
            self._slow_ceiling = max(1, self._inflight_count or self._batch_limit)
            self._batch_limit = max(1, self._slow_ceiling // 2)
            delay = self._backoff.next(limit=self.heartbeat)
            self._fail("up", f"slow link: {exc}; batch now {self._batch_limit}", delay)
        except _Unauthorized:
            if self._phase != "auth":
                self._log(f"unauthorized: the server refused the token; probing every {self.auth_retry:g}s")
            self._phase = "auth"
            self._detail = "the server refused the token"
            self._not_before = self._next_attempt = self._clock() + self.auth_retry
        except _Transient as exc:
            delay = self._backoff.next()
            if exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            self._fail("down", str(exc), delay)
        except Exception as exc:  # the loop must outlive any bug or store failure
            self._fail("down", f"sync error: {type(exc).__name__}: {exc}", self._backoff.next())
        self._publish()

    def _fail(self, phase: Phase, reason: str, delay: float) -> None:
        self._phase = phase
        self._detail = reason
        self._not_before = self._next_attempt = self._clock() + delay
        self._log(f"{reason}; retry in {delay:.1f}s")

    def _heartbeat_due(self) -> bool:
        return self._last_contact is None or self._clock() - self._last_contact >= self.heartbeat

    # ----------------------------------------------------------------- requests
    async def _request(self, http: httpx.AsyncClient, method: str, path: str, body: bytes | None = None) -> _Answer:
        """One request under a total deadline; connectivity and auth failures become exceptions."""
        headers = {"Authorization": f"Bearer {self._token or ''}"}
        if body is not None:
            headers["Content-Type"] = "application/json"

        async def send() -> _Answer:
            async with http.stream(method, path, content=body, headers=headers) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        chunks = [b"\x00"]  # unparsable on purpose
                        break
                    chunks.append(chunk)
                return _Answer(response.status_code, response.headers, b"".join(chunks))

        try:
            answer = await asyncio.wait_for(send(), self.total_timeout)
        except TimeoutError:
            if body is None:
                raise _Offline(f"no answer within {self.total_timeout:g}s") from None
            raise _Slow(f"no complete answer within {self.total_timeout:g}s") from None
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            if body is None:
                raise _Offline(type(exc).__name__) from None
            # A body that takes longer than the read timeout to upload is a slow link, not a dead
            # one: halve the batch and stay `syncing`; the heartbeat decides about offline.
            raise _Slow(type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise _Offline(type(exc).__name__) from None
        self._last_contact = self._clock()
        if answer.status in (401, 403):
            raise _Unauthorized()
        if answer.status == 429 or answer.status >= 500:
            wait = parse_retry_after(answer.headers.get("retry-after"), now=self._wall_clock())
            reason = f"server answered {answer.status}"
            if wait is not None:
                reason += f" (Retry-After {wait:g}s)"
            raise _Transient(reason, wait)
        return answer

    async def _health(self, http: httpx.AsyncClient) -> None:
        answer = await self._request(http, "GET", "/v1/health")
        if answer.status != 200 or not _parses(Health, answer.body, lambda h: h.ok):
            raise _Transient(f"health check answered {answer.status} with an unexpected body")

    # ----------------------------------------------------------------- draining
    async def _drain_all(self, http: httpx.AsyncClient) -> None:
        for sid in list(self._pending):
            if self._stopping:
                return
            if sid in self._conflicts or self._pending.get(sid, 0) <= 0:
                continue
            await self._drain_session(http, sid)

    def _prepare(self, sid: str, after: int, limit: int) -> _Batch:
        """Read and encode the next batch (runs on a worker thread while a POST is in flight).

        Stored events are already their wire JSON, so the body is their text joined: no decode
        and re-encode per event on the hot path of a drain.
        """
        try:
            rows = self.store.raw_events(sid, after, limit)
        except StoreError as exc:
            return _Batch(after, after + 1, 0, 0, b"", str(exc))
        if not rows:
            return _Batch(after, 0, 0, 0, b"")
        body, count = encode_raw_batch([text for _, text in rows])
        if count == 0:
            return _Batch(after, rows[0][0], 0, 0, b"", f"event {rows[0][0]} is larger than {MAX_BODY_BYTES} bytes")
        return _Batch(after, rows[0][0], rows[count - 1][0], count, body)

    async def _drain_session(self, http: httpx.AsyncClient, sid: str) -> None:
        """Send `sid`'s queued events in seq order until none is left or a failure stops us.

        While one batch is in flight the next one is read and encoded on a worker thread, so
        the store and the network overlap; the prefetch is used only if the ack is exactly the
        batch's last seq, otherwise the next batch is read again from the acked seq.
        """
        if sid not in self._registered and not await self._register(http, sid):
            return
        reregistered = False
        batch: _Batch | None = None
        while not self._stopping:
            acked = self.store.acked_seq(sid)
            if batch is None or batch.after != acked or batch.limit_used != self._batch_limit:
                batch = await asyncio.to_thread(self._prepare, sid, acked, self._batch_limit)
                batch.limit_used = self._batch_limit
            if batch.poison:
                self._conflict(sid, f"{batch.poison}; poison, kept locally")
                return
            if batch.count == 0:
                self._pending[sid] = 0
                self._slow_ceiling = None  # drained: the next backlog may meet a faster link
                return
            current, batch = batch, None
            first, last = current.first, current.last
            self._pending[sid] = max(0, self.store.last_seq(sid) - acked)
            self._publish()
            limit = self._batch_limit
            self._inflight_count = current.count
            prefetch = asyncio.ensure_future(asyncio.to_thread(self._prepare, sid, last, limit))
            try:
                answer = await self._request(http, "POST", f"/v1/sessions/{sid}/events", current.body)
            finally:
                if not prefetch.done():
                    prefetch.cancel()
                    await asyncio.gather(prefetch, return_exceptions=True)
            if answer.status == 200:
                ack = _parse(Ack, answer.body)
                if ack is None or not first <= ack.acked_seq <= last:
                    raise _Transient(f"acknowledgement not understood for seqs {first}..{last}")
                if ack.acked_seq > acked:
                    self.store.set_acked_seq(sid, ack.acked_seq)
                self._pending[sid] = max(0, self.store.last_seq(sid) - ack.acked_seq)
                ceiling = self.batch_size if self._slow_ceiling is None else self._slow_ceiling - 1
                self._batch_limit = max(1, min(ceiling, self._batch_limit * 2))
                self._log(f"sent {_short(sid)} {first}..{ack.acked_seq}")
                if ack.acked_seq == last and not prefetch.cancelled() and prefetch.exception() is None:
                    batch = prefetch.result()
                    batch.limit_used = limit if limit == self._batch_limit else -1
                continue
            if answer.status == 409:
                error = _parse(ProtocolError, answer.body)
                if (
                    error is not None
                    and error.error == ERR_GAP
                    and error.acked_seq is not None
                    and error.acked_seq < acked
                ):
                    self._log(
                        f"gap: server holds {_short(sid)} up to {error.acked_seq}; resending from {error.acked_seq + 1}"
                    )
                    self.store.set_acked_seq(sid, error.acked_seq)
                    continue
                if error is not None and error.error == ERR_DIVERGED:
                    held = error.acked_seq if error.acked_seq is not None else "?"
                    detail = f"the server holds other content for seqs {first}..{last} (server at {held})"
                    self._diverged(sid, detail, error.acked_seq)
                    return
                raise _Transient("409 answer not understood")
            if answer.status == 404:
                if reregistered:
                    raise _Transient("session still unknown after registering it again")
                reregistered = True
                self._registered.discard(sid)
                if not await self._register(http, sid):
                    return
                continue
            if answer.status == 413:
                if current.count > 1:
                    self._batch_limit = max(1, current.count // 2)
                    self._log(f"batch too large for the server; now {self._batch_limit} events")
                    continue
                self._conflict(sid, f"event {first} is too large for the server (413); poison, kept locally")
                return
            if answer.status == 422:
                self._conflict(sid, f"the server refused seqs {first}..{last} as invalid (422); poison, kept locally")
                return
            raise _Transient(f"server answered {answer.status}")

    async def _register(self, http: httpx.AsyncClient, sid: str) -> bool:
        """PUT the session's meta; False if the session cannot be synced (now a conflict)."""
        meta = self._meta_for(sid)
        if meta is None:
            self._conflict(sid, "no session record or start event to register the session with")
            return False
        answer = await self._request(http, "PUT", f"/v1/sessions/{sid}", meta.model_dump_json().encode())
        if answer.status in (200, 201):
            self._registered.add(sid)
            return True
        if answer.status == 409:
            self._diverged(sid, "the server has this session with other flow or device details", None)
            return False
        if answer.status == 404:
            self._conflict(sid, "the server refuses this session id (another identity owns it)")
            return False
        if answer.status == 422:
            self._conflict(sid, "the server refused the session details as invalid (422)")
            return False
        raise _Transient(f"registering the session: server answered {answer.status}")

    def _meta_for(self, sid: str) -> SessionMeta | None:
        """Registration meta from the session record, else from the `start` event (seq 1)."""
        record = self.store.get_session(sid)
        source: Any = record
        if record is None:
            first = self.store.events(sid, after=0, limit=1)
            if not first or first[0].type != "start":
                return None
            source = first[0].data
        fields = {}
        for name in ("flow_id", "flow_hash", "device_id", "created_at"):
            value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
            if isinstance(value, datetime):
                value = value.isoformat()
            fields[name] = "" if value is None else str(value)
        try:
            return SessionMeta(**fields)
        except ValidationError:
            return None

    def _diverged(self, sid: str, detail: str, server_seq: int | None) -> None:
        """A divergence outlives this process: the store keeps it until `steadychat resolve`."""
        self.store.mark_conflict(sid, detail, server_seq)
        self._stored_conflicts.add(sid)
        self._conflict(sid, detail)

    def _load_stored_conflicts(self) -> None:
        """Follow the store's conflict marks: set by an earlier run, cleared by `resolve`."""
        stored = self.store.conflicts()
        for sid in self._stored_conflicts - stored.keys():
            self._conflicts.pop(sid, None)
            self._registered.discard(sid)
        for sid, mark in stored.items():
            self._conflicts.setdefault(sid, str(mark.get("detail", "diverged from the server")))
        self._stored_conflicts = set(stored)

    def _conflict(self, sid: str, detail: str) -> None:
        self._conflicts[sid] = detail
        self._log(f"conflict in session {_short(sid)}: {detail}")
        self._publish()

    # ----------------------------------------------------------------- status
    def _refresh_pending(self) -> None:
        self._load_stored_conflicts()
        self._pending = {sid: self.store.pending_count(sid) for sid in self.store.session_ids()}

    def _settled(self, start_attempts: int) -> bool:
        if self._phase == "auth":
            return True
        if self._phase != "up" or self._attempts <= start_attempts:
            return False
        return all(n <= 0 or sid in self._conflicts for sid, n in self._pending.items())

    def _compose(self) -> SyncStatus:
        pending = sum(self._pending.values())
        if self._phase == "local":
            return SyncStatus(ConnState.LOCAL_ONLY, pending)
        if self._phase == "auth":
            return SyncStatus(ConnState.UNAUTHORIZED, pending, detail=self._detail)
        if self._phase == "down":
            now = self._clock()
            return SyncStatus(
                ConnState.OFFLINE,
                pending,
                retry_in=max(0.0, self._next_attempt - now),
                detail=self._detail,
                retry_at=self._next_attempt,
            )
        if self._phase == "connecting":
            return SyncStatus(ConnState.CONNECTING, pending)
        if self._conflicts:
            detail = "; ".join(f"{_short(sid)}: {why}" for sid, why in self._conflicts.items())
            return SyncStatus(ConnState.CONFLICT, pending, detail=detail)
        if pending:
            return SyncStatus(ConnState.SYNCING, pending, detail=self._detail)
        return SyncStatus(ConnState.ONLINE, 0)

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


def _parse(model: Any, body: bytes) -> Any:
    try:
        return model.model_validate_json(body)
    except (ValidationError, ValueError):
        return None


def _parses(model: Any, body: bytes, check: Callable[[Any], bool]) -> bool:
    parsed = _parse(model, body)
    return parsed is not None and bool(check(parsed))


def _short(sid: str) -> str:
    return sid[:8]
