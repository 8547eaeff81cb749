"""Network faults between a real client and a real server, made by the project's fault proxy.

FAULTS.md scenarios 1 (lost acknowledgement), 3 (start offline), 4 (flapping link), 5 (black
hole), 6 (slow but alive) and 10 (long offline, big backlog, moving clock). Heartbeats and
timeouts are scaled down together (heartbeat 1 s instead of 5 s) so each scenario stays within a
few seconds.

These tests assert invariants (the exact log, the indicator following the link, the retry delays
the client schedules), never elapsed seconds: a loaded machine only makes them slower. The timing
bounds themselves (within one heartbeat, within the total deadline, Retry-After honoured) are
asserted exactly on the sync client's virtual clock in tests/unit/test_sync_client_faults.py.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tui.faultproxy import FaultMode
from tui.steps import StoredEvent
from tui.store import Store
from tui.sync.background import BackgroundSync, sync_all
from tui.sync.protocol import MAX_BATCH_EVENTS, MAX_BODY_BYTES
from tui.sync.status import ConnState

from .helpers import (
    REPO,
    TOKEN_A,
    Recorder,
    follow,
    scripted_server,
    start_session,
    wait_until,
)
from .invariant import assert_exact_log, server_events

pytestmark = pytest.mark.chaos

HEARTBEAT = 1.0
WAIT = 30.0  # the bound of every wait for a state: generous, it is never the assertion
FLAP_SECONDS = float(os.environ.get("STEADYCHAT_FLAP_SECONDS", "8"))
BACKLOG = int(os.environ.get("STEADYCHAT_BACKLOG_EVENTS", "10000"))


def _online(recorder: Recorder) -> bool:
    return recorder.now_words() == "online"


def _retry_delays(recorder: Recorder) -> list[float]:
    """The delays the client scheduled after each failed connection (from its log lines)."""
    return [
        float(line.rsplit("retry in ", 1)[1].rstrip("s"))
        for line in recorder.log_lines()
        if line.startswith("no connection") and "retry in " in line
    ]


def _offline_countdowns(recorder: Recorder) -> list[int]:
    """The `retry in Ns` countdowns the indicator showed while offline."""
    return [int(w.rsplit(" ", 1)[1][:-1]) for w in recorder.words() if w.startswith("offline") and "retry in" in w]


# --------------------------------------------------------------------------- 1 lost acknowledgement
def test_lost_ack_is_resent_and_acknowledged_once(
    tmp_path: Path, app_server: Any, proxy: Any, background: Any, loop_flow: Path
) -> None:
    server, scripted = scripted_server(app_server, match=lambda m, p: False)  # record only
    px = proxy(server.port)
    recorder = Recorder()
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        sync = background(store, px.url, TOKEN_A, recorder, heartbeat=HEARTBEAT)
        follow(session, sync)
        session.answer("before")
        wait_until(lambda: _online(recorder) and store.pending_count(session.id) == 0, WAIT, what="first sync")

        px.configure(cut_downstream_after=0, cut_once=True)  # the next response never arrives
        first = session.last_seq + 1
        session.answer("the step whose ack is lost")
        last = session.last_seq
        wait_until(lambda: store.acked_seq(session.id) == last and _online(recorder), WAIT, what="resend")
        final = recorder.last
        sync.close(drain_timeout=1.0)

        assert any("(lost acknowledgement)" in line for line in px.history), list(px.history)
        posts = [s for s in scripted.requests("POST") if s.first == first]
        assert [(s.first, s.last, s.status) for s in posts] == [(first, last, 200)] * 2, (
            "the server applied the batch, the ack was lost, the resend was acknowledged again"
        )
        logs = recorder.log_lines()
        assert any(line.startswith("no connection") for line in logs), logs
        assert logs.count(f"sent {session.id[:8]} {first}..{last}") == 1, "the ack is committed once"
        assert_exact_log(store, server.url, TOKEN_A, status=final, shown=["before", "the step whose ack is lost"])


# --------------------------------------------------------------------------- 3 start offline
def test_start_offline_then_the_server_appears(
    tmp_path: Path, app_server: Any, proxy: Any, background: Any, loop_flow: Path
) -> None:
    server = app_server()
    px = proxy(server.port, mode=FaultMode.DOWN)  # connection refused: the server is "not there"
    recorder = Recorder()
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        session.answer("typed before launch")
        sync = background(store, px.url, TOKEN_A, recorder, heartbeat=HEARTBEAT)
        follow(session, sync)
        queued = store.pending_count(session.id)
        recorder.wait_for(lambda s: s.state is ConnState.OFFLINE and s.pending == queued)
        words = recorder.words()
        assert words[0] == "connecting", words
        offline = next(w for w in words if w.startswith("offline"))
        assert offline.startswith(f"offline · {queued} queued · retry in "), offline
        assert offline.endswith("s") and int(offline.rsplit(" ", 1)[1][:-1]) <= HEARTBEAT

        for i in range(5):  # the flow stays fully usable offline
            session.answer(f"offline answer {i}")
        queued = store.pending_count(session.id)
        recorder.wait_for(lambda s: s.state is ConnState.OFFLINE and s.pending == queued, timeout=WAIT)

        # A returning server is seen within one heartbeat because no retry is scheduled further out.
        assert _offline_countdowns(recorder) and max(_offline_countdowns(recorder)) <= HEARTBEAT
        assert _retry_delays(recorder) and max(_retry_delays(recorder)) <= HEARTBEAT + 0.05
        mark = recorder.mark()
        px.set_mode(FaultMode.PASS)
        recorder.wait_for(lambda s: s.state is ConnState.ONLINE, since=mark, timeout=WAIT)
        sync.close(drain_timeout=1.0)
        assert_exact_log(
            store,
            server.url,
            TOKEN_A,
            status=recorder.last,
            shown=["typed before launch", *(f"offline answer {i}" for i in range(5))],
        )


# --------------------------------------------------------------------------- 4 flapping link
def test_flapping_link_keeps_order_and_bounded_jittered_retries(
    tmp_path: Path, app_server: Any, proxy: Any, background: Any, loop_flow: Path, seed: int
) -> None:
    """The link goes down and up a random number of times while the user types at a random pace.
    Each phase ends once the indicator shows the link's real state (so every flap is noticed, by
    arrangement); every refused connection was one failed attempt with its own jittered delay."""
    rng = random.Random(seed)
    server = app_server()
    px = proxy(server.port, down_style="reset", seed=seed)  # refused attempts are counted
    recorder = Recorder()
    shown: list[str] = []
    pace = threading.Event()  # never set: waits below pace the user's typing
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        sync = background(store, px.url, TOKEN_A, recorder, heartbeat=HEARTBEAT, rng=random.Random(seed + 1))
        follow(session, sync)
        wait_until(lambda: _online(recorder), WAIT, what="online before flapping")

        mode = FaultMode.PASS
        phases = rng.randint(4, 6)
        for phase in range(phases):
            mode = FaultMode.DOWN if mode is FaultMode.PASS else FaultMode.PASS
            mark = recorder.mark()
            px.set_mode(mode)
            for _ in range(rng.randint(3, 20)):
                text = f"flap {len(shown)}"
                session.answer(text)
                shown.append(text)
                pace.wait(rng.uniform(0.02, 0.12))
            want = {ConnState.OFFLINE} if mode is FaultMode.DOWN else {ConnState.ONLINE, ConnState.SYNCING}
            recorder.wait_for(lambda s: s.state in want, since=mark, timeout=WAIT)  # noqa: B023 - waited for here
            print(f"phase {phase}: {mode.value}, {len(shown)} steps so far (seed {seed})")
        refused = px.connections_refused
        if mode is not FaultMode.PASS:
            px.set_mode(FaultMode.PASS)
        wait_until(
            lambda: _online(recorder) and store.pending_count(session.id) == 0,
            WAIT,
            what="drained after the flapping stopped",
        )
        final = recorder.last
        sync.close(drain_timeout=1.0)

        # Retries are bounded and spread: no connection is made without a failed attempt logging
        # the jittered delay (at most one heartbeat) it waits before the next one.
        delays = _retry_delays(recorder)
        print(f"{phases} phases, {refused} refused attempts, {len(delays)} logged retries, {len(shown)} steps")
        assert refused >= 1, "the link must actually have been down"
        assert refused <= len(delays) + 1, f"{refused} attempts but {len(delays)} scheduled retries: a retry storm"
        assert delays and max(delays) <= HEARTBEAT + 0.05, delays
        if len(delays) >= 5:
            assert len(set(delays)) >= 3, f"retries are not jittered: {delays}"
        assert_exact_log(store, server.url, TOKEN_A, status=final, shown=shown)


# --------------------------------------------------------------------------- 5 black hole
def test_black_hole_goes_offline_keeps_the_queue_and_close_returns(
    tmp_path: Path, app_server: Any, proxy: Any, background: Any, loop_flow: Path
) -> None:
    server = app_server()
    px = proxy(server.port)
    recorder = Recorder()
    timeouts = dict(
        heartbeat=HEARTBEAT, connect_timeout=0.4 * HEARTBEAT, read_timeout=HEARTBEAT, total_timeout=4 * HEARTBEAT
    )  # the defaults' ratios: 5 s / 2 s / 5 s / 20 s
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        sync = background(store, px.url, TOKEN_A, recorder, **timeouts)
        follow(session, sync)
        session.answer("before the hole")
        wait_until(lambda: _online(recorder) and store.pending_count(session.id) == 0, WAIT, what="online")

        mark = recorder.mark()
        px.set_mode(FaultMode.BLACKHOLE)
        session.answer("into the hole")  # the UI is never blocked: the step commits locally
        _, status = recorder.wait_for(lambda s: s.state is ConnState.OFFLINE, since=mark, timeout=WAIT)
        assert status.pending == store.pending_count(session.id) > 0
        assert "retry in" in status.words() and max(_offline_countdowns(recorder)) <= HEARTBEAT

        mark = recorder.mark()
        px.set_mode(FaultMode.PASS)
        recorder.wait_for(lambda s: s.state is ConnState.ONLINE, since=mark, timeout=WAIT)

        px.set_mode(FaultMode.BLACKHOLE)  # and the exit path while the hole swallows a request
        session.answer("typed just before quitting")
        left = sync.close(drain_timeout=1.0)  # returns although the request never gets an answer
        assert left == store.pending_count(session.id) > 0, "close() leaves the unsent steps queued"

        px.set_mode(FaultMode.PASS)
        assert sync_all(store, px.url, TOKEN_A, 10) == 0
        assert_exact_log(
            store,
            server.url,
            TOKEN_A,
            status="online",
            shown=["before the hole", "into the hole", "typed just before quitting"],
        )


def test_close_stops_the_sync_thread_even_when_the_store_fails_at_exit(
    tmp_path: Path, app_server: Any, proxy: Any, loop_flow: Path
) -> None:
    server = app_server()
    px = proxy(server.port, mode=FaultMode.BLACKHOLE)
    store = Store.open(tmp_path / "client.db")
    with closing(start_session(store, loop_flow)) as session:
        session.answer("queued at exit")
    sync = BackgroundSync(store, px.url, TOKEN_A, heartbeat=HEARTBEAT).start()
    thread = sync._thread
    assert thread is not None
    store.close()  # the store fails under the client (here: closed; in life: locked, I/O error)
    raised: Exception | None = None
    try:
        sync.close(drain_timeout=0.5)
    except Exception as exc:
        raised = exc
    still_running = thread.is_alive()
    sync.client.stop()  # clean up whatever close() left behind
    thread.join(5)
    assert raised is None, f"close() raised {raised!r}"
    assert not still_running, "close() returned with the sync thread still running"


def test_play_exits_on_its_own_into_a_black_hole_and_sync_delivers_later(
    tmp_path: Path, app_server: Any, proxy: Any, loop_flow: Path
) -> None:
    """The real `play --server` process: answers run out while the server never answers."""
    server = app_server()
    px = proxy(server.port, mode=FaultMode.BLACKHOLE)
    store_path = tmp_path / "client.db"
    answers = tmp_path / "answers.txt"
    answers.write_text("".join(f"hole {i}\n" for i in range(5)))
    cmd = [
        sys.executable,
        "-m",
        "tui",
        "play",
        str(loop_flow),
        "--store",
        str(store_path),
        "--answers",
        str(answers),
        "--server",
        px.url,
        "--token",
        TOKEN_A,
    ]
    with subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        lines = list(proc.stdout)  # ends at exit: play's drain at the end is bounded (3 s)
        code = proc.wait(60)
        err = proc.stderr.read()
    assert code == 0, err
    assert "events queued" in err, err
    assert sum(line.startswith("> hole ") for line in lines) == 5

    px.set_mode(FaultMode.PASS)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui",
            "sync",
            "--store",
            str(store_path),
            "--server",
            px.url,
            "--token",
            TOKEN_A,
            "--timeout",
            "15",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    with Store.open(store_path) as store:
        assert_exact_log(store, server.url, TOKEN_A, shown=[f"hole {i}" for i in range(5)])


# --------------------------------------------------------------------------- 6 slow but alive
def test_slow_link_with_jittered_latency_never_goes_offline(
    tmp_path: Path, app_server: Any, proxy: Any, background: Any, loop_flow: Path, seed: int
) -> None:
    server = app_server()
    # FLAKY with no cuts = a per-connection latency drawn in [0.1, 0.4] s per chunk, 64 KB/s.
    px = proxy(
        server.port,
        mode=FaultMode.FLAKY,
        seed=seed,
        flaky_cut_probability=0.0,
        flaky_max_delay=0.3,
        delay=0.1,
        bandwidth=64_000,
    )
    recorder = Recorder()
    pace = threading.Event()
    rng = random.Random(seed)
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        # Batches of <= 50 steps' events keep each answer within the read timeout on this link
        # (a larger upload is the bug the next test shows).
        sync = background(
            store,
            px.url,
            TOKEN_A,
            recorder,
            heartbeat=HEARTBEAT,
            connect_timeout=2.0,
            read_timeout=3.0,
            total_timeout=8.0,
            batch_size=50,
        )
        follow(session, sync)
        shown = []
        for i in range(30):
            session.answer(f"slow {i}")
            shown.append(f"slow {i}")
            pace.wait(rng.uniform(0.0, 0.1))
        wait_until(lambda: _online(recorder) and store.pending_count(session.id) == 0, WAIT, what="slow drain")
        final = recorder.last
        sync.close(drain_timeout=1.0)
        states = {s.state for _, s in recorder.seen}
        assert ConnState.OFFLINE not in states, f"flapped to offline on a slow link: {recorder.words()}"
        assert ConnState.SYNCING in states
        assert_exact_log(store, server.url, TOKEN_A, status=final, shown=shown)


def test_low_bandwidth_link_makes_progress_without_going_offline(
    tmp_path: Path, app_server: Any, proxy: Any, background: Any, loop_flow: Path
) -> None:
    """8 KB/s with read timeout 1.5 s and total deadline 6 s: the ratios of 1 KB/s with the
    defaults (5 s / 20 s) and a batch of ~40 steps. Bytes keep flowing the whole time."""
    server = app_server()
    px = proxy(server.port, delay=0.2, bandwidth=8_000)
    recorder = Recorder()
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        shown = [f"queued {i}" for i in range(20)]
        for text in shown:
            session.answer(text)  # ~35 KB queued before the client starts
        sync = background(store, px.url, TOKEN_A, recorder, heartbeat=HEARTBEAT, read_timeout=1.5, total_timeout=6.0)
        wait_until(
            lambda: _online(recorder) or any(s.state is ConnState.OFFLINE for _, s in recorder.seen),
            WAIT,
            what="either drained or offline",
        )
        assert not any(s.state is ConnState.OFFLINE for _, s in recorder.seen), (
            f"went offline while bytes were flowing: {recorder.words()[:6]} {recorder.log_lines()[:3]}"
        )
        assert px.bytes_up > 0
        sync.close(drain_timeout=1.0)
        assert_exact_log(store, server.url, TOKEN_A, status=recorder.last, shown=shown)


# --------------------------------------------------------------------------- 10 long offline, big backlog
def test_big_backlog_after_a_long_outage_drains_in_bounded_batches_despite_clock_jumps(
    tmp_path: Path,
    app_server: Any,
    proxy: Any,
    background: Any,
    loop_flow: Path,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
) -> None:
    server, scripted = scripted_server(app_server, match=lambda m, p: False)
    px = proxy(server.port, mode=FaultMode.DOWN, down_style="reset")
    rng = random.Random(seed)
    real_time = time.time
    jump = [0.0]
    monkeypatch.setattr(time, "time", lambda: real_time() + jump[0])

    def wall() -> datetime:
        return datetime.fromtimestamp(time.time(), UTC)

    recorder = Recorder()
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow, clock=wall)) as session:
        sync = background(
            store, px.url, TOKEN_A, recorder, heartbeat=HEARTBEAT, wall_clock=wall, rng=random.Random(seed + 1)
        )
        follow(session, sync)
        recorder.wait_for(lambda s: s.state is ConnState.OFFLINE)

        for i in range(50):  # real steps, then a long imported history (some bubbles are big)
            session.answer(f"offline step {i}")
        sid = session.id
        seq = session.last_seq
        while seq < BACKLOG:  # bounded: +500 per round
            batch = []
            for seq in range(seq + 1, min(seq + 500, BACKLOG) + 1):  # noqa: B020 - seq carries on
                big = 3000 < seq <= 4000  # ~4 KB bubbles: 500 of them would pass 1 MiB
                size = 4000 if big else rng.randrange(20, 400)
                text = f"imported {seq} " + "x" * size
                batch.append(
                    StoredEvent(seq=seq, type="message", ts=wall().isoformat(), data={"kind": "text", "text": text})
                )
            store.append_events(sid, batch)
        sync.kick(sid)
        recorder.wait_for(lambda s: s.state is ConnState.OFFLINE and s.pending == BACKLOG, timeout=WAIT)

        # The wall clock jumps a day back, then two days forward, while offline: retries run on the
        # monotonic clock, so they neither stall (probes go on) nor flood (each refused probe is a
        # failed attempt that scheduled its own delay of at most a heartbeat).
        refused_before = px.connections_refused
        jump[0] = -86_400.0
        wait_until(
            lambda: px.connections_refused >= refused_before + 2, WAIT, what="probes go on after the clock jumped back"
        )
        jump[0] = 2 * 86_400.0
        wait_until(
            lambda: px.connections_refused >= refused_before + 4,
            WAIT,
            what="probes go on after the clock jumped forward",
        )
        delays = _retry_delays(recorder)
        assert px.connections_refused <= len(delays) + 1, "more probes than scheduled retries: a flood"
        assert delays and max(delays) <= HEARTBEAT + 0.05, delays

        mark = recorder.mark()
        px.set_mode(FaultMode.PASS)
        recorder.wait_for(lambda s: s.state is ConnState.ONLINE, since=mark, timeout=60)
        final = recorder.last
        sync.close(drain_timeout=1.0)

        posts = [s for s in scripted.requests("POST") if s.first is not None]
        print(
            f"{BACKLOG} events drained in {len(posts)} batches "
            f"(largest {max(p.count for p in posts)} events / {max(p.size for p in posts)} bytes)"
        )
        assert all(p.count <= MAX_BATCH_EVENTS and p.size <= MAX_BODY_BYTES for p in posts)
        assert any(p.count < MAX_BATCH_EVENTS and p.last != BACKLOG for p in posts), "the 1 MiB cap never bit"
        assert posts[0].first == 1 and posts[-1].last == BACKLOG
        assert all((a.last or 0) + 1 == b.first for a, b in itertools.pairwise(posts)), (
            "batches go in order, none resent"
        )
        assert_exact_log(store, server.url, TOKEN_A, status=final, shown=[f"offline step {i}" for i in range(50)])
        assert len(server_events(server.url, TOKEN_A, sid) or []) == BACKLOG
