"""Scripts past their limits, as a user of `steadychat play` sees them: one line naming the
block or group, exit 1, and the session still resumable. Real processes, real stores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


# Runs play under a tiny parent that reports its only child's peak memory as a last stderr line.
_PEAK = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode;"
    " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, file=sys.stderr); sys.exit(code)"
)


def play(flow: Path, store: Path, stdin: str = "") -> tuple[subprocess.CompletedProcess[str], int]:
    """Run `play`; also returns the child's peak memory in MB."""
    command = [sys.executable, "-c", _PEAK, sys.executable, "-m", "tui", "play", str(flow), "--store", str(store)]
    result = subprocess.run(
        command,
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,  # a guard, not a measurement
        env={k: v for k, v in os.environ.items() if k != "STEADYCHAT_SERVER"},
    )
    *lines, peak = result.stderr.strip().splitlines()
    result.stderr = "\n".join(lines)
    return result, int(peak)


def _flow(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_runaway_script_stops_the_step_and_the_session_resumes(tmp_path: Path) -> None:
    flow = _flow(
        tmp_path,
        """\
name: Runaway
groups:
  A:
    - ask: name
    - set: {x: "if ({{name}} === 'loop') { while (true) {} } return {{name}}.length"}
    - say: "x={{x}}"
""",
    )
    store = tmp_path / "s.db"
    first, _ = play(flow, store, "loop\n")
    assert first.returncode == 1
    (line,) = first.stderr.strip().splitlines()
    assert line.startswith("steadychat: stopped: the script of the Set variable block")
    assert "in group 'A' ran longer than 1 s" in line
    assert "x=" not in first.stdout
    second, _ = play(flow, store, "Ada\n")  # resumes the same session at the same input
    assert second.returncode == 0, second.stderr
    assert "x=3" in second.stdout


def test_a_memory_hog_is_stopped(tmp_path: Path) -> None:
    flow = _flow(
        tmp_path,
        """\
name: Hog
groups:
  A:
    - set: {x: "const a = []; for (;;) a.push(new Array(1e6).fill(1)); return a"}
    - say: never
""",
    )
    result, peak = play(flow, tmp_path / "s.db")
    assert result.returncode == 1
    assert "the script of the Set variable block" in result.stderr and "used more than 64 MB" in result.stderr
    assert "never" not in result.stdout
    assert peak < 400


def test_a_doubling_loop_is_capped_and_the_step_limit_names_the_group(tmp_path: Path) -> None:
    """issue 12: `x = {{x}} + {{x}}` in a loop used to grow to hundreds of MB."""
    flow = _flow(
        tmp_path,
        """\
name: Doubling
groups:
  A:
    - set: {x: "'ab'"}
    - goto: Loop B
  Loop B:
    - set: {x: "{{x}} + {{x}}"}
    - goto: Loop B
""",
    )
    result, peak = play(flow, tmp_path / "s.db")
    assert result.returncode == 1
    assert result.stdout.count("refused: the new value of x is over 1 MiB") == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "steadychat: stopped in group 'Loop B': the flow ran 1000 blocks without waiting for input"
        " (a loop without an input?)"
    )
    assert peak < 400


def test_a_flow_without_code_never_starts_the_engine() -> None:
    code = (
        "import sys; from datetime import datetime, UTC; from tui import engine;"
        " from tui.flow.loader import load_flow;"
        " flow = load_flow('flows/survey.yaml'); engine.start(flow, now=datetime.now(UTC), seed=1);"
        " print('py_mini_racer' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
