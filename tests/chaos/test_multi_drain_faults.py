"""Exactly once through the fault proxy when many sessions travel in one POST /v1/sync.

FAULTS.md scenario 1 (lost acknowledgement) and the cuts of scenario 4, for the multi-session
drain: a real server, the project's fault proxy between it and the client, a store with many
sessions queued. The proxy cuts requests midway (the server never sees the whole body), cuts
responses (the server committed, the client never hears it) and refuses; the client resends
and the server acknowledges again. Each test ends with the invariant for every session: the
server holds exactly the local events, seq 1..N, and every one is acknowledged locally.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.databases import BACKENDS
from tui.faultproxy import FaultMode
from tui.steps import StoredEvent
from tui.store import SessionRecord, Store
from tui.sync.background import sync_report

from .helpers import TOKEN_A, Recorder, scripted_server, wait_until
from .invariant import assert_exact_log

pytestmark = pytest.mark.chaos

ROUNDS = 60  # bounded retries of a drain through a flaky link (each ≤ DRAIN_S)
DRAIN_S = 5.0
FAST = {"heartbeat": 0.3, "connect_timeout": 1.0, "read_timeout": 2.0, "total_timeout": 3.0}


def fill(store: Store, sessions: int, events: int) -> list[str]:
    """`sessions` sessions of `events` queued bot messages each."""
    sids = []
    for n in range(sessions):
        sid = uuid.uuid4().hex
        record = SessionRecord(
            id=sid,
            flow_id="demo",
            flow_name="Demo",
            flow_hash="h" * 64,
            device_id=store.device_id,
            created_at="2026-01-01T00:00:00.000Z",
        )
        batch = [
            StoredEvent(seq=s, type="message", ts="2026-01-01T00:00:00.000Z", data={"text": f"s{n} e{s} " + "x" * 40})
            for s in range(1, events + 1)
        ]
        store.append_events(sid, batch, session=record)
        sids.append(sid)
    return sids


def drain_through(store: Store, url: str, recorder: Recorder, rounds: int = ROUNDS, **options: Any) -> int:
    """Drain with short timeouts, again and again (bounded) until nothing is left."""
    left = -1
    for _ in range(rounds):
        report = sync_report(store, url, TOKEN_A, DRAIN_S, on_status=recorder, on_log=recorder.log, **FAST, **options)
        left = report.left
        assert not report.conflicts, report.conflicts
        if left == 0:
            break
    return left


@pytest.mark.parametrize("app_server", BACKENDS, indirect=True)
def test_flaky_link_cuts_requests_and_answers_yet_every_session_lands_once(
    tmp_path: Path, app_server: Any, proxy: Any, seed: int
) -> None:
    server, scripted = scripted_server(app_server, match=lambda m, p: False)  # record only
    px = proxy(server.port, seed=seed, mode=FaultMode.FLAKY, flaky_cut_probability=0.5, flaky_max_delay=0.02)
    recorder = Recorder()
    with Store.open(tmp_path / "client.db") as store:
        sids = fill(store, 150, 20)
        # 20 events a session, 200 a request: ten sessions per request, fifteen requests at least
        left = drain_through(store, px.url, recorder, batch_size=20)
        px.set_mode(FaultMode.PASS)
        if left:
            left = drain_through(store, px.url, recorder, rounds=3, batch_size=20)
        assert left == 0
        syncs = [s for s in scripted.requests("POST") if s.path == "/v1/sync"]
        assert px.cuts > 0 and syncs, "the proxy cut some requests and the client used POST /v1/sync"
        assert any(s.sessions > 1 for s in syncs), "several sessions travelled in one request"
        assert_exact_log(store, server.url, TOKEN_A, sids)
        for sid in sids:  # every ack was committed once, whatever was resent
            assert recorder.log_lines().count(f"sent {sid[:8]} 1..20") == 1


def test_lost_answer_of_a_many_session_request_is_resent_and_acknowledged_again(
    tmp_path: Path, app_server: Any, proxy: Any, background: Any
) -> None:
    server, scripted = scripted_server(app_server, match=lambda m, p: False)
    px = proxy(server.port)
    recorder = Recorder()
    with Store.open(tmp_path / "client.db") as store:
        sync = background(store, px.url, TOKEN_A, recorder, heartbeat=30.0)
        wait_until(lambda: recorder.now_words() == "online", 10, what="online")
        px.configure(cut_downstream_after=0, cut_once=True)  # the next answer never arrives
        sids = fill(store, 30, 10)
        sync.kick()
        wait_until(lambda: all(store.acked_seq(sid) == 10 for sid in sids), 20, what="every session acked")
        sync.close(drain_timeout=1.0)
        assert any("(lost acknowledgement)" in line for line in px.history), list(px.history)
        posts = [s for s in scripted.requests("POST") if s.path == "/v1/sync"]
        assert [(s.sessions, s.first, s.status) for s in posts[:2]] == [(30, 1, 200), (30, 1, 200)], (
            "the server applied all 30 sessions, the answer was lost, the resend was acknowledged again"
        )
        assert_exact_log(store, server.url, TOKEN_A, sids)
        for sid in sids:
            assert recorder.log_lines().count(f"sent {sid[:8]} 1..10") == 1


def test_a_request_cut_midway_changes_nothing_and_is_sent_again(tmp_path: Path, app_server: Any, proxy: Any) -> None:
    server = app_server()
    px = proxy(server.port)
    recorder = Recorder()
    with Store.open(tmp_path / "client.db") as store:
        sids = fill(store, 40, 20)
        px.configure(cut_upstream_after=3000, cut_once=True)  # mid-body of the first request
        assert drain_through(store, px.url, recorder) == 0
        assert px.cuts >= 1
        assert_exact_log(store, server.url, TOKEN_A, sids)
