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
    for key in (
        "step_commit_p99_ms",
        "resume_10k_peak_mib",
        "drain_10k_peak_mib",
        "tui_answer_ms_p50",
        "python_start_ms",
        "answer_total_ms_p99",
    ):
        assert isinstance(result[key], (int, float)), key
    assert result["sizes"] == "tiny"
    assert result["drain_left"] == 0
    assert result["many_sessions"] == 300
    assert "step_commit_p50_ms" in done.stdout.split(lines[-1])[0]  # the table came first
    assert list(tmp_path.iterdir()) == []  # temporary stores cleaned up


def test_tiny_server_benchmark_ends_with_its_four_keys(tmp_path: Path) -> None:
    """The server load benchmark end to end on SQLite at toy sizes: it starts and stops its own
    servers and clients on 127.0.0.1, checks exactly-once after each part, cleans up."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "server", "--sizes", "tiny", "--tmp", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("server_posts_s_50", "server_p99_ms_200", "server_vs_bare_asgi", "server_real_clients_timeouts_200"):
        assert isinstance(result[key], (int, float)), key
    assert result["server_db"] == "sqlite" and result["server_real_clients_left"] == 0
    assert list(tmp_path.iterdir()) == []
