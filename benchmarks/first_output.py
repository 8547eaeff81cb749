"""`play_first_output_ms`: process start to the first line `steadychat play` prints.

It runs `python -m tui play flows/demo.yaml` with a fresh store and stdin held open, and times
until the first byte of stdout. The JavaScript engine starts lazily, so this number must not
move when a flow has no code at its start (issue 11).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _one_run(store: Path) -> float:
    env = {**os.environ, "STEADYCHAT_STORE": str(store)}
    env.pop("STEADYCHAT_SERVER", None)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "play", "flows/demo.yaml", "--store", str(store)],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.read(1)
        elapsed = (time.perf_counter() - started) * 1000
        if not first:
            raise RuntimeError("steadychat play printed nothing")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return elapsed


def measure_first_output(runs: int = 5) -> dict[str, float]:
    """Median over `runs` fresh stores (the first run also warms the OS file cache)."""
    times = []
    with tempfile.TemporaryDirectory(prefix="steadychat-first-") as name:
        for index in range(runs + 1):
            elapsed = _one_run(Path(name) / f"store{index}.db")
            if index:
                times.append(elapsed)
    return {"play_first_output_ms": round(statistics.median(times), 1)}


if __name__ == "__main__":
    print(measure_first_output())
