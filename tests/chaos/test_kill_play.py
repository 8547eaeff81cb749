"""SIGKILL `steadychat play` mid-flow; nothing shown is lost, nothing is stored twice.

Each trial starts a real `play` subprocess on the same store (it resumes the same session), pours
answers into its stdin as fast as it takes them, watches the SQLite file until a random number of
further events has been committed (the seed is printed so a failure can be replayed with
STEADYCHAT_CHAOS_SEED), and then sends SIGKILL. So every kill lands while answers are flowing, by
arrangement rather than by luck, and at an arbitrary point inside the step being processed.

After every kill the store must hold every answer that had been printed, in order, each at most
once; the flow must wait at an input; and the next trial must continue the same session from there.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.chaos.helpers import LOOP_FLOW, REPO, wait_until
from tui.session import Session
from tui.store import Store

pytestmark = pytest.mark.chaos


TRIALS = int(os.environ.get("STEADYCHAT_KILL_TRIALS", "12"))
ANSWERS_PER_TRIAL = 400  # far more than a trial commits before its kill: the pipe never runs dry


def _pump(proc: subprocess.Popen[str], answers: list[str]) -> None:
    assert proc.stdin is not None
    try:
        for answer in answers:
            proc.stdin.write(answer + "\n")
            proc.stdin.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass  # killed mid-write: that is the point


def _committed_events(store: Path) -> int:
    """How many events the store file holds (read-only; 0 before play created it)."""
    if not store.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0
    try:
        return int(conn.execute('SELECT count(*) FROM "events"').fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the table is not created yet
    finally:
        conn.close()


def _run_and_kill(flow: Path, store: Path, answers: list[str], kill_at: int) -> tuple[list[str], int | None]:
    """Run `play`, SIGKILL it once the store holds `kill_at` events; (printed lines, exit code)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "tui", "play", str(flow), "--store", str(store)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        printed: list[str] = []
        reader = threading.Thread(target=lambda: printed.extend(proc.stdout or ()), daemon=True)
        pump = threading.Thread(target=_pump, args=(proc, answers), daemon=True)
        reader.start()
        pump.start()
        try:
            wait_until(
                lambda: _committed_events(store) >= kill_at or proc.poll() is not None,
                60,
                interval=0.005,
                what=f"{kill_at} events committed",
            )
        finally:
            proc.send_signal(signal.SIGKILL)  # a no-op if it already ended (then the assert below says so)
            code = proc.wait(timeout=30)
            reader.join(timeout=10)
            pump.join(timeout=10)
            try:
                proc.stdin.close()
            except OSError:
                pass  # the pipe broke with the kill
    return [line.rstrip("\n") for line in printed], code


def _stored(store_path: Path) -> tuple[list[str], list[str], int, int]:
    """(answers, messages, the flow's count, events) of the one session; checks it waits at an input."""
    with Store.open(store_path) as store:
        (session_id,) = store.session_ids()
        events = store.events(session_id)
        texts = [e.data["text"] for e in events if e.type == "answer"]
        messages = [e.data["text"] for e in events if e.type == "message"]
        session = Session.resume(store, session_id)
        try:
            assert session.waiting_input is not None, "after a kill the flow must wait at its input"
            assert events[-1].type == "input", "a step is committed whole or not at all"
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            count = int(str(session.state.variables["count"]))
        finally:
            session.close()
    return texts, messages, count, len(events)


@pytest.mark.timeout(600)
def test_sigkill_mid_flow_loses_nothing_shown_and_the_session_continues(tmp_path: Path) -> None:
    seed = int(os.environ.get("STEADYCHAT_CHAOS_SEED", random.randrange(1 << 30)))
    print(f"chaos seed {seed} ({TRIALS} trials); replay with STEADYCHAT_CHAOS_SEED={seed}")
    rng = random.Random(seed)
    flow = tmp_path / "loop.yaml"
    flow.write_text(LOOP_FLOW)
    store = tmp_path / "store.db"
    sent: list[str] = []
    printed_answers: list[str] = []
    before = 0  # events committed before this trial
    previous: list[str] = []
    for trial in range(TRIALS):
        answers = [f"t{trial}-a{i}" for i in range(ANSWERS_PER_TRIAL)]
        kill_at = before + rng.randint(1, 60)  # a step's events land in one commit: any count is a moment
        printed, code = _run_and_kill(flow, store, answers, kill_at)
        where = f"(seed {seed}, trial {trial}, killed at >= {kill_at} events)"
        assert code == -signal.SIGKILL, f"play ended on its own with {code} before the kill {where}"
        sent.extend(answers)
        printed_answers.extend(line[2:] for line in printed if line.startswith("> "))

        stored, messages, count, events = _stored(store)
        assert events >= kill_at, f"the kill landed before the steps it waited for {where}"
        assert len(stored) < len(sent), f"the kill must land while answers are still queued {where}"
        assert stored[: len(previous)] == previous, f"the resumed session rewrote its history {where}"
        if trial:
            assert len(stored) > len(previous), f"the resumed session took no answer {where}"
        assert len(stored) == len(set(stored)), f"an answer was stored twice {where}"
        position = {text: index for index, text in enumerate(sent)}
        assert all(text in position for text in stored)
        assert [position[t] for t in stored] == sorted(position[t] for t in stored), f"answers reordered {where}"
        stored_set = set(stored)
        missing = [text for text in printed_answers if text not in stored_set]
        assert not missing, f"printed but not stored: {missing[:3]} {where}"
        message_set = set(messages)
        assert all(line in message_set for line in printed if line.startswith("Tell me")), where
        assert count == len(stored), f"the flow's state matches the answers it stored {where}"
        before, previous = events, stored
