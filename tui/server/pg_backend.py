"""The server database on PostgreSQL (psycopg 3, async pool): for several workers and servers.

Tables are prefixed `steadychat_` so the server can share a database with other programs without
ever adopting one of their tables. `steadychat_schema` holds the schema version; start-up takes
an advisory lock, so N servers starting together create the schema once. A newer version is
refused in one line.

A batch is one transaction. The usual batch (it starts right after the session's last seq) is a
single statement, so one round trip: a CTE moves `last_seq` forward only if the session is the
caller's and still ends where the batch begins (the row lock serialises concurrent batches of one
session), and inserts the rows. When the app hands over the request body it validated, the rows
come from it inside PostgreSQL (`json_array_elements` on the `json` type returns each `data` as
the exact text sent), so Python neither splits nor dumps the events; otherwise from arrays. Anything else (a resend, a gap, another owner, an
unknown session) takes the careful path: `SELECT … FOR UPDATE`, compare, insert the new part.
Either way (sid, seq) is the primary key, the last line of defence against a duplicate.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool

from tui.server.backend import (
    ERR_DIVERGED,
    EventRow,
    NotFound,
    Rejected,
    ServerDatabaseError,
    StoredSession,
    Unavailable,
    list_sessions_query,
    now_text,
    plan_batch,
)

SCHEMA_VERSION = 1
POOL_MAX = 8  # per worker; 2 workers x 8 stays far under PostgreSQL's default 100 connections
CONNECT_TIMEOUT_S = 5
_LOCK_KEY = 0x53435356  # advisory lock for schema creation ("SCSV")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS steadychat_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS steadychat_sessions (
    sid        text PRIMARY KEY,
    owner      text NOT NULL,
    meta       text NOT NULL,
    created    text NOT NULL,
    last_seq   bigint NOT NULL DEFAULT 0,
    updated_at text NOT NULL
);
CREATE INDEX IF NOT EXISTS steadychat_sessions_by_owner ON steadychat_sessions (owner, updated_at, sid);
CREATE TABLE IF NOT EXISTS steadychat_events (
    sid  text NOT NULL,
    seq  bigint NOT NULL,
    type text NOT NULL,
    ts   text NOT NULL,
    data text NOT NULL,
    PRIMARY KEY (sid, seq)
);
"""

_FAST_APPEND = """
WITH moved AS (
    UPDATE steadychat_sessions SET last_seq = %(end)s, updated_at = %(now)s
    WHERE sid = %(sid)s AND owner = %(owner)s AND last_seq = %(before)s
    RETURNING sid
)
INSERT INTO steadychat_events (sid, seq, type, ts, data)
SELECT moved.sid, u.seq, u.type, u.ts, u.data
FROM moved, unnest(%(seqs)s::bigint[], %(types)s::text[], %(tss)s::text[], %(datas)s::text[]) AS u(seq, type, ts, data)
"""

_FAST_APPEND_BODY = """
WITH moved AS (
    UPDATE steadychat_sessions SET last_seq = %(end)s, updated_at = %(now)s
    WHERE sid = %(sid)s AND owner = %(owner)s AND last_seq = %(before)s
    RETURNING sid
)
INSERT INTO steadychat_events (sid, seq, type, ts, data)
SELECT moved.sid, (e ->> 'seq')::bigint, e ->> 'type', e ->> 'ts', COALESCE(e -> 'data', '{}'::json)::text
FROM moved, json_array_elements(%(body)s::json -> 'events') AS e
"""

_INSERT_ROWS = """
INSERT INTO steadychat_events (sid, seq, type, ts, data)
SELECT %(sid)s, u.seq, u.type, u.ts, u.data
FROM unnest(%(seqs)s::bigint[], %(types)s::text[], %(tss)s::text[], %(datas)s::text[]) AS u(seq, type, ts, data)
"""


def redact(dsn: str) -> str:
    """The DSN without a password, for messages."""
    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", dsn)


