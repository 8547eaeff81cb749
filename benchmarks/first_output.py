"""`play_first_output_ms`: process start to the first line `steadychat play` prints.

It runs `python -m tui play flows/demo.yaml` with a fresh store and stdin held open, and times
until the first byte of stdout. The JavaScript engine starts lazily, so this number must not
move when a flow has no code at its start (issue 11).

`python_start_ms` is the interpreter's own start in the same run, timed the same way (`python -c`
printing one byte, same environment): what no import cut can remove. The runs alternate between
the two so load on the machine hits both alike.

Bytecode: the children write and reuse compiled modules in a private cache folder
(PYTHONPYCACHEPREFIX, PYTHONDONTWRITEBYTECODE unset), as an installed package has them; the
warm-up run fills it. Without it every run would compile the package's sources again.
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


def _first_byte(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.read(1)
        elapsed = (time.perf_counter() - started) * 1000
        if not first:
            raise RuntimeError(f"{args[1:]} printed nothing")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return elapsed


def measure_first_output(runs: int = 5) -> dict[str, float]:
    """Medians over `runs` fresh stores (the first run warms the OS file and bytecode caches)."""
    play_ms: list[float] = []
    python_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="steadychat-first-") as name:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(Path(name) / "pycache")}
        for key in ("STEADYCHAT_SERVER", "PYTHONDONTWRITEBYTECODE"):
            env.pop(key, None)
        for index in range(runs + 1):
            store = Path(name) / f"store{index}.db"
            play = [sys.executable, "-m", "tui", "play", "flows/demo.yaml", "--store", str(store)]
            bare = [sys.executable, "-c", "import sys; sys.stdout.write('x'); sys.stdout.flush()"]
            pair = (_first_byte(play, {**env, "STEADYCHAT_STORE": str(store)}), _first_byte(bare, env))
            if index:
                play_ms.append(pair[0])
                python_ms.append(pair[1])
    play_p50, python_p50 = statistics.median(play_ms), statistics.median(python_ms)
    return {
        "play_first_output_ms": round(play_p50, 1),
        "python_start_ms": round(python_p50, 1),
        "play_first_output_over_python_ms": round(play_p50 - python_p50, 1),
    }


if __name__ == "__main__":
    print(measure_first_output())
