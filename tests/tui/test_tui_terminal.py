"""The real `steadychat run` in a pseudo-terminal, typed at as a fast typist does: five answers
written in one burst, without waiting for the bot. Every answer lands on its own question."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FIVE = """\
name: Five
id: five
groups:
  Start:
    - say: Hi! What is your name?
    - ask: name
    - say: Where do you live, {{name}}?
    - ask: city
    - say: How many cats?
    - ask: cats
      type: number
    - say: How likely are you to recommend us?
    - rating: nps
      from: 0
      length: 10
    - say: Anything else?
    - ask: comment
    - say: Thanks {{name}} from {{city}}!
"""


def _read_until(fd: int, wanted: bytes, seen: bytearray, reads: int = 240) -> bool:
    """Read the terminal until `wanted` shows (bounded: at most `reads` waits of 0.25 s)."""
    for _ in range(reads):
        if wanted in seen:
            return True
        ready, _, _ = select.select([fd], [], [], 0.25)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return wanted in seen
        if not chunk:
            return wanted in seen
        seen.extend(chunk)
    return wanted in seen


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_burst_typed_into_the_real_terminal_ui(tmp_path: Path) -> None:
    import pty

    flow = tmp_path / "five.yaml"
    flow.write_text(FIVE, encoding="utf-8")
    store = tmp_path / "store.db"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real command in a 100x30 terminal, as a person runs it
        os.chdir(REPO)
        os.environ.update({"COLUMNS": "100", "LINES": "30", "TERM": "xterm-256color"})
        os.execvp(sys.executable, [sys.executable, "-m", "tui", "run", str(flow), "--store", str(store), "--new"])
    seen = bytearray()
    try:
        assert _read_until(fd, b"name?", seen), seen[-2000:]
        os.write(fd, b"Ada\rParis\r7\r10\rGreat app\r")  # one burst: no pause after any Enter
        assert _read_until(fd, b"Conversation complete", seen), seen[-2000:]
        os.write(fd, b"\x11")  # ctrl+q
        _read_until(fd, b"\x00never", seen, reads=40)  # let it exit (bounded)
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    listed = subprocess.run(
        [sys.executable, "-m", "tui", "sessions", "--json", "--store", str(store)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    sid = json.loads(listed.stdout)[0]["id"]
    exported = subprocess.run(
        [sys.executable, "-m", "tui", "export", sid, "--store", str(store)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    events = json.loads(exported.stdout)["events"]
    inputs = [e["data"]["block_id"] for e in events if e["type"] == "input"]
    answers = [(e["data"]["block_id"], e["data"]["text"]) for e in events if e["type"] == "answer"]
    assert answers == list(zip(inputs, ["Ada", "Paris", "7", "10", "Great app"], strict=True))
