"""Draining many sessions: 1,000 sessions of ~53 queued events each, in one store, to a real
sync server in another process (`drain_1k_sessions_s`).

The store is built once: one real session of the bench flow (Session.start + answers until 53
events), then cloned under 999 new session ids with the same events and a copy of its record,
which is what a store looks like after a thousand short conversations offline. Each run drains
a copy of that store with `sync_all` (the `steadychat sync` path) into a fresh server database;
store open and server start are not timed. Exactly-once is checked after every run: the server
holds every session, seq 1..53, and nothing is left queued.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

from benchmarks.common import Sizes, build_session, copy_store, p50
from benchmarks.drain import drain_ours
from benchmarks.drain_server import ChildServer

EVENTS_PER_SESSION = 53
# sessions, runs: per size mode (the key's name says 1k; `tiny` is the smoke test's toy size)
PLAN = {"tiny": (20, 1), "quick": (1000, 2), "full": (1000, 3)}


def build_many(store_path: Path, flow: Any, sessions: int) -> tuple[list[str], int]:
    """A store holding `sessions` sessions of EVENTS_PER_SESSION queued events; (sids, events each)."""
    from tui.steps import copy_with
    from tui.store import Store

    sid, last = build_session(store_path, flow, 0, until_events=EVENTS_PER_SESSION)
    sids = [sid]
    with Store.open(store_path) as store:
        record = store.get_session(sid)
        assert record is not None
        events = store.events(sid)
        for _ in range(sessions - 1):
            new = uuid.uuid4().hex
            store.append_events(new, events, session=copy_with(record, {"id": new}))
            sids.append(new)
    return sids, last


def _server_counts(db: Path) -> dict[str, tuple[int, int, int]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT sid, COUNT(*), MIN(seq), MAX(seq) FROM events GROUP BY sid").fetchall()
    finally:
        conn.close()
    return {sid: (count, low, high) for sid, count, low, high in rows}


def measure_drain_sessions(sizes: Sizes, tmp: Path, flow: Any) -> dict[str, Any]:
    sessions, runs = PLAN.get(sizes.name, PLAN["quick"])
    queued = tmp / "many.db"
    sids, per = build_many(queued, flow, sessions)
    times: list[float] = []
    left_max = 0
    for run in range(runs):
        db = tmp / f"server-many-{run}.db"
        with ChildServer(db) as server:
            seconds, left = drain_ours(copy_store(queued, tmp / f"many-{run}.db"), server.url)
        counts = _server_counts(db)
        if left == 0 and (set(counts) != set(sids) or any(c != (per, 1, per) for c in counts.values())):
            raise AssertionError("drain_1k_sessions: the server does not hold every event exactly once")
        times.append(seconds)
        left_max = max(left_max, left)
    return {
        "drain_1k_sessions_s": p50(times),
        "drain_1k_sessions_count": sessions,
        "drain_1k_sessions_events": sessions * per,
        "drain_1k_sessions_left": left_max,
    }
