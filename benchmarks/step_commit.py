"""A step's durable commit, against a bare-sqlite floor and against a naive snapshot client.

`measure_step_commit`: a real `Session` answers on the looping bench flow; each of its
`store.append_events` calls (the step's one commit: 5 events, plus the session cache every
few steps, exactly as the session decides) is timed. Interleaved with it (alternating which
goes first), the *same bytes*, encoded beforehand, are written by a bare `sqlite3` connection to a
table of the same shape (key TEXT PRIMARY KEY, value BLOB), same journal mode and synchronous
level as the store's own connection, with the store's own statement shape: one multi-row INSERT
of the step's rows (the honest floor; `executemany` would be slower), the cache row when due,
one commit. The ratio says what our layers (event encoding, locking, bookkeeping) cost on top of
what SQLite must do. Both connections are in autocommit mode, as the store's is: a step without
the cache row is the INSERT alone (its own transaction); a step with it is BEGIN IMMEDIATE, the
INSERT, the cache row, COMMIT. After it, `answer_total_ms_p50` times whole answers (engine +
commit); nothing but imports runs before it in `python -m benchmarks`.

`measure_snapshot_vs_incremental`: at ~10,000 steps, our per-step commit versus a naive client
that keeps the transcript in memory and, per step, rewrites the whole session as one JSON
snapshot (one row REPLACE, same sqlite settings). That ratio is why events are appended, not
snapshotted: ours stays flat, the naive cost grows with the session.
"""

from __future__ import annotations

import functools
import gc
import json
import sqlite3
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Sizes,
    answer_text,
    load_bench_flow,
    now_ns,
    p50,
    pct,
    ratio,
    store_pragmas,
)


def _encode(value: Any) -> str:
    # The store's own encoding (tui.store._encode): compact JSON, UTF-8 kept as is.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=64)
def _multi_row_sql(count: int) -> str:
    return 'REPLACE INTO "events" (key, value) VALUES ' + ", ".join(["(?, ?)"] * count)


def _bare_connection(path: Path, journal_mode: str, synchronous: int, tables: tuple[str, ...]) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={journal_mode}")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    for table in tables:
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (key TEXT PRIMARY KEY, value BLOB)')
    conn.commit()
    return conn


