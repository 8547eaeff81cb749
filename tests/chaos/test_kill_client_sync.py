"""FAULTS.md scenario 2: SIGKILL a syncing `play --server` client at its boundaries.

Each trial runs a real `steadychat play --server` subprocess on the same store (it resumes the
same session), pours answers into it and SIGKILLs it at a random moment. Trials rotate through
three network situations so every boundary is hit for sure, not only by luck:

- `unsent`:  the link is down, so the kill lands after local commits that were never sent (b);
- `unacked`: the server commits each batch and then withholds its answer, so the kill lands
             after a send whose ack was never committed by the client (c);
- `random`:  a live link with latency, killed at a random moment (a mid-step kill is possible too,
             as in test_kill_play.py).

After each kill: the store holds whole steps only (the flow waits at an input) and every answer
that was printed; then `steadychat sync` (a new process) drains the outbox and the server's log
must equal the client's exactly (resent batches are acknowledged, never stored twice).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tui.faultproxy import FaultMode
from tui.store import Store

from .helpers import REPO, TOKEN_A, Fault, scripted_server, wait_until
from .invariant import assert_exact_log, server_db_seqs

pytestmark = pytest.mark.chaos

TRIALS = int(os.environ.get("STEADYCHAT_KILL_SYNC_TRIALS", "6"))
KINDS = ("unsent", "unacked", "random")


def _client_state(store_path: Path) -> tuple[str, int, int, str]:
    """(sid, last local seq, acked seq, last event type), read without opening a Store."""
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=10)
    try:
        keys = [row[0] for row in conn.execute('SELECT key FROM "events" ORDER BY key')]
        (sid,) = {key.split(":")[0] for key in keys}
        seqs = [int(key.split(":")[1]) for key in keys]
        assert seqs == list(range(1, len(seqs) + 1)), "local seqs must stay 1..N after a kill"
        row = conn.execute('SELECT value FROM "sync" WHERE key = ?', (sid,)).fetchone()
        last = conn.execute('SELECT value FROM "events" WHERE key = ?', (keys[-1],)).fetchone()[0]
    finally:
        conn.close()
    return sid, len(seqs), int(json.loads(row[0])) if row else 0, json.loads(last)["type"]


def _pump(proc: subprocess.Popen[str], answers: list[str]) -> None:
    try:
        for answer in answers:
            assert proc.stdin is not None
            proc.stdin.write(answer + "\n")
            proc.stdin.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass  # killed mid-write: that is the point


def test_sigkill_a_syncing_client_then_sync_delivers_exactly_once(
    tmp_path: Path, app_server: Any, proxy: Any, loop_flow: Path, seed: int
) -> None:
    rng = random.Random(seed)
    server, scripted = scripted_server(app_server)
    px = proxy(server.port, seed=seed)
    store_path = tmp_path / "client.db"
    printed_answers: list[str] = []
    hits = {"unsent": 0, "unacked": 0}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for trial in range(TRIALS):
        kind = KINDS[trial % len(KINDS)]
        px.set_mode(FaultMode.DOWN if kind == "unsent" else FaultMode.PASS)
        px.configure(delay=rng.uniform(0.01, 0.1) if kind == "random" else 0.0)
        scripted.always = (
            Fault("commit, then withhold the ack", 503, b"", [(b"retry-after", b"1")], after_app=True, stall=8.0)
            if kind == "unacked"
            else None
        )
        posts_before = len(scripted.requests("POST"))
        answers = [f"t{trial}-a{i}" for i in range(300)]
        cmd = [
            sys.executable,
            "-m",
            "tui",
            "play",
            str(loop_flow),
            "--store",
            str(store_path),
            "--server",
            px.url,
            "--token",
            TOKEN_A,
        ]
        with subprocess.Popen(
            cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        ) as proc:
            lines: list[str] = []
            assert proc.stdout is not None
            stdout = proc.stdout
            reader = threading.Thread(target=lines.extend, args=(stdout,), daemon=True)
            pump = threading.Thread(target=_pump, args=(proc, answers), daemon=True)
            reader.start()
            pump.start()  # stdin stays open after the answers: play waits at its input, alive
            if kind == "unacked":
                since = posts_before
                wait_until(
                    lambda: any(s.applied for s in scripted.requests("POST")[since:]),  # noqa: B023 - waited for here
                    60,
                    what="a batch committed by the server, its ack withheld",
                )
                threading.Event().wait(rng.uniform(0.0, 0.3))  # a random moment inside the window
            else:
                wait_until(lambda: any(line.startswith("> ") for line in lines), 60, what="play answering")  # noqa: B023
                threading.Event().wait(rng.uniform(0.05, 0.8))
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(15) == -signal.SIGKILL, "play must not have finished on its own"
            reader.join(5)
            pump.join(5)
            try:
                assert proc.stdin is not None
                proc.stdin.close()
            except OSError:
                pass
        scripted.always = None
        printed_answers += [line[2:].rstrip("\n") for line in lines if line.startswith("> ")]

        sid, local_last, acked, last_type = _client_state(store_path)
        assert last_type == "input", "a step is committed whole or not at all"
        held = server_db_seqs(server.db_path, sid)
        assert held == list(range(1, len(held) + 1)), "the server never holds a gap"
        server_last = held[-1] if held else 0
        print(f"trial {trial} {kind}: local {local_last}, acked {acked}, server {server_last}")
        assert acked <= server_last <= local_last, "an ack the server never gave, or events never written"
        if kind == "unsent" and local_last > server_last:
            hits["unsent"] += 1
        if kind == "unacked":
            assert server_last > acked, "the server committed a batch whose ack the client never committed"
            hits["unacked"] += 1

        px.set_mode(FaultMode.PASS)
        px.configure(delay=0.0)
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
                "20",
                "--verbose",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            env=env,
            timeout=40,
        )
        assert done.returncode == 0, f"trial {trial} ({kind}, seed {seed}): {done.stderr}"
        assert "all events synced" in done.stderr
        with Store.open(store_path) as store:
            assert_exact_log(store, server.url, TOKEN_A, shown=printed_answers)
    assert hits["unsent"] >= 1 and hits["unacked"] >= 1, hits
    posts = [(s.first, s.last, s) for s in scripted.requests("POST") if s.first is not None and s.last is not None]
    resent = [
        first
        for i, (first, _last, _p) in enumerate(posts)
        if any((q.status == 200 or q.applied) and first <= q_last for _f, q_last, q in posts[:i])
    ]
    assert resent, "a batch the server had applied was sent again (and acknowledged, not stored twice)"
