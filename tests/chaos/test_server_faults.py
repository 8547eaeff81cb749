"""Faults on the server side: hostile answers, auth expiry, restarts, amnesia and divergence.

FAULTS.md scenarios 7 (hostile responses), 8 (auth expiry mid-drain) and 9 (server restart and
server amnesia). Hostile answers come from a `Scripted` ASGI wrapper around the real app on
127.0.0.1; the kill of 9a is a SIGKILL of a real `python -m tui.server.run` process.

They assert invariants and the order of what happened, never elapsed seconds (the exact timings,
e.g. "Retry-After: 7 waits 7 s", are checked on a virtual clock in tests/unit/test_sync_client_faults.py).
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import BACKENDS
from tui.session import Session
from tui.store import Store
from tui.sync.background import sync_all
from tui.sync.status import ConnState

from .helpers import (
    REPO,
    TOKEN_A,
    TOKEN_B,
    Fault,
    Recorder,
    add_messages,
    follow,
    scripted_server,
    start_session,
    wait_until,
)
from .invariant import assert_exact_log, local_events, server_db_seqs, server_events

pytestmark = pytest.mark.chaos

HEARTBEAT = 1.0
WAIT = 30.0  # the bound of every wait for a state: generous, it is never the assertion


class _ShortJitter(random.Random):
    """Full jitter over a twentieth of the range: the same spread, so a run of eight failures in a
    row (whose backoff would reach the 30 s cap) stays within seconds."""

    def uniform(self, a: float, b: float) -> float:
        return super().uniform(a, b) / 20


def _api(url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=10)


# --------------------------------------------------------------------------- 7 hostile responses
def test_hostile_answers_never_ack_garbage_and_honour_retry_after(
    tmp_path: Path, app_server: Any, background: Any, loop_flow: Path, seed: int
) -> None:
    server, scripted = scripted_server(app_server)  # the script answers POSTs only
    dates: list[float] = []

    def http_date() -> list[tuple[bytes, bytes]]:
        when = math.ceil(time.time()) + 1
        dates.append(when)
        return [(b"retry-after", formatdate(when, usegmt=True).encode())]

    html = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
    scripted.push(
        Fault("500", 500, b"Internal Server Error"),
        Fault("502", 502, html, [(b"content-type", b"text/html")]),
        Fault("503 retry-after", 503, b'{"error":"unavailable"}', [(b"retry-after", b"1")]),
        Fault("429 http-date", 429, b"slow down", headers_fn=http_date),
        Fault("200 html", 200, html, [(b"content-type", b"text/html")]),
        Fault("200 truncated", 200, b'{"acked_seq": ', [(b"content-type", b"application/json")], after_app=True),
        Fault(
            "200 foreign ack", 200, b'{"acked_seq": 999999}', [(b"content-type", b"application/json")], after_app=True
        ),
        Fault("200 empty", 200, b"", after_app=True),
        Fault("413", 413, b'{"error":"too_large"}'),
    )
    garbage = {"200 html", "200 truncated", "200 foreign ack", "200 empty"}
    recorder = Recorder()
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        shown = [f"hostile {i}" for i in range(10)]
        for text in shown:
            session.answer(text)
        sync = background(store, server.url, TOKEN_A, recorder, heartbeat=HEARTBEAT, rng=_ShortJitter(seed))
        follow(session, sync)
        wait_until(
            lambda: not scripted.script and recorder.now_words() == "online" and store.pending_count(session.id) == 0,
            WAIT,
            what="the hostile script played out",
        )
        good_sid = session.id

        seen = scripted.requests()
        posts = [s for s in seen if s.method == "POST"]
        for i, request in enumerate(seen):
            if request.fault in ("503 retry-after", "429 http-date"):
                assert seen[i + 1 :], f"no retry after {request.fault}"
        # The client schedules its retry no earlier than the server's Retry-After allows.
        retry_after = [line for line in recorder.log_lines() if "503" in line and "retry in " in line]
        assert retry_after and all(float(line.rsplit("retry in ", 1)[1].rstrip("s")) >= 1.0 for line in retry_after), (
            recorder.log_lines()
        )
        assert dates, "the 429 with an HTTP date was served (its exact wait: the unit test's virtual clock)"
        for i, post in enumerate(posts):
            if post.fault in garbage:
                assert posts[i + 1].first == post.first, f"{post.fault} was taken as an acknowledgement"
        after_413 = posts[[p.fault for p in posts].index("413") + 1]
        assert after_413.count < posts[[p.fault for p in posts].index("413")].count, "413 halves the batch"
        assert not any(s.state is ConnState.CONFLICT for _, s in recorder.seen), "transient errors are not poison"
        assert_exact_log(store, server.url, TOKEN_A, status=recorder.last, shown=shown)

        # A permanent error (422) stops that session with a visible state; nothing is dropped,
        # and other sessions keep going.
        scripted.always = Fault("422", 422, b'{"error":"invalid","detail":"refused"}')
        with closing(start_session(store, loop_flow)) as poisoned:
            follow(poisoned, sync)
            poisoned.answer("refused by the server")
            _, status = recorder.wait_for(lambda s: s.state is ConnState.CONFLICT, timeout=WAIT)
            assert recorder.now_words() == "conflict" and "422" in status.detail
            scripted.always = None
            queued = store.pending_count(poisoned.id)
            assert queued == poisoned.last_seq, "the poisoned session's events stay queued locally"
            with closing(start_session(store, loop_flow)) as other:
                follow(other, sync)
                other.answer("still delivered")
                wait_until(lambda: store.pending_count(other.id) == 0, WAIT, what="other sessions go on")
                other_sid = other.id
            sync.close(drain_timeout=0.5)
            assert recorder.now_words() == "conflict", "the indicator keeps showing the conflict"
            assert server_events(server.url, TOKEN_A, poisoned.id) == []
            assert [e["seq"] for e in local_events(store, poisoned.id)] == list(range(1, queued + 1))
        assert_exact_log(store, server.url, TOKEN_A, [good_sid, other_sid], shown=[*shown, "still delivered"])


@pytest.mark.parametrize("app_server", BACKENDS, indirect=True)
def test_malformed_oversized_and_unauthorized_requests_change_nothing(
    tmp_path: Path, app_server: Any, loop_flow: Path
) -> None:
    server = app_server()
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        session.answer("kept")
        assert sync_all(store, server.url, TOKEN_A, 10) == 0
        sid = session.id
        before = server_events(server.url, TOKEN_A, sid)
        event: dict[str, Any] = {
            "seq": session.last_seq + 1,
            "type": "message",
            "ts": "2026-01-01T00:00:00.000Z",
            "data": {},
        }
        path = f"/v1/sessions/{sid}/events"
        with (
            _api(server.url, None) as anonymous,
            _api(server.url, "not-a-token") as wrong,
            _api(server.url, TOKEN_A) as api,
            _api(server.url, TOKEN_B) as other,
        ):
            assert anonymous.post(path, json={"events": [event]}).status_code == 401
            assert wrong.post(path, json={"events": [event]}).status_code == 401
            assert other.post(path, json={"events": [event]}).status_code == 404
            assert (
                api.post(path, content=b'{"events": [', headers={"content-type": "application/json"}).status_code == 422
            )
            assert api.post(path, json={"events": [event, {**event, "seq": event["seq"] + 2}]}).status_code == 422
            assert api.post(path, json={"events": [{**event, "extra": 1}]}).status_code == 422
            big = {**event, "data": {"text": "x" * (1024 * 1024)}}
            assert api.post(path, json={"events": [big]}).status_code == 413
            many = [{**event, "seq": event["seq"] + i} for i in range(501)]
            assert api.post(path, json={"events": many}).status_code == 413
            assert api.put(f"/v1/sessions/{sid}", json={"flow_id": 1}).status_code == 422
            assert api.get(f"/v1/sessions/{sid}").json()["flow_id"] == "loop"
        assert server_events(server.url, TOKEN_A, sid) == before
        assert_exact_log(store, server.url, TOKEN_A, shown=["kept"])


# --------------------------------------------------------------------------- 8 auth expiry
@pytest.mark.parametrize("app_server", BACKENDS, indirect=True)
def test_revoked_token_mid_drain_is_unauthorized_without_a_storm_then_drains_exactly(
    tmp_path: Path, app_server: Any, background: Any, proxy: Any, loop_flow: Path
) -> None:
    server, scripted = scripted_server(app_server, match=lambda m, p: False)  # counts requests
    px = proxy(server.port)
    # The second batch is held at the server until the token has been revoked: mid-drain for sure.
    scripted.hold_if = lambda seen: seen.method == "POST" and (seen.first or 0) > 100
    store_path = tmp_path / "client.db"
    recorder = Recorder()
    with Store.open(store_path) as store, closing(start_session(store, loop_flow)) as session:
        sid = session.id
        total = add_messages(store, sid, 1000 - session.last_seq)
        assert total == 1000
        sync = background(store, px.url, TOKEN_A, recorder, heartbeat=HEARTBEAT, batch_size=100, auth_retry=1.0)
        wait_until(lambda: scripted.held, WAIT, what="the drain has begun and its second batch is held")
        assert store.acked_seq(sid) == 100
        server.stop()  # the held request dies with the old server, unanswered
        scripted.hold_if = None
        scripted.release.set()
        server.start(tokens=[TOKEN_B])  # token A is revoked while events are still queued
        _, status = recorder.wait_for(lambda s: s.state is ConnState.UNAUTHORIZED, timeout=WAIT)
        acked = store.acked_seq(sid)
        assert 100 <= acked < 1000 and status.words() == "unauthorized" and status.pending == 1000 - acked

        counted = len(scripted.requests())
        wait_until(lambda: len(scripted.requests()) >= counted + 2, WAIT, what="probes go on")
        assert recorder.now_words() == "unauthorized"
        refusals = [line for line in recorder.log_lines() if line.startswith("unauthorized")]
        assert refusals == ["unauthorized: the server refused the token; probing every 1s"], refusals
        assert all(s.method == "GET" and s.path == "/v1/health" for s in scripted.requests()[counted:]), (
            "while refused, only the health probe is sent"
        )
        left = sync.close(drain_timeout=0.5)
        assert left == store.pending_count(sid) == 1000 - acked, "the queue is intact"
        assert [e["seq"] for e in local_events(store, sid)] == list(range(1, 1001))

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # A refused token returns at once instead of waiting out --timeout: with a timeout of an hour, a
    # `sync` that waited it out would never finish within the run's bound.
    sync_cmd = [sys.executable, "-m", "tui", "sync", "--store", str(store_path), "--server", px.url]
    wrong = subprocess.run(
        [*sync_cmd, "--timeout", "3600", "--token", TOKEN_A],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert wrong.returncode == 1 and f"{1000 - acked} events still queued" in wrong.stderr, wrong.stderr
    assert "refused the token" in wrong.stderr, wrong.stderr

    server.stop()
    server.start(tokens=[TOKEN_A, TOKEN_B])  # the token is fixed: restart the client with it
    fixed = subprocess.run(
        [*sync_cmd, "--timeout", "60", "--token", TOKEN_A],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert fixed.returncode == 0, fixed.stderr
    with Store.open(store_path) as store:
        assert_exact_log(store, server.url, TOKEN_A)
        sid = store.session_ids()[0]
        before = server_events(server.url, TOKEN_A, sid)

    # A second identity can neither read nor write the first one's session (404, no existence leak).
    with _api(server.url, TOKEN_B) as other:
        assert other.get(f"/v1/sessions/{sid}").status_code == 404
        assert other.get(f"/v1/sessions/{sid}/events").status_code == 404
        event = {"seq": 1001, "type": "message", "ts": "2026-01-01T00:00:00.000Z", "data": {}}
        assert other.post(f"/v1/sessions/{sid}/events", json={"events": [event]}).status_code == 404
        meta = {"flow_id": "loop", "flow_hash": "h", "device_id": "d", "created_at": "2026-01-01T00:00:00Z"}
        assert other.put(f"/v1/sessions/{sid}", json=meta).status_code == 404
    assert server_events(server.url, TOKEN_B, sid) is None
    assert server_events(server.url, TOKEN_A, sid) == before


# --------------------------------------------------------------------------- 9a server SIGKILL
def test_server_sigkill_mid_drain_loses_no_acked_batch(
    tmp_path: Path, server_process: Any, proxy: Any, background: Any, loop_flow: Path, seed: int
) -> None:
    rng = random.Random(seed)
    server = server_process(workers=2)  # two workers: the kill reaches both, the restart serves on
    px = proxy(server.port, delay=0.02)  # stretches each batch so the kills land mid-drain
    recorder = Recorder()
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        sid = session.id
        total = add_messages(store, sid, 3000 - session.last_seq)
        sync = background(store, px.url, TOKEN_A, recorder, heartbeat=HEARTBEAT, batch_size=250)
        for kill_after in (rng.randrange(250, 1250), rng.randrange(1500, 2500)):
            wait_until(
                lambda: store.acked_seq(sid) >= kill_after,  # noqa: B023 - waited for in this iteration
                WAIT,
                interval=0.005,
                what="drain progress",
            )
            threading.Event().wait(rng.uniform(0.0, 0.1))  # anywhere in the next batch
            server.kill()
            acked = store.acked_seq(sid)  # every ack arrived before the kill, after its COMMIT
            held = server_db_seqs(server.db_path, sid)
            print(f"killed the server at acked {acked}; its db holds {len(held)} of {total}")
            assert held == list(range(1, len(held) + 1)), "a half-applied batch must be invisible"
            assert len(held) >= acked, "an acknowledged batch was lost"
            add_messages(store, sid, 3, f"written while the server was dead at {acked}")
            sync.kick(sid)
            server.start()  # same db, same port
        wait_until(
            lambda: recorder.now_words() == "online" and store.pending_count(sid) == 0,
            20,
            what="drained after the restarts",
        )
        final = recorder.last
        sync.close(drain_timeout=0.5)
        assert_exact_log(store, server.url, TOKEN_A, status=final)


# --------------------------------------------------------------------------- 9b server amnesia
def test_server_restored_from_an_older_backup_answers_gap_and_the_client_resends(
    tmp_path: Path, app_server: Any, background: Any, loop_flow: Path
) -> None:
    server = app_server()
    backup = tmp_path / "server-backup.db"
    recorder = Recorder()
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        sid = session.id
        sync = background(store, server.url, TOKEN_A, recorder, heartbeat=HEARTBEAT)
        follow(session, sync)
        shown = [f"step {i}" for i in range(100)]
        for text in shown[:50]:
            session.answer(text)
        backed_up = session.last_seq
        wait_until(lambda: store.acked_seq(sid) == backed_up, WAIT, what="first part synced")
        source = sqlite3.connect(server.db_path)
        target = sqlite3.connect(backup)
        with closing(source), closing(target):
            source.backup(target)  # last night's backup

        for text in shown[50:]:
            session.answer(text)
        wait_until(lambda: store.acked_seq(sid) == session.last_seq, WAIT, what="second part synced")
        server.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{server.db_path}{suffix}").unlink(missing_ok=True)
        shutil.copy(backup, server.db_path)  # restored: the server forgot the second part
        server.start()

        session.answer("after the restore")
        wait_until(
            lambda: recorder.now_words() == "online" and store.pending_count(sid) == 0,
            10,
            what="resent from the server's acked seq",
        )
        final = recorder.last
        sync.close(drain_timeout=0.5)
        gap = f"gap: server holds {sid[:8]} up to {backed_up}; resending from {backed_up + 1}"
        assert gap in recorder.log_lines(), recorder.log_lines()
        assert_exact_log(store, server.url, TOKEN_A, status=final, shown=[*shown, "after the restore"])


# --------------------------------------------------------------------------- 9c divergence
@pytest.mark.parametrize("app_server", BACKENDS, indirect=True)
def test_a_second_client_with_other_content_is_a_conflict_and_overwrites_nothing(
    tmp_path: Path, app_server: Any, loop_flow: Path
) -> None:
    server = app_server()
    first_path, second_path = tmp_path / "first.db", tmp_path / "second.db"
    with Store.open(first_path) as store, closing(start_session(store, loop_flow)) as session:
        sid = session.id
        session.answer("shared history")
        assert sync_all(store, server.url, TOKEN_A, 10) == 0
    shutil.copy(first_path, second_path)  # a second instance of the same client (restored copy)

    with Store.open(first_path) as store, closing(Session.resume(store, sid)) as session:
        session.answer("alice")
        assert sync_all(store, server.url, TOKEN_A, 10) == 0
        kept = server_events(server.url, TOKEN_A, sid)

    statuses: list[Any] = []
    logs: list[str] = []
    with Store.open(second_path) as store, closing(Session.resume(store, sid)) as session:
        session.answer("bob")  # same seqs, other content
        mine = local_events(store, sid)
        left = sync_all(store, server.url, TOKEN_A, 10, on_status=statuses.append, on_log=logs.append)
        assert left == store.pending_count(sid) > 0
        assert statuses[-1].state is ConnState.CONFLICT and statuses[-1].words() == "conflict"
        assert "other content" in statuses[-1].detail, statuses[-1].detail
        assert local_events(store, sid) == mine, "the second client's own steps are kept"
    assert server_events(server.url, TOKEN_A, sid) == kept, "nothing on the server was overwritten"
    with Store.open(first_path) as store:
        assert_exact_log(store, server.url, TOKEN_A, shown=["shared history", "alice"])
    assert json.dumps(kept).count('"bob"') == 0