def _rows(sid: str, events: list[Any], session: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    from tui.steps import as_json_data
    from tui.store import event_key

    ev_rows = [(event_key(sid, e.seq), _encode(as_json_data(e))) for e in events]
    ses_rows = [(session.id, _encode(as_json_data(session)))] if session is not None else []
    return ev_rows, ses_rows


def measure_step_commit(sizes: Sizes, tmp: Path) -> dict[str, Any]:
    from tui.session import Session
    from tui.store import Store

    flow = load_bench_flow(tmp)
    ours_ms: list[float] = []
    floor_ms: list[float] = []
    events_per_step: list[int] = []
    with Store.open(tmp / "commit.db") as store:
        journal_mode, synchronous = store_pragmas(store)
        floor = _bare_connection(tmp / "floor.db", journal_mode, synchronous, ("events", "sessions"))
        original = store.append_events
        counter = [0]

        def floor_commit(ev_params: list[str], ses_rows: list[tuple[str, str]]) -> float:
            # The honest floor: the store's own statement shape (one multi-row INSERT of the
            # step's pre-encoded rows, the cache row when due, one commit), with nothing to encode.
            t0 = now_ns()
            if not ses_rows:
                floor.execute(_multi_row_sql(len(ev_params) // 2), ev_params)
            else:
                floor.execute("BEGIN IMMEDIATE")
                floor.execute(_multi_row_sql(len(ev_params) // 2), ev_params)
                for row in ses_rows:
                    floor.execute('REPLACE INTO "sessions" (key, value) VALUES (?,?)', row)
                floor.execute("COMMIT")
            return (now_ns() - t0) / 1e6

        def ours_commit(sid: str, events: list[Any], session: Any) -> float:
            t0 = now_ns()
            original(sid, events, session=session)
            return (now_ns() - t0) / 1e6

        def timed(sid: str, events: list[Any], *, session: Any = None) -> None:
            ev_rows, ses_rows = _rows(sid, events, session)
            ev_params = [part for row in ev_rows for part in row]
            counter[0] += 1
            if counter[0] % 2:
                ours = ours_commit(sid, events, session)
                base = floor_commit(ev_params, ses_rows)
            else:
                base = floor_commit(ev_params, ses_rows)
                ours = ours_commit(sid, events, session)
            ours_ms.append(ours)
            floor_ms.append(base)
            events_per_step.append(len(events))

        session = Session.start(store, flow, seed=1)
        for i in range(20):  # warm-up: caches, first pages, WAL file creation
            session.answer(answer_text(i))
        store.append_events = timed  # type: ignore[method-assign,assignment]
        gc.collect()
        for i in range(sizes.commit_steps):
            session.answer(answer_text(i))
        store.append_events = original  # type: ignore[method-assign]
        # A whole answer as a UI pays it: engine, event records, encoding and the commit.
        answer_ms: list[float] = []
        gc.collect()
        for i in range(sizes.commit_steps):
            t0 = now_ns()
            session.answer(answer_text(50_000 + i))
            answer_ms.append((now_ns() - t0) / 1e6)
        session.close()
        floor.close()
    ours_p50, floor_p50 = p50(ours_ms), p50(floor_ms)
    return {
        "step_commit_p50_ms": ours_p50,
        "step_commit_p99_ms": pct(ours_ms, 99),
        "sqlite_floor_p50_ms": floor_p50,
        "sqlite_floor_p99_ms": pct(floor_ms, 99),
        "step_commit_vs_sqlite_floor": ratio(ours_p50, floor_p50),
        "step_commit_events_per_step": p50([float(n) for n in events_per_step]),
        "step_commit_steps": len(ours_ms),
        "answer_total_ms_p50": p50(answer_ms),
        "answer_total_ms_p99": pct(answer_ms, 99),
        "store_journal_mode": journal_mode,
        "store_synchronous": synchronous,
    }


def measure_snapshot_vs_incremental(sizes: Sizes, tmp: Path, store_path: Path, sid: str) -> dict[str, Any]:
    """Continue the large session: time our commits, then a naive snapshot client's, same steps."""
    from tui.session import Session
    from tui.steps import as_json_data
    from tui.store import Store

    ours_ms: list[float] = []
    steps: list[list[dict[str, Any]]] = []
    with Store.open(store_path) as store:
        journal_mode, synchronous = store_pragmas(store)
        session = Session.resume(store, sid)
        length_before = session.last_seq
        steps_before = length_before  # events; steps counted below from the answers
        original = store.append_events

        def timed(s: str, events: list[Any], *, session: Any = None) -> None:
            t0 = now_ns()
            original(s, events, session=session)
            ours_ms.append((now_ns() - t0) / 1e6)
            steps.append([as_json_data(e) for e in events])

        store.append_events = timed  # type: ignore[method-assign,assignment]
        gc.collect()
        for i in range(sizes.incremental_steps):
            session.answer(answer_text(100_000 + i))
        store.append_events = original  # type: ignore[method-assign]
        transcript = [as_json_data(e) for e in store.events(sid, after=0, limit=length_before)]
        session.close()

    # The naive client: the whole transcript in memory, rewritten as one row per step.
    naive_ms: list[float] = []
    naive = _bare_connection(tmp / "naive.db", journal_mode, synchronous, ("sessions",))
    naive.execute(
        'REPLACE INTO "sessions" (key, value) VALUES (?,?)', (sid, _encode({"id": sid, "events": transcript}))
    )
    naive.commit()
    snapshot_bytes = 0
    gc.collect()
    for step in steps[: sizes.snapshot_steps]:
        t0 = now_ns()
        transcript.extend(step)
        blob = _encode({"id": sid, "events": transcript})
        naive.execute('REPLACE INTO "sessions" (key, value) VALUES (?,?)', (sid, blob))
        naive.commit()
        naive_ms.append((now_ns() - t0) / 1e6)
        snapshot_bytes = len(blob.encode("utf-8"))
    naive.close()
    ours_p50, naive_p50 = p50(ours_ms), p50(naive_ms)
    return {
        "incremental_step_at_10k_ms": ours_p50,
        "naive_snapshot_step_at_10k_ms": naive_p50,
        "naive_snapshot_mib": snapshot_bytes / (1024 * 1024),
        "snapshot_vs_incremental_10k": ratio(naive_p50, ours_p50),
        "snapshot_session_events": steps_before,
    }
