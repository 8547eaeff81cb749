"""The sync server's store: SQLite in WAL mode, events keyed by (session id, seq).

Durability choice: `synchronous=FULL`. An ack tells the client it may stop resending, so an acked
batch must survive a power cut, not only a process crash; WAL + NORMAL may lose the last commits
on power loss. FULL costs one fsync per commit, and a commit is a whole batch (≤ 500 events), so
the cost is amortised. Each batch is one `BEGIN IMMEDIATE` transaction: a batch killed half-way is
invisible, and the answer is sent only after COMMIT returns.

Sessions belong to the sha256 of the token that created them; the token itself is never stored.
One connection guarded by a lock: the server is small and writes are serialized anyway.

Schema 2 added `sessions.updated_at` (set at registration and by every batch that stores new
events) and an index on (owner, updated_at, sid) for `list_sessions`; a schema-1 file is migrated
in place on open (`_migrate_v1_to_v2`), with `updated_at` starting at the session's `created`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tui.sync.protocol import WireEvent

SCHEMA_VERSION = 2
MAX_LIST_LIMIT = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    sid     TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    meta    TEXT NOT NULL,
    created TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS events (
    sid  TEXT NOT NULL,
    seq  INTEGER NOT NULL,
    type TEXT NOT NULL,
    ts   TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (sid, seq)
) WITHOUT ROWID;
"""

_LIST_INDEX = "CREATE INDEX IF NOT EXISTS sessions_by_owner_updated ON sessions (owner, updated_at, sid)"


