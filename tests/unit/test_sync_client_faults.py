"""SyncClient against the real server app through a fault-injecting httpx transport.

The server is the real ASGI app (in process, tmp SQLite); between it and the client sits a
wrapping transport that drops connections, times out, loses acks or answers garbage. Time is
virtual: the client's clock and sleep are injected, so "Retry-After: 7" is checked exactly and
a ten-minute unauthorized period runs in milliseconds. Every test ends with the invariant:
server events == client events, seq 1..N, nothing more.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import random
import sqlite3
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tui.server.app import create_app
from tui.steps import StoredEvent, as_json_data
from tui.store import SessionRecord, Store
from tui.sync.client import SyncClient
from tui.sync.status import ConnState, SyncStatus
from tui.sync.transport import tls_for

TOKEN = "unit-token-0123456789"
URL = "http://sync.test"
SID_A = "a" * 32
SID_B = "b" * 32
SEED = 20260101

Fault = Any  # "connect" | "read_timeout" | "lost_ack" | "hang" | (status, headers, body)


class VirtualClock:
    """Monotonic time that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self._moved = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        self._moved.set()
        await asyncio.sleep(0)

    async def reach(self, moment: float, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.now < moment:
            assert time.monotonic() < deadline, f"virtual clock stuck at {self.now}"
            self._moved.clear()
            await asyncio.wait_for(self._moved.wait(), deadline - time.monotonic())


class FaultTransport(httpx.AsyncBaseTransport):
    """Applies planned faults (first match wins, used once) and persistent rules, else forwards."""

    def __init__(self, inner: httpx.AsyncBaseTransport, clock: VirtualClock, store: Store) -> None:
        self.inner = inner
        self.clock = clock
        self.store = store
        self.plan: list[tuple[str, Fault]] = []
        self.rules: list[Callable[[httpx.Request], Fault | None]] = []
        self.calls: list[dict[str, Any]] = []

    def fail(self, method: str, fault: Fault, times: int = 1) -> None:
        self.plan += [(method, fault)] * times

    def _pick(self, request: httpx.Request) -> Fault | None:
        for index, (method, fault) in enumerate(self.plan):
            if method == request.method:
                del self.plan[index]
                return fault
        for rule in self.rules:
            fault = rule(request)
            if fault is not None:
                return fault
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._pick(request)
        call = {
            "t": self.clock.now,
            "method": request.method,
            "path": request.url.path,
            "fault": fault,
            "acked_a": self.store.acked_seq(SID_A),
            "content": request.content,
        }
        self.calls.append(call)
        if fault == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if fault == "read_timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault == "hang":
            await asyncio.Event().wait()
        if fault == "lost_ack":
            response = await self.inner.handle_async_request(request)
            await response.aread()
            call["server_status"] = response.status_code
            raise httpx.RemoteProtocolError("server disconnected without sending a response", request=request)
        if fault == "short_ack":  # the server commits it all, the answer says 5 fewer
            response = await self.inner.handle_async_request(request)
            return httpx.Response(response.status_code, content=_shorten_acks(await response.aread(), 5))
        if isinstance(fault, tuple):
            status, headers, body = fault
            return httpx.Response(status, headers=headers, content=body)
        response = await self.inner.handle_async_request(request)
        call["status"] = response.status_code
        return response

    def requests(self, method: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.calls if method is None or c["method"] == method]


def _shorten_acks(body: bytes, by: int) -> bytes:
    answer = json.loads(body)
    for result in answer.get("results", [answer]):
        if "acked_seq" in result:
            result["acked_seq"] -= by
    return json.dumps(answer).encode()


def _first_seqs(request: httpx.Request) -> dict[str, int]:
    """sid → first seq of the events a POST carries (per-session POST or POST /v1/sync)."""
    body = json.loads(request.content)
    if "sessions" in body:
        return {entry["sid"]: entry["events"][0]["seq"] for entry in body["sessions"] if entry.get("events")}
    return {request.url.path.split("/")[3]: body["events"][0]["seq"]}


class Statuses:
    """Collects statuses and lets a test await one that matches."""

    def __init__(self) -> None:
        self.seen: list[SyncStatus] = []
        self._changed = asyncio.Event()

    def __call__(self, status: SyncStatus) -> None:
        self.seen.append(status)
        self._changed.set()

    async def until(self, predicate: Callable[[SyncStatus], bool], timeout: float = 10.0) -> SyncStatus:
        deadline = time.monotonic() + timeout
        while True:
            for status in self.seen:
                if predicate(status):
                    return status
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no matching status in {[s.words() for s in self.seen]}"
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    def states(self) -> list[ConnState]:
        return [s.state for s in self.seen]


class Env:
    def __init__(self, tmp_path: Path, mode: str = "multi") -> None:
        self.mode = mode  # "multi": POST /v1/sync; "single": PUT + POSTs per session (older servers)
        self.server_db = tmp_path / "server.db"
        self.app = create_app(self.server_db, [TOKEN])
        self.store = Store.open(tmp_path / "client.db")
        self.clock = VirtualClock()
        self.transport = FaultTransport(httpx.ASGITransport(app=self.app), self.clock, self.store)
        self.statuses = Statuses()
        self.logs: list[str] = []

    def client(self, token: str = TOKEN, **options: Any) -> SyncClient:
        options.setdefault("heartbeat", 5.0)
        options.setdefault("multi", self.mode == "multi")
        return SyncClient(
            self.store,
            URL,
            token,
            transport=self.transport,
            clock=self.clock,
            sleep=self.clock.sleep,
            rng=random.Random(SEED),
            on_status=self.statuses,
            on_log=self.logs.append,
            **options,
        )

    def add(self, sid: str, first: int, last: int, text: str = "step") -> None:
        if self.store.get_session(sid) is None:
            self.store.put_session(
                SessionRecord(
                    id=sid,
                    flow_id="demo",
                    flow_name="Demo",
                    flow_hash="h" * 64,
                    device_id=self.store.device_id,
                    created_at="2026-01-01T00:00:00.000Z",
                )
            )
        self.store.append_events(
            sid,
            [
                StoredEvent(
                    seq=seq,
                    type="message",
                    ts="2026-01-01T00:00:00.000Z",
                    data={"kind": "text", "text": f"{text} {seq}"},
                )
                for seq in range(first, last + 1)
            ],
        )

    def server_events(self, sid: str) -> list[dict[str, Any]]:
        """What the server's database holds for `sid`, read from its file (the app's own
        connection lives on the app's loop)."""
        owner = hashlib.sha256(TOKEN.encode()).hexdigest()
        conn = sqlite3.connect(f"file:{self.server_db}?mode=ro", uri=True, timeout=10)
        try:
            rows = conn.execute(
                "SELECT e.seq, e.type, e.ts, e.data FROM events e JOIN sessions s ON s.sid = e.sid "
                "WHERE e.sid = ? AND s.owner = ? ORDER BY e.seq",
                (sid, owner),
            ).fetchall()
        finally:
            conn.close()
        return [{"seq": seq, "type": kind, "ts": ts, "data": json.loads(data)} for seq, kind, ts, data in rows]

    def server_last_seq(self, sid: str) -> int:
        conn = sqlite3.connect(f"file:{self.server_db}?mode=ro", uri=True, timeout=10)
        try:
            row = conn.execute("SELECT last_seq FROM sessions WHERE sid = ?", (sid,)).fetchone()
        finally:
            conn.close()
        return row[0] if row else 0

    def assert_invariant(self, *sids: str) -> None:
        """Server events == client events, seq 1..N, nothing more; every event acked."""
        for sid in sids:
            local = [as_json_data(e) for e in self.store.events(sid)]
            assert [e["seq"] for e in local] == list(range(1, len(local) + 1))
            assert self.server_events(sid) == local
            assert self.store.acked_seq(sid) == len(local)

    def close(self) -> None:
        self.store.close()
        asyncio.run(self.app.state.backend.close())


@pytest.fixture(params=["multi", "single"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """Each test runs with POST /v1/sync and with the per-session path older servers get."""
    environment = Env(tmp_path, request.param)
    try:
        yield environment
    finally:
        environment.close()


# ------------------------------------------------------------------ connectivity
async def test_connect_errors_mean_offline_then_everything_drains(env: Env) -> None:
    env.add(SID_A, 1, 30)
    env.transport.fail("GET", "connect", times=3)
    left = await env.client().drain(10)
    assert left == 0
    offline = [s for s in env.statuses.seen if s.state is ConnState.OFFLINE]
    assert offline and offline[0].pending == 30
    assert all(s.retry_in is not None and s.retry_in <= 5.0 for s in offline)  # a probe every ≤ heartbeat
    assert env.statuses.states()[0] is ConnState.CONNECTING
    assert env.statuses.seen[-1].words() == "online"
    env.assert_invariant(SID_A)


async def test_read_timeout_on_post_is_a_slow_link_and_the_batch_is_resent(env: Env) -> None:
    """The upload outlasted the read timeout: bytes were flowing, so halve and stay syncing."""
    env.add(SID_A, 1, 12)
    env.transport.fail("POST", "read_timeout", times=2)
    assert await env.client().drain(10) == 0
    assert ConnState.OFFLINE not in env.statuses.states()
    assert any(s.state is ConnState.SYNCING and "slow" in s.detail for s in env.statuses.seen)
    env.assert_invariant(SID_A)


async def test_read_timeout_on_health_is_offline(env: Env) -> None:
    env.add(SID_A, 1, 3)
    env.transport.fail("GET", "read_timeout", times=1)
    assert await env.client().drain(10) == 0
    assert ConnState.OFFLINE in env.statuses.states()
    env.assert_invariant(SID_A)


async def test_black_hole_declares_offline_within_the_total_deadline(env: Env) -> None:
    env.add(SID_A, 1, 5)
    env.transport.rules.append(lambda r: "hang" if r.method == "GET" else None)
    started = time.monotonic()
    client = env.client(total_timeout=0.2)
    left = await client.drain(1.0)
    assert left == 5 and time.monotonic() - started < 3.0  # bounded, never hangs
    assert client.status.state is ConnState.OFFLINE
    env.transport.rules.clear()
    assert await client.drain(5) == 0
    env.assert_invariant(SID_A)


async def test_slow_post_is_not_offline_and_shrinks_the_batch(env: Env) -> None:
    env.add(SID_A, 1, 40)
    env.transport.fail("POST", "hang", times=2)
    client = env.client(total_timeout=0.2, batch_size=40)
    assert await client.drain(10) == 0
    assert ConnState.OFFLINE not in env.statuses.states()
    assert any(s.state is ConnState.SYNCING and "slow" in s.detail for s in env.statuses.seen)
    sizes = [c for c in env.transport.requests("POST") if c["fault"] is None]
    assert sizes  # delivered after halving twice: 40 → 20 → 10, then growing back
    assert any("batch now 10" in line for line in env.logs)
    env.assert_invariant(SID_A)


async def test_offline_retries_are_jittered_and_bounded(env: Env) -> None:
    env.add(SID_A, 1, 3)
    env.transport.rules.append(lambda r: "connect")
    client = env.client()
    task = asyncio.create_task(client.run())
    await env.clock.reach(100.0 + 120.0)
    client.stop()
    await task
    times = [c["t"] for c in env.transport.calls]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 20 <= len(times) <= 120  # no tight loop, still probing at least every heartbeat
    assert max(gaps) <= 5.0 + 1e-6 and len({round(g, 6) for g in gaps}) == len(gaps)  # spread by jitter
    assert sorted(gaps)[len(gaps) // 2] > 1.0
    assert env.store.acked_seq(SID_A) == 0 and client.status.state is ConnState.OFFLINE
    env.transport.rules.clear()
    assert await client.drain(5) == 0
    env.assert_invariant(SID_A)


# ------------------------------------------------------------------ hostile answers
@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_are_transient(env: Env, status: int) -> None:
    env.add(SID_A, 1, 8)
    env.transport.fail("POST", (status, {}, b"Internal Server Error"), times=3)
    assert await env.client().drain(10) == 0
    failed = [c for c in env.transport.requests("POST") if c["fault"] is not None]
    assert len(failed) == 3 and all(c["acked_a"] == 0 for c in failed)
    env.assert_invariant(SID_A)


async def test_503_retry_after_7_is_honoured_exactly(env: Env) -> None:
    env.add(SID_A, 1, 6)
    env.transport.fail("POST", (503, {"Retry-After": "7"}, b"busy"))
    assert await env.client().drain(10) == 0
    calls = env.transport.calls
    index = next(i for i, c in enumerate(calls) if c["fault"] is not None)
    assert calls[index + 1]["t"] >= calls[index]["t"] + 7.0
    assert any(s.words() == "offline · 6 queued · retry in 7s" for s in env.statuses.seen)
    env.assert_invariant(SID_A)


async def test_429_with_an_http_date_is_honoured(env: Env) -> None:
    env.add(SID_A, 1, 4)
    wall = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(wall + timedelta(seconds=30), usegmt=True)
    env.transport.fail("POST", (429, {"Retry-After": header}, b""))
    assert await env.client(wall_clock=lambda: wall).drain(10) == 0
    calls = env.transport.calls
    index = next(i for i, c in enumerate(calls) if c["fault"] is not None)
    assert calls[index + 1]["t"] >= calls[index]["t"] + 30.0
    env.assert_invariant(SID_A)


@pytest.mark.parametrize(
    "answer",
    [
        (200, {"Content-Type": "text/html"}, b"<html><body>Welcome to the hotel wifi</body></html>"),
        (200, {"Content-Type": "application/json"}, b'{"acked_seq": 5'),
        (200, {"Content-Type": "application/json"}, b'{"acked_seq": 999}'),
        (200, {"Content-Type": "application/json"}, b'{"acked_seq": "5"}'),
        (200, {}, b""),
    ],
)
async def test_an_unparsable_200_is_never_an_ack(env: Env, answer: tuple[int, dict[str, str], bytes]) -> None:
    env.add(SID_A, 1, 5)
    env.transport.fail("POST", answer, times=2)
    assert await env.client().drain(10) == 0
    posts = env.transport.requests("POST")
    assert [c["acked_a"] for c in posts[:3]] == [0, 0, 0]  # nothing credited until a real ack
    env.assert_invariant(SID_A)


async def test_an_html_health_answer_is_not_online(env: Env) -> None:
    env.add(SID_A, 1, 2)
    env.transport.fail("GET", (200, {"Content-Type": "text/html"}, b"<html>captive portal</html>"))
    assert await env.client().drain(10) == 0
    assert env.statuses.states()[:2] == [ConnState.CONNECTING, ConnState.OFFLINE]
    env.assert_invariant(SID_A)


async def test_lost_ack_is_resent_and_acknowledged_again(env: Env) -> None:
    env.add(SID_A, 1, 25)
    env.transport.fail("POST", "lost_ack")
    assert await env.client().drain(10) == 0
    posts = env.transport.requests("POST")
    assert posts[0]["fault"] == "lost_ack" and posts[0]["server_status"] == 200  # the server committed
    assert posts[1]["acked_a"] == 0 and posts[1]["status"] == 200  # resent, acknowledged again
    assert sum("sent aaaaaaaa 1..25" in line for line in env.logs) == 1  # the ack committed once
    env.assert_invariant(SID_A)


async def test_a_long_session_goes_in_order_under_random_faults(env: Env) -> None:
    """Batch k+1 of a session leaves only once the server holds batch k, also when the client
    reads it ahead while k travels; cuts, lost answers and 5xx drawn from a seeded RNG."""
    env.add(SID_A, 1, 150)
    early: list[tuple[int, int]] = []

    def check_order(request: httpx.Request) -> Fault | None:
        if request.method == "POST":
            first = _first_seqs(request).get(SID_A)
            held = env.server_last_seq(SID_A)
            if first is not None and first > held + 1:
                early.append((first, held))
        return None

    rng = random.Random(SEED)
    faults: list[Fault] = ["connect", "lost_ack", "short_ack", (500, {}, b"oops"), (503, {"Retry-After": "1"}, b"")]
    env.transport.rules += [
        check_order,
        lambda r: rng.choice(faults) if r.method == "POST" and rng.random() < 0.3 else None,
    ]
    client = env.client(batch_size=10)
    for _ in range(30):  # bounded: each drain ends early once everything is acked
        if await client.drain(30) == 0:
            break
    assert early == []
    assert all(any(c["fault"] == kind for c in env.transport.calls) for kind in ("lost_ack", "short_ack"))
    env.assert_invariant(SID_A)


async def test_a_short_ack_resends_from_the_acked_seq_not_from_the_batch_read_ahead(env: Env) -> None:
    env.add(SID_A, 1, 40)
    env.transport.rules.append(
        lambda r: "short_ack" if r.method == "POST" and _first_seqs(r).get(SID_A) == 11 else None
    )
    assert await env.client(batch_size=10).drain(10) == 0
    firsts = [
        _first_seqs(httpx.Request("POST", URL + c["path"], content=c["content"]))[SID_A]
        for c in env.transport.requests("POST")
    ]
    assert firsts[:4] == [1, 11, 16, 26]  # 11..20 acknowledged up to 15 only: 16.. next, not 21..
    env.assert_invariant(SID_A)


async def test_413_halves_the_batch_until_it_fits(env: Env) -> None:
    env.add(SID_A, 1, 300)

    def small_batches_only(request: httpx.Request) -> Fault | None:
        if request.method == "POST" and request.content.count(b'"seq"') > 64:
            return (413, {}, b'{"error": "too_large"}')
        return None

    env.transport.rules.append(small_batches_only)
    assert await env.client().drain(10) == 0
    env.assert_invariant(SID_A)


async def test_a_single_event_too_large_is_poison_and_other_sessions_go_on(env: Env) -> None:
    env.add(SID_A, 1, 3)
    env.store.append_events(SID_A, [StoredEvent(seq=4, type="message", ts="t", data={"text": "x" * (1024 * 1024)})])
    env.add(SID_A, 5, 6)
    env.add(SID_B, 1, 10)
    client = env.client()
    assert await client.drain(10) == 3  # seq 4..6 of A stay queued, never dropped
    assert client.status.state is ConnState.CONFLICT and client.status.words() == "conflict"
    assert SID_A in client.conflicts and "larger than" in client.conflicts[SID_A]
    assert env.store.acked_seq(SID_A) == 3 and [e["seq"] for e in env.server_events(SID_A)] == [1, 2, 3]
    env.assert_invariant(SID_B)


async def test_a_422_is_poison_for_that_session_only(env: Env) -> None:
    env.add(SID_A, 1, 3)
    env.add(SID_B, 1, 3)
    env.transport.rules.append(  # A's events, in its own POST or inside a POST /v1/sync
        lambda r: (
            (422, {}, b'{"error": "invalid"}')
            if r.method == "POST" and (SID_A in r.url.path or SID_A.encode() in r.content)
            else None
        )
    )
    client = env.client()
    assert await client.drain(10) == 3
    assert set(client.conflicts) == {SID_A}
    env.assert_invariant(SID_B)


# ------------------------------------------------------------------ auth
async def test_unauthorized_probes_slowly_keeps_the_queue_then_drains_exactly(env: Env) -> None:
    env.add(SID_A, 1, 50)
    client = env.client(token="revoked-token", auth_retry=60.0)
    task = asyncio.create_task(client.run())
    await env.statuses.until(lambda s: s.state is ConnState.UNAUTHORIZED)
    for _ in range(20):  # bursts of steps must not turn into requests
        client.kick(SID_A)
    await env.clock.reach(100.0 + 600.0)
    client.stop()
    await task
    assert len(env.transport.calls) <= 600 / 60 + 2
    assert env.transport.requests("POST") == []
    assert client.status.words() == "unauthorized" and client.status.pending == 50
    assert env.store.acked_seq(SID_A) == 0
    client.set_token(TOKEN)
    assert await client.drain(10) == 0
    env.assert_invariant(SID_A)


async def test_drain_returns_at_once_when_unauthorized(env: Env) -> None:
    env.add(SID_A, 1, 5)
    started = time.monotonic()
    assert await env.client(token="wrong").drain(20) == 5
    assert time.monotonic() - started < 5


# ------------------------------------------------------------------ server amnesia and conflicts
def _server_sql(env: Env, sql: str, args: tuple[Any, ...] = ()) -> None:
    conn = sqlite3.connect(env.server_db)
    try:
        with conn:
            conn.execute(sql, args)
    finally:
        conn.close()


async def test_gap_after_server_restore_resends_from_the_servers_acked_seq(env: Env) -> None:
    env.add(SID_A, 1, 10)
    client = env.client()
    assert await client.drain(10) == 0
    _server_sql(env, "DELETE FROM events WHERE sid = ? AND seq > 5", (SID_A,))  # an older backup:
    _server_sql(env, "UPDATE sessions SET last_seq = 5 WHERE sid = ?", (SID_A,))  # its sessions row too
    env.add(SID_A, 11, 15)
    assert await client.drain(10) == 0
    assert any("gap" in line and "up to 5" in line for line in env.logs)
    env.assert_invariant(SID_A)


async def test_session_forgotten_by_the_server_is_registered_again(env: Env) -> None:
    env.add(SID_A, 1, 4)
    registrations: list[str] = []

    def count_registrations(request: httpx.Request) -> Fault | None:
        if request.method == "PUT" or b'"meta":' in request.content:  # a PUT, or meta in a sync entry
            registrations.append(request.url.path)
        return None

    env.transport.rules.append(count_registrations)
    client = env.client()
    assert await client.drain(10) == 0
    _server_sql(env, "DELETE FROM events WHERE sid = ?", (SID_A,))
    _server_sql(env, "DELETE FROM sessions WHERE sid = ?", (SID_A,))
    env.add(SID_A, 5, 6)
    assert await client.drain(10) == 0
    # first sync, then again after the 404; in one sync request, the entry 5..6 with meta is a
    # gap (the server holds nothing), which undoes its registration too, so 1..6 carries it again
    assert len(registrations) == (3 if env.mode == "multi" else 2)
    env.assert_invariant(SID_A)


async def test_diverged_session_is_a_conflict_and_nothing_is_overwritten(env: Env) -> None:
    env.add(SID_A, 1, 5)
    env.add(SID_B, 1, 5)
    other = [{"seq": s, "type": "message", "ts": "t", "data": {"text": "from another device"}} for s in range(1, 4)]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app), base_url=URL, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as raw:
        meta = {
            "flow_id": "demo",
            "flow_hash": "h" * 64,
            "device_id": env.store.device_id,
            "created_at": "2026-01-01T00:00:00.000Z",
        }
        assert (await raw.put(f"/v1/sessions/{SID_A}", json=meta)).status_code == 201
        assert (await raw.post(f"/v1/sessions/{SID_A}/events", json={"events": other})).status_code == 200
    client = env.client()
    assert await client.drain(10) == 5
    assert client.status.state is ConnState.CONFLICT and SID_A in client.conflicts
    assert [e["data"]["text"] for e in env.server_events(SID_A)] == ["from another device"] * 3
    env.assert_invariant(SID_B)


# ------------------------------------------------------------------ local-only and kicks
async def test_no_server_means_local_only(env: Env) -> None:
    env.add(SID_A, 1, 3)
    client = SyncClient(env.store, None, None, on_status=env.statuses)
    assert await client.drain(1) == 3
    task = asyncio.create_task(client.run())
    status = await env.statuses.until(lambda s: s.state is ConnState.LOCAL_ONLY)
    assert status.words() == "local-only" and status.pending == 3
    client.stop()
    await task


async def test_kicks_are_debounced_into_one_batch(env: Env) -> None:
    env.add(SID_A, 1, 1)
    client = env.client()
    task = asyncio.create_task(client.run())
    await env.statuses.until(lambda s: s.state is ConnState.ONLINE)
    posts_before = len(env.transport.requests("POST"))
    for seq in range(2, 12):  # a burst of steps, each kicking
        env.add(SID_A, seq, seq)
        client.kick(SID_A)
    await env.statuses.until(lambda s: s.state is ConnState.SYNCING)
    await env.statuses.until(
        lambda s: s is env.statuses.seen[-1] and s.state is ConnState.ONLINE and env.store.acked_seq(SID_A) == 11
    )
    client.stop()
    await task
    assert len(env.transport.requests("POST")) - posts_before == 1
    env.assert_invariant(SID_A)


# ------------------------------------------------------------------ POST /v1/sync
@pytest.mark.parametrize("status", [404, 405])
async def test_an_older_server_without_sync_is_served_one_session_at_a_time(env: Env, status: int) -> None:
    if env.mode == "single":
        pytest.skip("the per-session path never asks for /v1/sync")
    env.add(SID_A, 1, 5)
    env.add(SID_B, 1, 5)
    env.transport.rules.append(lambda r: (status, {}, b'{"error": "not_found"}') if r.url.path == "/v1/sync" else None)
    client = env.client()
    task = asyncio.create_task(client.run())
    await env.statuses.until(lambda s: s.state is ConnState.ONLINE)
    env.add(SID_A, 6, 8)
    client.kick(SID_A)
    await env.statuses.until(
        lambda s: s is env.statuses.seen[-1] and s.state is ConnState.ONLINE and env.store.acked_seq(SID_A) == 8
    )
    client.stop()
    await task
    assert [c["path"] for c in env.transport.calls].count("/v1/sync") == 1  # asked once, remembered
    assert [c["method"] for c in env.transport.calls].count("PUT") == 2
    assert any("older server" in line for line in env.logs)
    env.assert_invariant(SID_A, SID_B)


async def test_many_sessions_under_random_faults_land_exactly_once(env: Env) -> None:
    """Cuts, lost answers, timeouts and 5xx drawn from a seeded RNG while requests are pipelined."""
    sids = [f"{n:032x}" for n in range(1, 41)]
    for n, sid in enumerate(sids):
        env.add(sid, 1, 5 + n % 7)
    rng = random.Random(SEED)
    faults: list[Fault] = ["connect", "read_timeout", "lost_ack", (500, {}, b"oops"), (503, {"Retry-After": "1"}, b"")]
    env.transport.rules.append(lambda r: rng.choice(faults) if r.method == "POST" and rng.random() < 0.4 else None)
    client = env.client(batch_size=4)  # 4 events a session, 40 a request: many requests, many sessions each
    for _ in range(30):  # bounded: each drain ends early once everything is acked
        if await client.drain(30) == 0:
            break
    assert client.pending() == 0
    assert any(c["fault"] == "lost_ack" for c in env.transport.calls)
    env.assert_invariant(*sids)


# ------------------------------------------------------------------ TLS settings
def test_a_plain_http_server_skips_the_ca_bundle_and_trusts_no_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    bare = tls_for("http://127.0.0.1:8787")
    assert isinstance(bare, ssl.SSLContext)
    assert bare.verify_mode is ssl.CERT_REQUIRED and bare.check_hostname  # fails closed should TLS happen
    assert bare.cert_store_stats()["x509_ca"] == 0
    assert tls_for("https://sync.example") is True
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.example:3128")
    assert tls_for("http://sync.example") is True  # an https proxy needs the bundle
