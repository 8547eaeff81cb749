"""Resume cost: open the store → `Session.resume` → the waiting input and its last turn ready.

The sessions are built with real `Session.answer` steps on the looping bench flow (5 events per
step: a 10,000-step session holds ~50,000 events) and closed normally. The timed path is what
`steadychat run FLOW` does on start: open the store, find the flow's latest active session,
resume it (cache + catch-up replay), read the waiting input and the messages leading up to it.
The goal is that resuming does not depend on the session's length: events are the truth, the
session cache means no replay, and the transcript loads lazily. The baseline is the same path on
a 100-step session in the same run (`resume_growth_100_to_10k`).

Timed in CPU time (`time.process_time_ns`), as the TUI benchmark is: a resume is ~1-3 ms of CPU
(SQLite reads come from the page cache), and on a loaded box wall time let a few preempted runs
flip the growth ratio (single runs read 0.15 to 8.8 with two CPU hogs beside; CPU time 0.92-1.12).
What the session's length could make grow is the work, and CPU time counts the work.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Sizes, p50, peak_mib, ratio


def resume_once(store_path: Path, flow_id: str) -> tuple[int, int]:
    """Open → resume → waiting input ready; returns (last_seq, events shown) and closes again."""
    from tui.session import Session, latest_active_session
    from tui.store import Store

    store = Store.open(store_path)
    try:
        record = latest_active_session(store, flow_id)
        assert record is not None, "bench session missing"
        session = Session.resume(store, record.id)
        try:
            assert session.waiting_input is not None, "resumed session does not wait at an input"
            shown = session.latest_turn()
            return session.last_seq, len(shown)
        finally:
            session.close()
    finally:
        store.close()


def _time_resume(store_path: Path, flow_id: str, reps: int) -> list[float]:
    from tui.session import Session, latest_active_session
    from tui.store import Store

    resume_once(store_path, flow_id)  # warm-up (imports, page cache)
    times: list[float] = []
    for _ in range(reps):
        gc.collect()
        t0 = time.process_time_ns()
        store = Store.open(store_path)
        record = latest_active_session(store, flow_id)
        assert record is not None
        session = Session.resume(store, record.id)
        assert session.waiting_input is not None
        session.latest_turn()
        times.append((time.process_time_ns() - t0) / 1e6)
        session.close()
        store.close()
    return times


def measure_resume(sizes: Sizes, small: tuple[Path, int], large: tuple[Path, int], flow_id: str) -> dict[str, Any]:
    """`small`/`large`: (store path, steps) of sessions built by `common.build_session`."""
    small_path, small_steps = small
    large_path, large_steps = large
    # Interleave the two sizes so that machine noise hits both alike.
    small_ms: list[float] = []
    large_ms: list[float] = []
    for _ in range(sizes.resume_reps):
        small_ms += _time_resume(small_path, flow_id, 1)
        large_ms += _time_resume(large_path, flow_id, 1)
    (last_seq, shown), peak = peak_mib(lambda: resume_once(large_path, flow_id))
    small_p50, large_p50 = p50(small_ms), p50(large_ms)
    return {
        "resume_10k_ms": large_p50,
        "resume_100_ms": small_p50,
        "resume_growth_100_to_10k": ratio(large_p50, small_p50),
        "resume_10k_peak_mib": peak,
        "resume_large_steps": large_steps,
        "resume_large_events": last_seq,
        "resume_small_steps": small_steps,
        "resume_shown_events": shown,
    }
