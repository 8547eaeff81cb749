"""The server database on PostgreSQL (psycopg 3, async pool): for several workers and servers.

Tables are prefixed `steadychat_` so the server can share a database with other programs without
ever adopting one of their tables. `steadychat_schema` holds the schema version; start-up takes
an advisory lock, so N servers starting together create the schema once. A newer version is
refused in one line.

A batch is applied atomically, inside one transaction, and acknowledged only after COMMIT. The
usual batch (it starts right after the session's last seq) takes the group path: the batches a
worker has waiting at that moment (one per session, up to GROUP_MAX) go to PostgreSQL as ONE
statement with ONE parameter (a JSON array built from the rows the app validated): a CTE moves
each session's `last_seq` forward only if the session is the caller's and still ends where its
batch begins (the row lock serialises concurrent batches of one session), inserts that batch's
rows, and returns the sessions it moved. So the batches waiting together share one round trip
and one commit (one WAL flush), as SQLite's group commit does; each batch is still all or
nothing (its UPDATE and INSERT are the same statement), and a batch that did not move changed
nothing. At most LANES such statements run at once per worker; under light load a group is one
batch and waits for nothing. Every batch that did not move (a resend, a gap, another owner, an
unknown session) then takes the careful path in its own transaction: `SELECT … FOR UPDATE`,
compare, insert the new part. Either way (sid, seq) is the primary key, the last line of defence
against a duplicate.

Session registrations (PUT) are grouped the same way, by the same `_Groups`: the PUTs a worker
has waiting go as ONE `INSERT … ON CONFLICT (sid) DO NOTHING RETURNING` that also reports the
sessions already there with the same owner and meta (answered 200 as before, from the same
snapshot). A PUT it neither created nor confirmed (another owner, other meta, a row committed
by someone else meanwhile) takes the per-request path. Without this, the 200 PUTs of 200 clients
starting together went one by one through the pool, and every client's first POST queued
behind them. The pool opens all its connections at start for the same reason.

Measured on 2 cores (issue 13): per 5-event POST, one statement per batch through the pool cost
the worker about 0.6 ms of CPU and PostgreSQL about 0.5 ms; grouped, both fall several-fold.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
    SyncEntry,
    SyncOutcome,
    Unavailable,
    list_sessions_query,
    now_text,
    outcome_of,
    plan_batch,
)

SCHEMA_VERSION = 1
POOL_MAX = 8  # per worker; 2 workers x 8 stays far under PostgreSQL's default 100 connections
LANES = 2  # group statements in flight at once per worker
GROUP_MAX = 64  # batches per group statement
GROUP_BYTES = 1 << 20  # JSON parameter size that closes a group (a lone larger batch still goes)
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

_GROUP_APPEND = """
WITH g AS (
    SELECT x ->> 'sid' AS sid, x ->> 'owner' AS owner, (x ->> 'before')::bigint AS before,
           (x ->> 'end')::bigint AS last, x -> 'events' AS events
    FROM json_array_elements(%s::json) AS x
),
moved AS (
    UPDATE steadychat_sessions AS s SET last_seq = g.last, updated_at = %s
    FROM g WHERE s.sid = ANY(ARRAY(SELECT sid FROM g)) -- by index, whatever the planner guesses of g
      AND s.sid = g.sid AND s.owner = g.owner AND s.last_seq = g.before
    RETURNING s.sid, g.events
),
added AS (
    INSERT INTO steadychat_events (sid, seq, type, ts, data)
    SELECT moved.sid, (e ->> 0)::bigint, e ->> 1, e ->> 2, e ->> 3
    FROM moved, json_array_elements(moved.events) AS e
)
SELECT sid FROM moved
"""

_GROUP_REGISTER = """
WITH g AS (
    SELECT x ->> 'sid' AS sid, x ->> 'owner' AS owner, x ->> 'meta' AS meta
    FROM json_array_elements(%(items)s::json) AS x
),
added AS (
    INSERT INTO steadychat_sessions (sid, owner, meta, created, last_seq, updated_at)
    SELECT sid, owner, meta, %(now)s, 0, %(now)s FROM g
    ON CONFLICT (sid) DO NOTHING
    RETURNING sid, last_seq, updated_at
)
SELECT sid, true, last_seq, updated_at FROM added
UNION ALL -- a session already there (the statement's snapshot: none of the rows added above)
SELECT s.sid, false, s.last_seq, s.updated_at
FROM steadychat_sessions AS s JOIN g ON s.sid = g.sid AND s.owner = g.owner AND s.meta = g.meta
WHERE s.sid = ANY(ARRAY(SELECT sid FROM g)) -- by index, whatever the planner guesses of g
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


def _group_item(sid: str, owner: str, batch: list[EventRow]) -> bytes:
    """One batch as an element of the group statement's JSON parameter. Every text goes in as a
    JSON string (`data` too, as the text the client sent), so PostgreSQL stores exactly what the
    app validated, whatever escapes it holds (\\u0000 included)."""
    dumps = orjson.dumps
    events = b",".join(b"[%d,%b,%b,%b]" % (seq, dumps(kind), dumps(ts), dumps(data)) for seq, kind, ts, data in batch)
    return b'{"sid":%b,"owner":%b,"before":%d,"end":%d,"events":[%b]}' % (
        dumps(sid),
        dumps(owner),
        batch[0][0] - 1,
        batch[-1][0],
        events,
    )


def _register_item(sid: str, owner: str, meta_text: str) -> bytes:
    """One PUT as an element of the register statement's JSON parameter (meta as its text)."""
    dumps = orjson.dumps
    return b'{"sid":%b,"owner":%b,"meta":%b}' % (dumps(sid), dumps(owner), dumps(meta_text))


def _arrays(batch: list[EventRow]) -> dict[str, list[Any]]:
    seqs, types, tss, datas = zip(*batch, strict=True)
    return {"seqs": list(seqs), "types": list(types), "tss": list(tss), "datas": list(datas)}


@dataclass
class _Waiting:
    """A request waiting for its group's statement; `answer` is what the statement said of it
    (None: it did not apply, and changed nothing)."""

    key: str
    item: bytes
    answer: asyncio.Future[Any]


def _settle(waiting: _Waiting, answer: Any, error: BaseException | None = None) -> None:
    if waiting.answer.done():  # the request was cancelled (client gone): nothing to tell
        return
    if error is not None:
        waiting.answer.set_exception(error)
    else:
        waiting.answer.set_result(answer)


GroupStatement = Callable[[str], Awaitable[dict[str, Any]]]
"""Runs one group: given the JSON array of the group's items, returns key → answer for each item
it applied, in one statement and one commit."""


class _Groups:
    """Requests of one kind (event batches, or session registrations) that a worker has waiting
    at the same moment, sent to PostgreSQL as ONE statement with ONE parameter and ONE commit.

    Each request is an item of a JSON array, keyed by its session: a group holds at most one item
    per key (a second one waits for the next group), at most GROUP_MAX items and GROUP_BYTES.
    At most LANES groups run at once; under light load a group is one request and waits for
    nothing. A request the statement did not apply gets None (the caller then takes its careful
    path, in its own transaction). One item's error must not fail the others: the group is then
    retried one item at a time. A lost database fails the whole group as Unavailable."""

    def __init__(self, statement: GroupStatement) -> None:
        self._statement = statement
        self._waiting: list[_Waiting] = []
        self._lanes = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: str, item: bytes) -> Any:
        """Queue one item for the next group; its answer once committed, None if not applied."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(key, item, loop.create_future())
        self._waiting.append(waiting)
        if self._lanes < LANES:
            self._lanes += 1
            task = loop.create_task(self._lane())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await waiting.answer

    def _take(self) -> list[_Waiting]:
        """The oldest waiting items, one per key, up to GROUP_MAX and GROUP_BYTES."""
        group: list[_Waiting] = []
        rest: list[_Waiting] = []
        keys: set[str] = set()
        size = 0
        for waiting in self._waiting:
            full = len(group) >= GROUP_MAX or (group and size + len(waiting.item) > GROUP_BYTES)
            if full or waiting.key in keys or waiting.answer.done():
                if not waiting.answer.done():
                    rest.append(waiting)
                continue
            group.append(waiting)
            keys.add(waiting.key)
            size += len(waiting.item)
        self._waiting = rest
        return group

    async def _lane(self) -> None:
        """Run group statements while items wait (bounded: each round takes at least one)."""
        try:
            while self._waiting:
                group = self._take()
                if group:
                    await self._run(group)
        finally:
            self._lanes -= 1

    async def _run(self, group: list[_Waiting]) -> None:
        param = b"[" + b",".join(waiting.item for waiting in group) + b"]"
        try:
            answers = await self._statement(param.decode())
        except psycopg.OperationalError as exc:
            for waiting in group:
                _settle(waiting, None, Unavailable(str(exc)))
            return
        except psycopg.Error as exc:
            if len(group) == 1:
                _settle(group[0], None, exc)
                return
            for waiting in group:  # one item's error must not fail the others: each alone
                await self._run([waiting])
            return
        except BaseException as exc:  # cancelled at shutdown, or a bug: no caller may hang
            for waiting in group:
                _settle(waiting, None, exc if isinstance(exc, Exception) else Unavailable("server stopping"))
            raise
        for waiting in group:
            _settle(waiting, answers.get(waiting.key))


class PostgresBackend:
    """PostgreSQL behind the async `Backend` interface, on psycopg's async pool (no thread hop)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.description = f"PostgreSQL {redact(dsn)}"
        self._pool: AsyncConnectionPool | None = None
        self._appends = _Groups(self._append_group)
        self._registers = _Groups(self._register_group)

    async def open(self) -> None:
        pool = AsyncConnectionPool(
            self.dsn,
            min_size=POOL_MAX,  # every connection opened now: a first burst pays for no connect
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
        found = await self._registers.submit(sid, _register_item(sid, owner, meta_text))
        if found is not None:  # created, or already there with this owner and this meta
            created, last_seq, updated_at = found
            return created, StoredSession(sid, orjson.loads(meta_text), last_seq, updated_at)
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
        end = batch[-1][0]
        if await self._appends.submit(sid, _group_item(sid, owner, batch)):
            return end
        try:
            async with self.pool.connection() as conn, conn.transaction():
                row = await (
                    await conn.execute(
                        "SELECT owner, last_seq FROM steadychat_sessions WHERE sid = %s FOR UPDATE", (sid,)
                    )
                ).fetchone()
                if row is None or row[0] != owner:
                    raise NotFound(sid)
                return await self._append_locked(conn, sid, int(row[1]), batch)
        except psycopg.OperationalError as exc:
            raise Unavailable(str(exc)) from None

    # -- the group statements (see `_Groups`) ----------------------------------------------------
    async def _append_group(self, items: str) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_GROUP_APPEND, (items, now_text()), prepare=True)
            return {row[0]: True for row in await cur.fetchall()}

    async def _register_group(self, items: str) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_GROUP_REGISTER, {"items": items, "now": now_text()}, prepare=True)
            return {sid: (created, int(last), updated) for sid, created, last, updated in await cur.fetchall()}

    async def sync_sessions(self, owner: str, entries: list[SyncEntry]) -> list[SyncOutcome]:
        """Every entry of a POST /v1/sync on one connection in one transaction, each entry in
        its own savepoint (a refused entry rolls back to it); one COMMIT covers them all.
        Rows are locked in sid order, whatever the request's order, so two requests sharing
        sessions cannot deadlock; outcomes come back in the request's order."""
        by_sid: dict[str, SyncOutcome] = {}
        try:
            async with self.pool.connection() as conn, conn.transaction():
                for entry in sorted(entries, key=lambda e: e.sid):
                    by_sid[entry.sid] = await self._sync_entry(conn, owner, entry)
        except psycopg.OperationalError as exc:
            raise Unavailable(str(exc)) from None
        return [by_sid[entry.sid] for entry in entries]

    async def _sync_entry(self, conn: psycopg.AsyncConnection[Any], owner: str, entry: SyncEntry) -> SyncOutcome:
        meta_step = entry.meta_text is not None
        try:
            async with conn.transaction():  # a savepoint
                created = False
                if entry.meta_text is not None:
                    now = now_text()
                    cur = await conn.execute(
                        "INSERT INTO steadychat_sessions (sid, owner, meta, created, last_seq, updated_at) "
                        "VALUES (%s, %s, %s, %s, 0, %s) ON CONFLICT (sid) DO NOTHING",
                        (entry.sid, owner, entry.meta_text, now, now),
                    )
                    created = cur.rowcount == 1
                row = await (
                    await conn.execute(
                        "SELECT owner, meta, last_seq FROM steadychat_sessions WHERE sid = %s FOR UPDATE", (entry.sid,)
                    )
                ).fetchone()
                if row is None or row[0] != owner:
                    raise NotFound(entry.sid)
                last = int(row[2])
                if entry.meta_text is not None and not created and row[1] != entry.meta_text:
                    raise Rejected(ERR_DIVERGED, last)
                meta_step = False
                if entry.batch:
                    last = await self._append_locked(conn, entry.sid, last, entry.batch)
        except (NotFound, Rejected) as exc:
            return outcome_of(entry.sid, exc, meta_step=meta_step)
        return SyncOutcome(entry.sid, last)

    @staticmethod
    async def _append_locked(conn: psycopg.AsyncConnection[Any], sid: str, last: int, batch: list[EventRow]) -> int:
        """Apply a batch to a session whose row this transaction holds locked at `last`."""
        first, end = batch[0][0], batch[-1][0]
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
