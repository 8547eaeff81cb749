"""Shared helpers: sizes, the looping bench flow, building real sessions, timing and memory.

Sessions are built with the real `Session.answer` on a small YAML flow that loops (say → ask →
set → say → goto back), so every step is a realistic 5-event step (answer, message, message,
variables, input) and the store holds exactly what a user's store would.
"""

from __future__ import annotations

import gc
import shutil
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_FLOW_YAML = """\
name: Bench loop
id: bench-loop
groups:
  Ask:
    - say: "Tell me something new, {{Name}}. What is on your mind today?"
    - ask: Reply
      placeholder: Type anything
    - set: Name
      value: "{{Reply}}"
    - say: "You said: {{Reply}}. Thanks, noted."
    - goto: Ask
"""

TOKEN = "bench-token-0123456789"
SEED = 12345


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does; the JSON keys stay the same in every mode."""

    name: str
    commit_steps: int  # steps timed for step_commit (p50/p99)
    resume_small: int  # steps of the small session (the "100" of resume_growth)
    resume_large: int  # steps of the large session (the "10k")
    resume_reps: int
    incremental_steps: int  # our steps timed at the large session length
    snapshot_steps: int  # naive snapshot steps timed at the large session length
    drain_events: int  # queued events to drain
    drain_reps: int
    many_sessions: int = 10_000  # sessions in the store for resume_latest / sessions_page


SIZES: dict[str, Sizes] = {
    "tiny": Sizes("tiny", 40, 10, 60, 2, 10, 2, 300, 1, many_sessions=300),
    "quick": Sizes("quick", 1000, 100, 10_000, 7, 200, 3, 10_000, 5),
    "full": Sizes("full", 3000, 100, 10_000, 11, 400, 5, 10_000, 5),
}


def write_flow(folder: Path) -> Path:
    path = folder / "bench-loop.yaml"
    path.write_text(BENCH_FLOW_YAML, encoding="utf-8")
    return path


def load_bench_flow(folder: Path) -> Any:
    from tui.flow.loader import load_flow

    return load_flow(write_flow(folder))


def answer_text(i: int) -> str:
    return f"answer number {i}: the quick brown fox jumps over the lazy dog"


def build_session(
    store_path: Path,
    flow: Any,
    steps: int,
    *,
    until_events: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[str, int]:
    """Start a real session and answer `steps` times (or until `until_events` events exist).

    The session is closed normally (cache written, lock released). Returns (sid, last_seq).
    """
    from tui.session import Session
    from tui.store import Store

    with Store.open(store_path) as store:
        session = Session.start(store, flow, seed=SEED)
        i = 0
        while True:
            if until_events is not None:
                if session.last_seq >= until_events:
                    break
            elif i >= steps:
                break
            session.answer(answer_text(i))
            i += 1
            if progress and i % 2000 == 0:
                progress(f"  built {i} steps")
        sid, last_seq = session.id, session.last_seq
        session.close()
    return sid, last_seq


def copy_store(src: Path, dst: Path) -> Path:
    """Copy a closed store file (and a WAL left behind, if any)."""
    shutil.copyfile(src, dst)
    for suffix in ("-wal", "-shm"):
        extra = Path(str(src) + suffix)
        if extra.exists():
            shutil.copyfile(extra, Path(str(dst) + suffix))
    return dst


def now_ns() -> int:
    return time.perf_counter_ns()


def p50(values: list[float]) -> float:
    return statistics.median(values)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def peak_mib(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run fn under tracemalloc; return (result, peak MiB of Python allocations)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / (1024 * 1024)


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


def store_pragmas(store: Any) -> tuple[str, int]:
    """The journal mode and synchronous level the store's own connection really uses."""
    conn = store._conn
    mode = conn.select_one("PRAGMA journal_mode")[0]
    sync = conn.select_one("PRAGMA synchronous")[0]
    return str(mode), int(sync)
