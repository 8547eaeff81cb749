"""`GET /v1/sessions` (protocol v1 addition): the caller's sessions, newest first, paged; and a
server database written before it (schema 1) still opens, migrated."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tui.server.backend import StoredSession
from tui.server.databases import make_backend, prepare_database
from tui.server.sqlite_backend import APPLICATION_ID, SCHEMA_VERSION

TOKEN_A = "token-alpha-0123456789abcdef"  # the same tokens as conftest's server
TOKEN_B = "token-beta-fedcba9876543210"
META = {"flow_id": "demo", "flow_hash": "f" * 64, "device_id": "d" * 32, "created_at": "2026-01-01T00:00:00.000Z"}


def sid_of(n: int) -> str:
    return f"{n:032x}"


def event(seq: int) -> dict[str, Any]:
    return {"seq": seq, "type": "message", "ts": "2026-01-01T00:00:00.000Z", "data": {"text": str(seq)}}


def client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.fixture
def apis(live_server: Any) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with client(live_server.url, TOKEN_A) as a, client(live_server.url, TOKEN_B) as b:
        yield a, b


def test_lists_only_the_callers_sessions_most_recently_updated_first(apis: tuple[httpx.Client, httpx.Client]) -> None:
    a, b = apis
    for n in (1, 2, 3):
        assert a.put(f"/v1/sessions/{sid_of(n)}", json=META).status_code == 201
    assert b.put(f"/v1/sessions/{sid_of(9)}", json=META).status_code == 201
    assert a.post(f"/v1/sessions/{sid_of(1)}/events", json={"events": [event(1), event(2)]}).status_code == 200

    listed = a.get("/v1/sessions")
    assert listed.status_code == 200
    rows = listed.json()["sessions"]
    assert [r["id"] for r in rows] == [sid_of(1), sid_of(3), sid_of(2)], "a new event makes a session the newest"
    assert rows[0]["last_seq"] == 2 and rows[1]["last_seq"] == 0
    assert {"id", "flow_id", "last_seq", "updated_at", "flow_hash", "device_id", "created_at"} <= set(rows[0])
    assert rows[0]["flow_id"] == "demo" and rows[0]["updated_at"] > rows[1]["updated_at"]
    assert listed.json()["next_before"] is None
    assert [r["id"] for r in b.get("/v1/sessions").json()["sessions"]] == [sid_of(9)]
    assert httpx.get(str(a.base_url.join("/v1/sessions")), timeout=10).status_code == 401


def test_pages_cover_every_session_once(apis: tuple[httpx.Client, httpx.Client]) -> None:
    a, _ = apis
    made = [sid_of(100 + n) for n in range(7)]
    for sid in made:
        assert a.put(f"/v1/sessions/{sid}", json=META).status_code == 201
    seen: list[str] = []
    before: str | None = None
    for _ in range(10):  # bounded
        params: dict[str, Any] = {"limit": 3} | ({"before": before} if before else {})
        page = a.get("/v1/sessions", params=params).json()
        seen += [r["id"] for r in page["sessions"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == list(reversed(made))
    # a bare updated_at works as `before` too: sessions updated strictly earlier
    rows = a.get("/v1/sessions").json()["sessions"]
    older = a.get("/v1/sessions", params={"before": rows[2]["updated_at"]}).json()["sessions"]
    assert [r["id"] for r in older] == [r["id"] for r in rows[3:]]


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=x", "before=" + "9" * 300])
def test_bad_paging_is_422(apis: tuple[httpx.Client, httpx.Client], query: str) -> None:
    a, _ = apis
    assert a.get(f"/v1/sessions?{query}").status_code == 422


@pytest.mark.parametrize("version", [1, 2])
def test_an_earlier_servers_database_opens_migrated(tmp_path: Path, version: int) -> None:
    """Schema 1 (no updated_at) and 2 (updated_at, written by the server of round 2 before the
    backends) carry no application_id marker: they are recognised by their tables and migrated."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    updated = ", updated_at TEXT NOT NULL DEFAULT ''" if version == 2 else ""
    conn.executescript(
        f"""
        CREATE TABLE sessions (sid TEXT PRIMARY KEY, owner TEXT NOT NULL, meta TEXT NOT NULL, created TEXT NOT NULL
                               {updated});
        CREATE TABLE events (sid TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, ts TEXT NOT NULL,
                             data TEXT NOT NULL, PRIMARY KEY (sid, seq)) WITHOUT ROWID;
        PRAGMA user_version={version};
        """
    )
    conn.execute(
        "INSERT INTO sessions (sid, owner, meta, created) VALUES (?, 'owner', '{\"flow_id\":\"old\"}', ?)",
        (sid_of(5), "2025-01-01T00:00:00+00:00"),
    )
    if version == 2:
        conn.execute("UPDATE sessions SET updated_at = '2025-06-01T00:00:00.000000+00:00'")
    conn.execute("INSERT INTO events VALUES (?, 1, 'start', 't', '{}')", (sid_of(5),))
    conn.commit()
    conn.close()

    async def read() -> tuple[list[StoredSession], list[tuple[int, str, str, str]]]:
        backend = make_backend(path)
        await backend.open()
        try:
            return await backend.list_sessions("owner", None, 10), await backend.events(sid_of(5), "owner", 0, 10)
        finally:
            await backend.close()

    prepare_database(path)
    rows, events = asyncio.run(read())
    stamp = "2025-06-01T00:00:00.000000+00:00" if version == 2 else "2025-01-01T00:00:00+00:00"
    assert [(r.sid, r.last_seq, r.updated_at, r.meta["flow_id"]) for r in rows] == [(sid_of(5), 1, stamp, "old")]
    assert events[0][1] == "start"
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert check.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    check.close()
    prepare_database(path)  # preparing a migrated file again is a no-op
