"""The sync client against a real server on 127.0.0.1: drains, outages, auth, bounded exit.

Every multi-step test ends with the invariant: server events == client events, seq 1..N, nothing
more, every event acked.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tui.steps import StoredEvent, as_json_data
from tui.store import SessionRecord, Store
from tui.sync.background import BackgroundSync, sync_all
from tui.sync.status import ConnState, SyncStatus

SIDS = ["1" * 32, "2" * 32, "3" * 32]


class Recorder:
    """Statuses from the sync thread; tests wait on a condition, never on a bare sleep."""

    def __init__(self) -> None:
        self.seen: list[SyncStatus] = []
        self._cond = threading.Condition()

    def __call__(self, status: SyncStatus) -> None:
        with self._cond:
            self.seen.append(status)
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.seen)

    def wait_for(self, predicate: Callable[[SyncStatus], bool], since: int = 0, timeout: float = 15.0) -> SyncStatus:
        with self._cond:
            found: list[SyncStatus] = []

            def match() -> bool:
                found[:] = [s for s in self.seen[since:] if predicate(s)]
                return bool(found)

            assert self._cond.wait_for(match, timeout), f"no such status in {[s.words() for s in self.seen]}"
            return found[0]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "client.db") as opened:
        yield opened


def add(store: Store, sid: str, first: int, last: int) -> None:
    if store.get_session(sid) is None:
        store.put_session(
            SessionRecord(
                id=sid,
                flow_id="demo",
                flow_name="Demo",
                flow_hash="h" * 64,
                device_id=store.device_id,
                created_at="2026-01-01T00:00:00.000Z",
            )
        )
    store.append_events(
        sid,
        [
            StoredEvent(
                seq=seq, type="message", ts="2026-01-01T00:00:00.000Z", data={"kind": "text", "text": f"step {seq}"}
            )
            for seq in range(first, last + 1)
        ],
    )


def server_events(url: str, token: str, sid: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        for _ in range(1000):
            response = api.get(f"/v1/sessions/{sid}/events", params={"after": len(out)})
            if response.status_code == 404:
                return out
            page = response.json()["events"]
            if not page:
                return out
            out += page
    raise AssertionError("too many pages")


def assert_invariant(store: Store, url: str, token: str, *sids: str) -> None:
    for sid in sids:
        local = [as_json_data(e) for e in store.events(sid)]
        assert [e["seq"] for e in local] == list(range(1, len(local) + 1))
        assert server_events(url, token, sid) == local
        assert store.acked_seq(sid) == len(local)


def test_sync_all_drains_every_session_in_bounded_batches(live_server: Any, store: Store, token_a: str) -> None:
    add(store, SIDS[0], 1, 1200)
    add(store, SIDS[1], 1, 10)
    add(store, SIDS[2], 1, 1)
    logs: list[str] = []
    assert sync_all(store, live_server.url, token_a, 20, on_log=logs.append) == 0
    assert [line for line in logs if line.startswith("sent 11111111")] == [
        "sent 11111111 1..500",
        "sent 11111111 501..1000",
        "sent 11111111 1001..1200",
    ]
    assert_invariant(store, live_server.url, token_a, *SIDS)
    assert sync_all(store, live_server.url, token_a, 5) == 0  # nothing left, nothing resent


def test_survives_server_stop_and_start(live_server: Any, store: Store, token_a: str) -> None:
    recorder = Recorder()
    background = BackgroundSync(store, live_server.url, token_a, on_status=recorder, heartbeat=0.3).start()
    try:
        add(store, SIDS[0], 1, 5)
        background.kick(SIDS[0])
        recorder.wait_for(lambda s: s.state is ConnState.ONLINE and store.acked_seq(SIDS[0]) == 5)

        live_server.stop()
        mark = recorder.mark()
        add(store, SIDS[0], 6, 9)
        background.kick(SIDS[0])
        offline = recorder.wait_for(lambda s: s.state is ConnState.OFFLINE and s.pending == 4, since=mark)
        assert offline.words().startswith("offline · 4 queued · retry in ")
        add(store, SIDS[0], 10, 12)  # the flow goes on while offline
        background.kick(SIDS[0])
        recorder.wait_for(lambda s: s.state is ConnState.OFFLINE and s.pending == 7, since=mark)

        mark = recorder.mark()
        live_server.start()
        back = time.monotonic()
        recorder.wait_for(lambda s: s.state is ConnState.ONLINE, since=mark)
        assert time.monotonic() - back < 0.3 + 1.0  # within one heartbeat, without a kick
    finally:
        assert background.close(drain_timeout=3.0) == 0
    assert_invariant(store, live_server.url, token_a, SIDS[0])


def test_start_offline_then_the_server_appears(live_server: Any, store: Store, token_a: str) -> None:
    live_server.stop()
    add(store, SIDS[0], 1, 3)
    recorder = Recorder()
    background = BackgroundSync(store, live_server.url, token_a, on_status=recorder, heartbeat=0.5).start()
    try:
        background.kick()
        recorder.wait_for(lambda s: s.state is ConnState.OFFLINE and s.pending == 3)
        assert recorder.seen[0].words() == "connecting"
        live_server.start()
        started = time.monotonic()
        recorder.wait_for(lambda s: s.state is ConnState.ONLINE)
        assert time.monotonic() - started < 0.5 + 1.0
    finally:
        assert background.close(drain_timeout=3.0) == 0
    assert_invariant(store, live_server.url, token_a, SIDS[0])


def test_unauthorized_keeps_the_queue_and_a_fixed_token_drains_exactly(
    live_server: Any, store: Store, token_a: str, token_b: str
) -> None:
    live_server.restart(tokens=[token_b])  # token A revoked
    add(store, SIDS[0], 1, 1000)
    statuses: list[SyncStatus] = []
    started = time.monotonic()
    assert sync_all(store, live_server.url, token_a, 20, on_status=statuses.append) == 1000
    assert time.monotonic() - started < 5  # no waiting out the timeout, no retry storm
    assert statuses[-1].words() == "unauthorized" and store.acked_seq(SIDS[0]) == 0

    recorder = Recorder()
    background = BackgroundSync(store, live_server.url, token_a, on_status=recorder, auth_retry=0.5).start()
    try:
        recorder.wait_for(lambda s: s.state is ConnState.UNAUTHORIZED and s.pending == 1000)
        mark = recorder.mark()
        live_server.restart(tokens=[token_a, token_b])  # the token is fixed server-side
        recorder.wait_for(lambda s: s.state is ConnState.ONLINE, since=mark)
    finally:
        assert background.close(drain_timeout=3.0) == 0
    assert_invariant(store, live_server.url, token_a, SIDS[0])
    assert server_events(live_server.url, token_b, SIDS[0]) == []  # the other identity sees nothing


def test_close_is_bounded_when_the_server_never_answers(store: Store) -> None:
    with socket.socket() as hole:  # accepts connections (backlog) and never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        add(store, SIDS[0], 1, 4)
        recorder = Recorder()
        background = BackgroundSync(store, url, "t", on_status=recorder, read_timeout=5.0).start()
        background.kick()
        started = time.monotonic()
        assert background.close(drain_timeout=1.0) == 4
        assert time.monotonic() - started < 1.0 + 1.5
    assert store.acked_seq(SIDS[0]) == 0


def test_no_server_is_local_only(store: Store) -> None:
    add(store, SIDS[0], 1, 2)
    recorder = Recorder()
    with BackgroundSync(store, None, None, on_status=recorder) as background:
        background.kick()
        assert recorder.wait_for(lambda s: s.state is ConnState.LOCAL_ONLY).words() == "local-only"
    assert sync_all(store, None, None, 1) == 2
