"""`python -m benchmarks --sizes tiny` runs end to end and ends with one JSON line holding every
contract key. No timing is asserted: numbers on a shared machine are not a test's business."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.report import GOALS

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_benchmarks_print_every_key_as_last_json_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--sizes", "tiny", "--tmp", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    for key, *_ in GOALS:
        assert isinstance(result[key], (int, float)), key
    for key in ("step_commit_p99_ms", "resume_10k_peak_mib", "drain_10k_peak_mib", "tui_answer_ms_p50"):
        assert isinstance(result[key], (int, float)), key
    assert result["sizes"] == "tiny"
    assert result["drain_left"] == 0
    assert "step_commit_p50_ms" in done.stdout.split(lines[-1])[0]  # the table came first
    assert list(tmp_path.iterdir()) == []  # temporary stores cleaned up
