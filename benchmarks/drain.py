"""Draining the outbox: 10,000 queued events of one session to a real local sync server.

Ours: `tui.sync.background.sync_all` (the `steadychat sync` path: a `SyncClient` reading the
outbox from the store, batches of ≤ 500 events, commit every ack; with one session this is one
POST /v1/sync per batch, the PUT folded into the first). Baseline, in the same run: a bare
`httpx.Client` that PUTs the same session meta and POSTs the very same event bodies (built
beforehand with the client's own `encode_batch`, 500 events a batch) to the per-session
endpoint. Each run gets a fresh server in a child process (`ChildServer`) on 127.0.0.1 with a
fresh database, so the server side costs the same and shares no GIL with the client; the ratio
is what our client adds (store reads, encoding, ack commits, status, retries). httpx is
imported before either clock starts. The queued session is built with real steps and copied
per run (draining marks it synced).

Memory: one extra drain under tracemalloc; the server being another process, the peak is the
client's alone.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

from benchmarks.common import TOKEN, Sizes, copy_store, now_ns, p50, peak_mib, ratio
from benchmarks.drain_server import ChildServer

BATCH = 500
DRAIN_TIMEOUT_S = 300.0


def drain_ours(store_path: Path, url: str) -> tuple[float, int]:
    """(seconds, events left) for sync_all on the store at `store_path`; store open not timed."""
    import httpx  # noqa: F401  (imported before the clock starts, as the baseline's is)

    from tui.store import Store
    from tui.sync.background import sync_all

    with Store.open(store_path) as store:
        gc.collect()
        t0 = now_ns()
        left = sync_all(store, url, TOKEN, DRAIN_TIMEOUT_S)
        seconds = (now_ns() - t0) / 1e9
    return seconds, left


def prepare_raw(store_path: Path, sid: str) -> tuple[bytes, list[bytes], int]:
    """The PUT body and the POST bodies our client sends, built untimed."""
    from tui.store import Store
    from tui.sync.client import encode_batch

    with Store.open(store_path) as store:
        record = store.get_session(sid)
        assert record is not None
        meta = json.dumps({k: getattr(record, k) for k in ("flow_id", "flow_hash", "device_id", "created_at")}).encode()
        events = store.events(sid)
    bodies = []
    for start in range(0, len(events), BATCH):
        chunk = events[start : start + BATCH]
        while chunk:
            body, count = encode_batch(chunk)
            assert count > 0, "an event larger than the body limit"
            bodies.append(body)
            chunk = chunk[count:]
    return meta, bodies, len(events)


def drain_raw(url: str, sid: str, meta: bytes, bodies: list[bytes]) -> float:
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    gc.collect()
    t0 = now_ns()
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:
        answer = client.put(f"/v1/sessions/{sid}", content=meta)
        assert answer.status_code in (200, 201), answer.text
        for body in bodies:
            answer = client.post(f"/v1/sessions/{sid}/events", content=body)
            assert answer.status_code == 200, answer.text
    return (now_ns() - t0) / 1e9


def measure_drain(sizes: Sizes, tmp: Path, queued: Path, sid: str) -> dict[str, Any]:
    meta, bodies, n_events = prepare_raw(queued, sid)
    ours_s: list[float] = []
    raw_s: list[float] = []
    left_max = 0
    for rep in range(sizes.drain_reps):
        order = ("ours", "raw") if rep % 2 == 0 else ("raw", "ours")
        for which in order:
            with ChildServer(tmp / f"server-{which}-{rep}.db") as server:
                if which == "ours":
                    store_copy = copy_store(queued, tmp / f"drain-{rep}.db")
                    seconds, left = drain_ours(store_copy, server.url)
                    left_max = max(left_max, left)
                    ours_s.append(seconds)
                else:
                    raw_s.append(drain_raw(server.url, sid, meta, bodies))

    with ChildServer(tmp / "server-mem.db") as server:
        store_copy = copy_store(queued, tmp / "drain-mem.db")
        (_, left), peak = peak_mib(lambda: drain_ours(store_copy, server.url))
        left_max = max(left_max, left)
    ours, raw = p50(ours_s), p50(raw_s)
    return {
        "drain_10k_events_s": ours,
        "drain_raw_post_s": raw,
        "drain_vs_raw_post": ratio(ours, raw),
        "drain_10k_peak_mib": peak,
        "drain_events": n_events,
        "drain_batches": len(bodies),
        "drain_left": left_max,
    }