def prepare_postgres(dsn: str) -> str:
    """Connect once, create the schema if absent, refuse a newer one. Blocking; runs at start."""
    where = redact(dsn)
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as conn:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                conn.execute(_SCHEMA)
                row = conn.execute("SELECT max(version) FROM steadychat_schema").fetchone()
                version = row[0] if row else None
                if version is None:
                    conn.execute("INSERT INTO steadychat_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
                elif version > SCHEMA_VERSION:
                    raise ServerDatabaseError(
                        f"--db {where}: schema version {version} is newer than this server's {SCHEMA_VERSION}; "
                        "upgrade steadychat to serve it"
                    )
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ServerDatabaseError(f"--db {where}: cannot use it ({reason})") from None
    return f"PostgreSQL {where}"


def _arrays(batch: list[EventRow]) -> dict[str, list[Any]]:
    seqs, types, tss, datas = zip(*batch, strict=True)
    return {"seqs": list(seqs), "types": list(types), "tss": list(tss), "datas": list(datas)}


class PostgresBackend:
    """PostgreSQL behind the async `Backend` interface, on psycopg's async pool (no thread hop)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.description = f"PostgreSQL {redact(dsn)}"
        self._pool: AsyncConnectionPool | None = None

    async def open(self) -> None:
        pool = AsyncConnectionPool(
            self.dsn,
            min_size=2,
            max_size=POOL_MAX,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
        except Exception as exc:
            await pool.close()
            raise ServerDatabaseError(f"--db {redact(self.dsn)}: cannot connect ({exc})") from None
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> AsyncConnectionPool:
        assert self._pool is not None, "backend not open"
        return self._pool

    async def register(self, sid: str, owner: str, meta_text: str) -> tuple[bool, StoredSession]:
        now = now_text()
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "INSERT INTO steadychat_sessions (sid, owner, meta, created, last_seq, updated_at) "
                    "VALUES (%s, %s, %s, %s, 0, %s) ON CONFLICT (sid) DO NOTHING",
                    (sid, owner, meta_text, now, now),
                )
                if cur.rowcount == 1:
                    return True, StoredSession(sid, orjson.loads(meta_text), 0, now)
                row = await (
                    await conn.execute(
                        "SELECT owner, meta, last_seq, updated_at FROM steadychat_sessions WHERE sid = %s", (sid,)
                    )
                ).fetchone()
        except psycopg.OperationalError as exc:
            raise Unavailable(str(exc)) from None
        if row is None or row[0] != owner:
            raise NotFound(sid)
        if row[1] != meta_text:
            raise Rejected(ERR_DIVERGED, row[2])
        return False, StoredSession(sid, orjson.loads(row[1]), row[2], row[3])

    async def apply_batch(self, sid: str, owner: str, batch: list[EventRow], body: bytes | None = None) -> int:
        first, end = batch[0][0], batch[-1][0]
        params: dict[str, Any] = {"sid": sid, "owner": owner, "before": first - 1, "end": end, "now": now_text()}
        if body is not None and b"\\u0000" not in body:
            # PostgreSQL's `json` type keeps each `data` as the very text sent (but its parser
            # refuses to unescape \u0000, so such a rare body goes the array way)
            sql, params["body"] = _FAST_APPEND_BODY, body.decode()
        else:
            sql = _FAST_APPEND
            params.update(_arrays(batch))
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(sql, params)
                if cur.rowcount == len(batch):
                    return end
                async with conn.transaction():
                    row = await (
                        await conn.execute(
                            "SELECT owner, last_seq FROM steadychat_sessions WHERE sid = %s FOR UPDATE", (sid,)
                        )
                    ).fetchone()
                    if row is None or row[0] != owner:
                        raise NotFound(sid)
                    last = int(row[1])
                    stored: list[EventRow] = []
                    if first <= last:
                        stored = await (
                            await conn.execute(
                                "SELECT seq, type, ts, data FROM steadychat_events "
                                "WHERE sid = %s AND seq BETWEEN %s AND %s ORDER BY seq",
                                (sid, first, min(last, end)),
                            )
                        ).fetchall()
                    new = plan_batch(last, batch, stored)
                    if new:
                        await conn.execute(_INSERT_ROWS, {"sid": sid, **_arrays(new)})
                        await conn.execute(
                            "UPDATE steadychat_sessions SET last_seq = %s, updated_at = %s WHERE sid = %s",
                            (new[-1][0], now_text(), sid),
                        )
        except psycopg.OperationalError as exc:
            raise Unavailable(str(exc)) from None
        return end

    async def _owned(self, conn: psycopg.AsyncConnection[Any], sid: str, owner: str) -> StoredSession:
        row = await (
            await conn.execute(
                "SELECT owner, meta, last_seq, updated_at FROM steadychat_sessions WHERE sid = %s", (sid,)
            )
        ).fetchone()
        if row is None or row[0] != owner:
            raise NotFound(sid)
        return StoredSession(sid, orjson.loads(row[1]), int(row[2]), row[3])

    async def get_session(self, sid: str, owner: str) -> StoredSession:
        try:
            async with self.pool.connection() as conn:
                return await self._owned(conn, sid, owner)
        except psycopg.OperationalError as exc:
            raise Unavailable(str(exc)) from None

    async def events(self, sid: str, owner: str, after: int, limit: int) -> list[EventRow]:
        try:
            async with self.pool.connection() as conn:
                await self._owned(conn, sid, owner)
                cur = await conn.execute(
                    "SELECT seq, type, ts, data FROM steadychat_events WHERE sid = %s AND seq > %s ORDER BY seq LIMIT %s",
                    (sid, after, limit),
                )
                return [(int(s), t, ts, d) for s, t, ts, d in await cur.fetchall()]
        except psycopg.OperationalError as exc:
            raise Unavailable(str(exc)) from None

    async def list_sessions(self, owner: str, before: str | None, limit: int) -> list[StoredSession]:
        sql, args = list_sessions_query("steadychat_sessions", "%s", owner, before, limit)
        try:
            async with self.pool.connection() as conn:
                rows = await (await conn.execute(sql, args)).fetchall()
        except psycopg.OperationalError as exc:
            raise Unavailable(str(exc)) from None
        return [StoredSession(sid, orjson.loads(meta), int(last), updated) for sid, meta, last, updated in rows]
