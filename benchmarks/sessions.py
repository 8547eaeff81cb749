"""Many sessions: resuming a flow's latest session and listing the newest, at 10,000 sessions.

The store holds `sizes.many_sessions` sessions (10,000 in quick/full) on two flows, a seventh of
them completed, each with the 5 events of a real start step, copied from one real `Session` and
written in one transaction (building 10,000 real sessions would take the whole budget).

- `resume_latest_10k_sessions_ms`: what `steadychat play/run FLOW` does before its first output:
  open the store, find the flow's newest active session, resume it, read the waiting input and
  the turn leading up to it (p50).
- `sessions_page_10k_ms`: what `steadychat sessions` does before its first line: open the store
  read-only and build the first page (50 rows, newest first) with every column it prints (p50).
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from benchmarks.common import Sizes, load_bench_flow, now_ns, p50

PAGE = 50
OTHER_FLOW = "other-flow"


def build_many(store_path: Path, flow: Any, count: int) -> None:
    """`count` sessions: every third on the bench flow, the rest on another; every seventh completed."""
    from tui.session import Session
    from tui.steps import copy_with
    from tui.store import SessionRewrite, Store

    with Store.open(store_path) as store:
        session = Session.start(store, flow, seed=1, session_id="0" * 32)
        template = session.record
        events = store.events(session.id)
        session.close()
        changes = []
        for i in range(count):  # 0 rewrites the template session itself
            sid = f"{i:032x}"
            created = f"2026-01-{1 + i // 86_400:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000Z"
            record = copy_with(
                template,
                {
                    "id": sid,
                    "flow_id": flow.id if i % 3 == 0 else OTHER_FLOW,
                    "status": "completed" if i % 7 == 0 else "active",
                    "created_at": created,
                    "updated_at": created,
                },
            )
            changes.append(SessionRewrite(session_id=sid, events=events, record=record))
        store.rewrite(*changes)


def resume_latest(store_path: Path, flow_id: str) -> str:
    from tui.session import Session, latest_active_session
    from tui.store import Store

    with Store.open(store_path) as store:
        record = latest_active_session(store, flow_id)
        assert record is not None, "no active session on the bench flow"
        session = Session.resume(store, record.id)
        try:
            assert session.waiting_input is not None
            session.latest_turn()
            return session.id
        finally:
            session.close()


def first_page(store_path: Path) -> list[dict[str, Any]]:
    from tui.cli import _local_rows
    from tui.store import Store

    with Store.open(store_path, create=False) as store:
        return _local_rows(store, limit=PAGE)


def _timed(fn: Any, reps: int) -> list[float]:
    fn()  # warm-up: imports, page cache
    times = []
    for _ in range(reps):
        gc.collect()
        t0 = now_ns()
        fn()
        times.append((now_ns() - t0) / 1e6)
    return times


def measure_sessions(sizes: Sizes, tmp: Path) -> dict[str, Any]:
    flow = load_bench_flow(tmp)
    path = tmp / "many.db"
    build_many(path, flow, sizes.many_sessions)
    reps = max(3, sizes.resume_reps)
    resume_ms = _timed(lambda: resume_latest(path, flow.id), reps)
    page_ms = _timed(lambda: first_page(path), reps)
    newest = resume_latest(path, flow.id)
    rows = first_page(path)
    assert newest == max((f"{i:032x}" for i in range(sizes.many_sessions) if i % 3 == 0 and i % 7), default=None), (
        newest
    )
    assert len(rows) >= min(PAGE, sizes.many_sessions) and rows[0]["id"] == f"{sizes.many_sessions - 1:032x}"
    return {
        "resume_latest_10k_sessions_ms": p50(resume_ms),
        "sessions_page_10k_ms": p50(page_ms),
        "many_sessions": sizes.many_sessions,
    }
