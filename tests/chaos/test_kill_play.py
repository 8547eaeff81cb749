"""SIGKILL `steadychat play` at random moments; nothing shown is lost, nothing is stored twice.

Each trial starts a real `play` subprocess on the same store, pours answers into its stdin as
fast as it takes them, and kills it with SIGKILL after a random delay (the seed is printed so a
failure can be replayed with STEADYCHAT_CHAOS_SEED). After every kill the store must hold every
line that had been printed, in order, each answer at most once, and the flow must wait at an input.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.chaos.helpers import LOOP_FLOW
from tui.session import Session
from tui.store import Store

pytestmark = pytest.mark.chaos


TRIALS = int(os.environ.get("STEADYCHAT_KILL_TRIALS", "30"))


def _pump(proc: subprocess.Popen[str], answers: list[str]) -> None:
    try:
        for answer in answers:
            proc.stdin.write(answer + "\n")
            proc.stdin.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass  # killed mid-write: that is the point


def _run_and_kill(flow: Path, store: Path, answers: list[str], delay: float) -> list[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "tui", "play", str(flow), "--store", str(store)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as proc:
        killer = threading.Timer(delay, lambda: proc.send_signal(signal.SIGKILL))
        pump = threading.Thread(target=_pump, args=(proc, answers), daemon=True)
        killer.start()
        pump.start()
        printed = proc.stdout.read().splitlines()  # until the kill (or the end) closes the pipe
        proc.wait(timeout=30)
        killer.cancel()
        pump.join(timeout=5)
        try:
            proc.stdin.close()
        except OSError:
            pass  # the pipe broke with the kill
    return printed


def _stored_answers(store_path: Path) -> tuple[list[str], list[str], int]:
    with Store.open(store_path) as store:
        ids = store.session_ids()
        if not ids:
            return [], [], 0  # killed before the first step: nothing can have been shown
        (session_id,) = ids
        events = store.events(session_id)
        texts = [e.data["text"] for e in events if e.type == "answer"]
        messages = [e.data["text"] for e in events if e.type == "message"]
        session = Session.resume(store, session_id)
        try:
            assert session.waiting_input is not None, "after a kill the flow must wait at its input"
            assert events[-1].type == "input", "a step is committed whole or not at all"
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            count = int(session.state.variables["count"])
        finally:
            session.close()
    return texts, messages, count


@pytest.mark.timeout(420)
def test_sigkill_at_random_moments_loses_nothing_shown(tmp_path: Path) -> None:
    seed = int(os.environ.get("STEADYCHAT_CHAOS_SEED", random.randrange(1 << 30)))
    print(f"chaos seed {seed} ({TRIALS} trials); replay with STEADYCHAT_CHAOS_SEED={seed}")
    rng = random.Random(seed)
    flow = tmp_path / "loop.yaml"
    flow.write_text(LOOP_FLOW)
    store = tmp_path / "store.db"
    sent: list[str] = []
    printed_answers: list[str] = []
    for trial in range(TRIALS):
        answers = [f"t{trial}-a{i}" for i in range(400)]
        printed = _run_and_kill(flow, store, answers, delay=rng.uniform(0.2, 1.2))
        sent.extend(answers)
        printed_answers.extend(line[2:] for line in printed if line.startswith("> "))
        stored, messages, count = _stored_answers(store)
        assert len(stored) == len(set(stored)), f"an answer was stored twice (seed {seed}, trial {trial})"
        position = {text: index for index, text in enumerate(sent)}
        assert all(text in position for text in stored)
        assert [position[t] for t in stored] == sorted(position[t] for t in stored), "answers reordered"
        stored_set = set(stored)
        missing = [text for text in printed_answers if text not in stored_set]
        assert not missing, f"printed but not stored: {missing[:3]} (seed {seed}, trial {trial})"
        shown_messages = [line for line in printed if line.startswith("Tell me")]
        message_set = set(messages)
        assert all(line in message_set for line in shown_messages)
        assert count == len(stored), "the flow's state matches the answers it stored"
    assert len(printed_answers) > TRIALS, "the kills must land while answers are flowing"