def canonical_json(value: Any) -> str:
    """The one text form of a JSON value, so identical events compare equal as strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class NotFound(Exception):
    """Unknown session, or a session of another owner (the two are indistinguishable)."""


class Rejected(Exception):
    """A 409: the batch or meta does not fit what the server holds; `acked_seq` is its last seq."""

    def __init__(self, error: str, acked_seq: int) -> None:
        super().__init__(f"{error} (server holds up to {acked_seq})")
        self.error = error
        self.acked_seq = acked_seq


def _now() -> str:
    """Microseconds, so that sessions updated in a burst still sort apart in a listing."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _migrate_v1_to_v2(conn: sqlite3.Connection) -> None:
    """Schema 1 → 2 (inside the opening transaction): add `updated_at`, starting at `created`."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(sessions)")}
    if "updated_at" not in columns:
        conn.execute("ALTER TABLE sessions ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''")
    conn.execute("UPDATE sessions SET updated_at = created WHERE updated_at = ''")


@dataclass(frozen=True)
class ListedSession:
    """One row of `list_sessions`: meta, last seq held and when it last changed."""

    sid: str
    meta: dict[str, Any]
    last_seq: int
    updated_at: str

    @property
    def cursor(self) -> str:
        """The `before` value that continues a listing after this session."""
        return f"{self.updated_at},{self.sid}"


@dataclass(frozen=True)
class StoredSession:
    """A registered session: its meta (as a dict) and the last seq held."""

    sid: str
    meta: dict[str, Any]
    last_seq: int


class ServerDB:
    """All SQL of the server. Methods are blocking; the app calls them from a worker thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                if version == 1:
                    _migrate_v1_to_v2(self._conn)
                self._conn.execute(_LIST_INDEX)
                self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()

    # -- reads -------------------------------------------------------------------------------

    def _owned(self, sid: str, owner: str) -> dict[str, Any]:
        row = self._conn.execute("SELECT owner, meta FROM sessions WHERE sid = ?", (sid,)).fetchone()
        if row is None or row[0] != owner:
            raise NotFound(sid)
        return json.loads(row[1])

    def _last_seq(self, sid: str) -> int:
        row = self._conn.execute("SELECT MAX(seq) FROM events WHERE sid = ?", (sid,)).fetchone()
        return int(row[0] or 0)

    def get_session(self, sid: str, owner: str) -> StoredSession:
        """The session's meta and last seq; NotFound unless `owner` registered it."""
        with self._lock:
            meta = self._owned(sid, owner)
            return StoredSession(sid, meta, self._last_seq(sid))

    def list_sessions(self, owner: str, before: str | None, limit: int) -> list[ListedSession]:
        """The owner's sessions, most recently updated first, at most `limit`.

        `before` is a page cursor: `UPDATED_AT` (sessions updated strictly before it) or
        `UPDATED_AT,SID` as `ListedSession.cursor` gives it (strictly after that session in this
        order, so sessions updated in the same instant are neither skipped nor repeated).
        """
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        sql = (
            "SELECT s.sid, s.meta, s.updated_at, (SELECT MAX(e.seq) FROM events e WHERE e.sid = s.sid) "
            "FROM sessions s WHERE s.owner = ?"
        )
        args: list[Any] = [owner]
        if before:
            stamp, _, sid = before.partition(",")
            if sid:
                sql += " AND (s.updated_at < ? OR (s.updated_at = ? AND s.sid < ?))"
                args += [stamp, stamp, sid]
            else:
                sql += " AND s.updated_at < ?"
                args.append(stamp)
        sql += " ORDER BY s.updated_at DESC, s.sid DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [ListedSession(sid, json.loads(meta), int(last or 0), updated) for sid, meta, updated, last in rows]

    def events(self, sid: str, owner: str, after: int, limit: int) -> list[dict[str, Any]]:
        """Events with seq > after, ascending, at most `limit`."""
        with self._lock:
            self._owned(sid, owner)
            rows = self._conn.execute(
                "SELECT seq, type, ts, data FROM events WHERE sid = ? AND seq > ? ORDER BY seq LIMIT ?",
                (sid, after, limit),
            ).fetchall()
        return [{"seq": s, "type": t, "ts": ts, "data": json.loads(d)} for s, t, ts, d in rows]

    # -- writes ------------------------------------------------------------------------------

    def register(self, sid: str, owner: str, meta: dict[str, Any]) -> tuple[bool, StoredSession]:
        """Create the session, or confirm it. Returns (created, session).

        Another owner's session raises NotFound; the same owner with other meta raises
        Rejected("diverged").
        """
        meta_text = canonical_json(meta)
        with self._lock, self._transaction():
            row = self._conn.execute("SELECT owner, meta FROM sessions WHERE sid = ?", (sid,)).fetchone()
            if row is None:
                now = _now()
                self._conn.execute(
                    "INSERT INTO sessions (sid, owner, meta, created, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (sid, owner, meta_text, now, now),
                )
                return True, StoredSession(sid, meta, 0)
            if row[0] != owner:
                raise NotFound(sid)
            last = self._last_seq(sid)
            if row[1] != meta_text:
                raise Rejected("diverged", last)
            return False, StoredSession(sid, meta, last)

    def append(self, sid: str, owner: str, events: list[WireEvent]) -> int:
        """Store a contiguous batch in one transaction and return the acked seq (its last seq).

        Events the server already holds must be identical (then they are acknowledged again);
        the rest are inserted. A first seq beyond last+1 is a gap; any stored event that differs
        is a divergence. Either raises Rejected and changes nothing.
        """
        rows = [(e.seq, e.type, e.ts, canonical_json(e.data)) for e in events]
        first, last_in_batch = rows[0][0], rows[-1][0]
        with self._lock, self._transaction():
            self._owned(sid, owner)
            last = self._last_seq(sid)
            if first > last + 1:
                raise Rejected("gap", last)
            if first <= last:
                stored = self._conn.execute(
                    "SELECT seq, type, ts, data FROM events WHERE sid = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                    (sid, first, min(last, last_in_batch)),
                ).fetchall()
                if stored != rows[: len(stored)]:
                    raise Rejected("diverged", last)
            new = [(sid, *row) for row in rows if row[0] > last]
            if new:
                self._conn.executemany("INSERT INTO events (sid, seq, type, ts, data) VALUES (?, ?, ?, ?, ?)", new)
                self._conn.execute("UPDATE sessions SET updated_at = ? WHERE sid = ?", (_now(), sid))
        return last_in_batch

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception (a Rejected batch changes nothing)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
