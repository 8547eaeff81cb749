"""Network faults between a real client and a real server, made by the project's fault proxy.

FAULTS.md scenarios 1 (lost acknowledgement), 3 (start offline), 4 (flapping link), 5 (black
hole), 6 (slow but alive) and 10 (long offline, big backlog, moving clock). Heartbeats and
timeouts are scaled down together (heartbeat 1 s instead of 5 s) so each scenario stays within a
few seconds; the bounds asserted are the spec's, in heartbeats.
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
SLACK = 0.75  # scheduling noise on a loaded 2-core CI box
FLAP_SECONDS = float(os.environ.get("STEADYCHAT_FLAP_SECONDS", "8"))
BACKLOG = int(os.environ.get("STEADYCHAT_BACKLOG_EVENTS", "10000"))


def _online(recorder: Recorder) -> bool:
    return recorder.now_words() == "online"


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
        wait_until(lambda: _online(recorder) and store.pending_count(session.id) == 0, 10, what="first sync")

        px.configure(cut_downstream_after=0, cut_once=True)  # the next response never arrives
        first = session.last_seq + 1
        session.answer("the step whose ack is lost")
        last = session.last_seq
        wait_until(lambda: store.acked_seq(session.id) == last and _online(recorder), 10, what="resend")
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
        recorder.wait_for(lambda s: s.state is ConnState.OFFLINE and s.pending == queued, timeout=5)

        mark = recorder.mark()
        px.set_mode(FaultMode.PASS)
        appeared = time.monotonic()
        at, _ = recorder.wait_for(lambda s: s.state is ConnState.ONLINE, since=mark, timeout=5)
        assert at - appeared <= HEARTBEAT + SLACK, f"flushed {at - appeared:.2f}s after the server appeared"
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
    rng = random.Random(seed)
    server = app_server()
    px = proxy(server.port, down_style="reset", seed=seed)  # refused attempts are counted
    recorder = Recorder()
    switches: list[tuple[float, FaultMode]] = []
    shown: list[str] = []
    pace = threading.Event()  # never set: waits below pace the user's typing
    with Store.open(tmp_path / "client.db") as store, closing(start_session(store, loop_flow)) as session:
        sync = background(store, px.url, TOKEN_A, recorder, heartbeat=HEARTBEAT, rng=random.Random(seed + 1))
        follow(session, sync)
        wait_until(lambda: _online(recorder), 10, what="online before flapping")

        started = time.monotonic()
        mode = FaultMode.PASS
        next_switch = started + rng.uniform(0.5, 3.0)
        for step in range(10_000):  # bounded by FLAP_SECONDS below
            now = time.monotonic()
            if now >= started + FLAP_SECONDS:
                break
            if now >= next_switch:
                mode = FaultMode.DOWN if mode is FaultMode.PASS else FaultMode.PASS
                px.set_mode(mode)
                switches.append((time.monotonic(), mode))
                next_switch = time.monotonic() + rng.uniform(0.5, 3.0)
            text = f"flap {step}"
            session.answer(text)
            shown.append(text)
            pace.wait(rng.uniform(0.02, 0.12))
        ended = time.monotonic()
        refused = px.connections_refused
        if mode is not FaultMode.PASS:
            px.set_mode(FaultMode.PASS)
            switches.append((time.monotonic(), FaultMode.PASS))
        wait_until(
            lambda: _online(recorder) and store.pending_count(session.id) == 0,
            HEARTBEAT + 5,
            what="drained after the flapping stopped",
        )
        final = recorder.last
        sync.close(drain_timeout=1.0)

        # Retries are bounded and spread: a tight loop would make hundreds of attempts per second.
        down_time = sum(
            (switches[i + 1][0] if i + 1 < len(switches) else ended) - at
            for i, (at, m) in enumerate(switches)
            if m is FaultMode.DOWN
        )
        print(f"{len(switches)} switches, {down_time:.1f}s down, {refused} refused attempts, {len(shown)} steps")
        assert len(switches) >= 2, "the link must actually flap"
        assert refused <= 6 * down_time + 6, f"{refused} attempts in {down_time:.1f}s down: a retry storm"
        delays = [
            float(line.rsplit("retry in ", 1)[1].rstrip("s"))
            for line in recorder.log_lines()
            if line.startswith("no connection") and "retry in " in line
        ]
        assert delays and max(delays) <= HEARTBEAT + 0.05, delays
        if len(delays) >= 5:
            assert len(set(delays)) >= 3, f"retries are not jittered: {delays}"

        # The indicator never lies for longer than about one heartbeat.
        statuses = list(recorder.seen)
        for i, (at, m) in enumerate(switches):
            until = switches[i + 1][0] if i + 1 < len(switches) else None
            if until is not None and until - at < HEARTBEAT + 2 * SLACK:
                continue  # too short to be noticed for sure
            want = {ConnState.OFFLINE} if m is FaultMode.DOWN else {ConnState.ONLINE, ConnState.SYNCING}
            seen = [t for t, s in statuses if t >= at and s.state in want]
            assert seen and seen[0] - at <= HEARTBEAT + 2 * SLACK, (
                f"after switching {m.value} at +{at - started:.1f}s the indicator lagged (seed {seed})"
            )
        assert_exact_log(store, server.url, TOKEN_A, status=final, shown=shown)


# --------------------------------------------------------------------------- 5 black hole
def test_black_hole_is_offline_within_two_heartbeats_and_close_is_bounded(
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
        wait_until(lambda: _online(recorder) and store.pending_count(session.id) == 0, 10, what="online")

        mark = recorder.mark()
        px.set_mode(FaultMode.BLACKHOLE)
        holed = time.monotonic()
        session.answer("into the hole")  # the UI is never blocked: this returns at once
        assert time.monotonic() - holed < 0.5
        at, status = recorder.wait_for(lambda s: s.state is ConnState.OFFLINE, since=mark, timeout=4 * HEARTBEAT)
        assert at - holed <= 2 * HEARTBEAT + SLACK, f"offline only {at - holed:.2f}s into the black hole"
        assert status.pending == store.pending_count(session.id)

        mark = recorder.mark()
        px.set_mode(FaultMode.PASS)
        recovered = time.monotonic()
        at, _ = recorder.wait_for(lambda s: s.state is ConnState.ONLINE, since=mark, timeout=5)
        assert at - recovered <= HEARTBEAT + SLACK

        px.set_mode(FaultMode.BLACKHOLE)  # and the exit path while the hole swallows a request
        session.answer("typed just before quitting")
        quitting = time.monotonic()
        left = sync.close(drain_timeout=1.0)  # `play` uses 3 s: see the next test
        assert time.monotonic() - quitting <= 1.0 + SLACK, "close() must be bounded whatever the network does"
        assert left == store.pending_count(session.id) > 0

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
    quitting = time.monotonic()
    try:
        sync.close(drain_timeout=0.5)
    except Exception as exc:
        raised = exc
    still_running = thread.is_alive()
    elapsed = time.monotonic() - quitting
    sync.client.stop()  # clean up whatever close() left behind
    thread.join(5)
    assert raised is None, f"close() raised {raised!r}"
    assert not still_running and elapsed <= 0.5 + 2.0 + SLACK


def test_play_exits_within_its_drain_bound_into_a_black_hole(
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
        lines = []
        last_line_at = time.monotonic()
        for line in proc.stdout:  # ends at exit; bounded by the wait below
            lines.append(line)
            last_line_at = time.monotonic()
        code = proc.wait(15)
        exited = time.monotonic()
        err = proc.stderr.read()
    assert code == 0, err
    assert exited - last_line_at <= 3.0 + 2 * SLACK, f"play took {exited - last_line_at:.2f}s to exit"
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
        wait_until(lambda: _online(recorder) and store.pending_count(session.id) == 0, 20, what="slow drain")
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
            20,
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
        recorder.wait_for(lambda s: s.state is ConnState.OFFLINE and s.pending == BACKLOG, timeout=5)

        # The wall clock jumps a day back, then two days forward, while offline: retries run on the
        # monotonic clock, so they neither stall nor flood.
        refused_before = px.connections_refused
        window = time.monotonic()
        jump[0] = -86_400.0
        wait_until(
            lambda: px.connections_refused >= refused_before + 2,
            3 * HEARTBEAT + SLACK,
            what="probes go on after the clock jumped back",
        )
        jump[0] = 2 * 86_400.0
        wait_until(
            lambda: px.connections_refused >= refused_before + 4,
            5 * HEARTBEAT + SLACK,
            what="probes go on after the clock jumped forward",
        )
        rate = (px.connections_refused - refused_before) / (time.monotonic() - window)
        assert rate <= 10, f"{rate:.1f} probes/s after a clock jump: a flood"

        mark = recorder.mark()
        px.set_mode(FaultMode.PASS)
        reconnected = time.monotonic()
        at, _ = recorder.wait_for(lambda s: s.state is ConnState.ONLINE, since=mark, timeout=30)
        drain_s = at - reconnected
        final = recorder.last
        sync.close(drain_timeout=1.0)

        posts = [s for s in scripted.requests("POST") if s.first is not None]
        print(
            f"{BACKLOG} events drained in {drain_s:.2f}s in {len(posts)} batches "
            f"(largest {max(p.count for p in posts)} events / {max(p.size for p in posts)} bytes)"
        )
        assert all(p.count <= MAX_BATCH_EVENTS and p.size <= MAX_BODY_BYTES for p in posts)
        assert any(p.count < MAX_BATCH_EVENTS and p.last != BACKLOG for p in posts), "the 1 MiB cap never bit"
        assert posts[0].first == 1 and posts[-1].last == BACKLOG
        assert all(a.last + 1 == b.first for a, b in itertools.pairwise(posts)), "batches go in order, none resent"
        assert drain_s <= HEARTBEAT + 15, f"drain took {drain_s:.1f}s"
        assert_exact_log(store, server.url, TOKEN_A, status=final, shown=[f"offline step {i}" for i in range(50)])
        assert len(server_events(server.url, TOKEN_A, sid) or []) == BACKLOG
