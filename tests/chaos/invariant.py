"""The check every chaos scenario ends with (FAULTS.md):

server events == client events, seq 1..N, no duplicates, no gaps, nothing shown is missing
locally, every event acknowledged, and the final status word is true.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from tests.databases import server_seqs
from tui.steps import as_json_data
from tui.store import Store
from tui.sync.status import SyncStatus

PAGE = 500
MAX_PAGES = 200  # 100,000 events: far beyond any scenario


def server_events(url: str, token: str, sid: str) -> list[dict[str, Any]] | None:
    """Every event the server holds for `sid` (GET /v1/sessions/{sid}/events), or None on 404."""
    out: list[dict[str, Any]] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        for _ in range(MAX_PAGES):
            response = api.get(f"/v1/sessions/{sid}/events", params={"after": len(out), "limit": PAGE})
            if response.status_code == 404:
                return None
            assert response.status_code == 200, f"GET events answered {response.status_code}"
            page = response.json()["events"]
            if not page:
                return out
            out += page
    raise AssertionError("too many pages of events")


def server_db_seqs(db: Path | str, sid: str) -> list[int]:
    """The seqs the server's database (SQLite file or PostgreSQL) holds for `sid`, read directly."""
    return server_seqs(str(db), sid)


def local_events(store: Store, sid: str) -> list[dict[str, Any]]:
    return [as_json_data(e) for e in store.events(sid)]


def assert_exact_log(
    store: Store,
    url: str,
    token: str,
    sids: Iterable[str] | None = None,
    *,
    status: SyncStatus | str | None = None,
    shown: Iterable[str] = (),
) -> int:
    """The invariant for every session of `store` (or `sids`); returns the total event count.

    `status` is the client's final status (or its words): it must say `online`, which is only
    true with nothing queued. `shown` are answer texts a UI printed: each must be stored.
    """
    total = 0
    answers: set[str] = set()
    for sid in sids if sids is not None else store.session_ids():
        local = local_events(store, sid)
        seqs = [e["seq"] for e in local]
        assert seqs == list(range(1, len(local) + 1)), f"{sid[:8]}: local seqs are not 1..N"
        remote = server_events(url, token, sid)
        assert remote is not None, f"{sid[:8]}: the server does not know the session"
        assert [e["seq"] for e in remote] == seqs, f"{sid[:8]}: server seqs differ (gap, extra or duplicate)"
        for mine, theirs in zip(local, remote, strict=True):
            assert theirs == mine, f"{sid[:8]}: event {mine['seq']} differs on the server"
        assert store.acked_seq(sid) == len(local), f"{sid[:8]}: acked {store.acked_seq(sid)} of {len(local)}"
        assert store.pending_count(sid) == 0
        answers.update(e["data"].get("text", "") for e in local if e["type"] == "answer")
        total += len(local)
    missing = [text for text in shown if text not in answers]
    assert not missing, f"shown but not stored: {missing[:5]}"
    if status is not None:
        words = status if isinstance(status, str) else status.words()
        assert words == "online", f"final status is {words!r} with everything acknowledged"
    return total
