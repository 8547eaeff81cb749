"""Server databases for tests: a tmp SQLite file, or a fresh PostgreSQL database made and dropped
per test on the server named by STEADYCHAT_TEST_PG (default: the project machines' PostgreSQL 15).

When PostgreSQL is unreachable the PostgreSQL cases skip with the reason, unless CI is set: then
they fail, so CI cannot pass by skipping the backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator
from pathlib import Path

import pytest

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def admin_dsn() -> str:
    return os.environ.get("STEADYCHAT_TEST_PG", DEFAULT_PG)


def _with_database(dsn: str, name: str) -> str:
    base, _, _old = dsn.rpartition("/")
    return f"{base}/{name}"


def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed ({exc})"
    try:
        with psycopg.connect(admin_dsn(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {admin_dsn()} is unreachable: {str(exc).strip().splitlines()[0]}"
    return None


def require_pg() -> None:
    reason = pg_unreachable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: PostgreSQL tests must run)")
        pytest.skip(reason)


class PgDatabase:
    """A database created on the test PostgreSQL server, dropped (with its connections) by drop()."""

    def __init__(self) -> None:
        import psycopg

        self.name = f"steadychat_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.dsn = _with_database(admin_dsn(), self.name)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(admin_dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def make_server_db(kind: str, tmp_path: Path, name: str = "server.db") -> Generator[str, None, None]:
    """Yield a `--db` target of `kind` ('sqlite' or 'postgresql'), removed afterwards."""
    if kind == "sqlite":
        yield str(tmp_path / name)
        return
    require_pg()
    database = PgDatabase()
    try:
        yield database.dsn
    finally:
        database.drop()


def server_seqs(db: str, sid: str) -> list[int]:
    """The seqs the server's database holds for `sid`, read directly (not through the server)."""
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, connect_timeout=5) as conn:
            rows = conn.execute("SELECT seq FROM steadychat_events WHERE sid = %s ORDER BY seq", (sid,)).fetchall()
        return [int(row[0]) for row in rows]
    import sqlite3

    lite = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return [row[0] for row in lite.execute("SELECT seq FROM events WHERE sid = ? ORDER BY seq", (sid,))]
    finally:
        lite.close()


def server_session_rows(db: str, sids: list[str]) -> dict[str, int]:
    """How many session rows the server's database holds for each of `sids`, read directly."""
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT sid, count(*) FROM steadychat_sessions WHERE sid = ANY(%s) GROUP BY sid", (sids,)
            ).fetchall()
    else:
        import sqlite3

        lite = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            marks = ",".join("?" * len(sids))
            rows = lite.execute(
                f"SELECT sid, count(*) FROM sessions WHERE sid IN ({marks}) GROUP BY sid", sids
            ).fetchall()
        finally:
            lite.close()
    return {sid: int(count) for sid, count in rows}
