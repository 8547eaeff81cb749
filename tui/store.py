"""The local store: one SQLite file, JSON values, events are the truth.

Tables (sqlitedict, JSON-encoded; never pickle, so a crafted file cannot run code):
- `meta`      {"app": "steadychat", "schema": 1, "device_id": ...}: marks the file as ours
- `events`    key `{session}:{seq:010d}` → {seq, type, ts, data}; append-only
- `sessions`  key session id → SessionRecord (the cached state; may lag behind the events)
- `sync`      key session id → acknowledged seq
- `flows`     key flow hash → canonical flow JSON (what each session started with)
- `conflicts` key session id → {"detail", "server_seq", "fork"}: the server holds other events
              for this session (409 diverged); cleared by `steadychat resolve`
- `session_index` the listing columns of `sessions` in plain SQL columns, kept by triggers, so a
              flow's latest active session and the newest page need no walk (tui/store_index.py);
              a store made before it gets it on open

All tables share one SQLite connection (sqlitedict's tables on a direct connection), so a step's events and,
every few steps, its session cache land in a single transaction: one commit per step, and no
writer-lock contention between our own tables. sqlitedict stays behind this module: nothing else
imports it, so it can be replaced without touching the rest.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from sqlitedict import SqliteDict

from tui import session_ids
from tui import store_index as index_sql
from tui.errors import StoreError
from tui.steps import EngineState, Record, StoredEvent, as_json_data, as_json_text
from tui.store_index import SessionSummary as SessionSummary  # re-exported: listings' rows

SCHEMA_VERSION = 1
APP_MARK = "steadychat"
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000
TABLES = ("meta", "events", "sessions", "sync", "flows", "conflicts")
_REPLACE_SESSION = 'REPLACE INTO "sessions" (key, value) VALUES (?, ?)'
# Writes take the write lock at once (waiting up to BUSY_TIMEOUT_MS for another process), so a
# write that reads first never fails on upgrading a stale read snapshot.
BEGIN = "BEGIN IMMEDIATE"
_T = TypeVar("_T")

# sqlitedict logs failed statements with stacks at ERROR level; errors reach users as one line
# through StoreError instead.
logging.getLogger("sqlitedict").addHandler(logging.NullHandler())
logging.getLogger("sqlitedict").propagate = False


@functools.lru_cache(maxsize=64)
def _insert_events_sql(count: int) -> str:
    return 'REPLACE INTO "events" (key, value) VALUES ' + ", ".join(["(?, ?)"] * count)


class SessionRecord(Record, kw_only=True):
    """The cached state of a session: enough to resume without replaying its events."""

    id: str
    flow_id: str
    flow_name: str
    flow_hash: str
    device_id: str
    created_at: str
    status: str = "active"
    last_seq: int = 0
    updated_at: str = ""
    forked_from: str = ""
    state: EngineState = msgspec.field(default_factory=EngineState)


def session_meta(record: SessionRecord) -> dict[str, Any]:
    """The record as JSON values without its engine state: what exports show of a session."""
    data: dict[str, Any] = as_json_data(record)
    del data["state"]
    return data


@dataclass
class SessionRewrite:
    """One session's part of `Store.rewrite` (pull, fork, take-server): drop the events after
    `keep_upto` (None keeps all), add `events`, then set what is not None. `conflict` False
    clears the session's conflict mark."""

    session_id: str
    events: list[StoredEvent] = field(default_factory=list)
    keep_upto: int | None = None
    acked_seq: int | None = None
    record: SessionRecord | None = None
    conflict: dict[str, Any] | bool | None = None


def event_key(session_id: str, seq: int) -> str:
    return f"{session_id}:{seq:010d}"


def _decode(value: Any) -> Any:
    """JSON only: a pickled or otherwise foreign value is refused, never executed."""
    try:
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        return json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise _ForeignValue(str(exc)) from None


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _ForeignValue(StoreError):
    """A stored value that is not JSON."""


class _Table(SqliteDict):  # type: ignore[misc]  # sqlitedict ships no type hints: its base is Any
    """A sqlitedict table that reuses the store's single connection."""

    def __init__(self, shared_conn: Any, filename: str, tablename: str) -> None:
        self._shared_conn = shared_conn
        super().__init__(
            filename,
            tablename=tablename,
            flag="c",
            autocommit=False,
            encode=_encode,
            decode=_decode,
            outer_stack=False,
        )

    def _new_conn(self) -> Any:
        return self._shared_conn


class _DirectConnection:
    """sqlitedict's connection interface on one plain sqlite3 connection, without its thread.

    sqlitedict normally routes every statement through a worker thread and two queues; at our
    step size that hand-off costs more than the commit itself (3.6x a bare sqlite3 commit in
    `python -m benchmarks`). The tables, keys and JSON values stay exactly sqlitedict's; only
    the transport is direct. A lock keeps it safe when the sync thread shares the store: a
    transaction (`begin` ... `commit`) is run under it whole.
    """

    def __init__(self, path: str) -> None:
        self.lock = self._lock = threading.RLock()
        # Autocommit (isolation_level=None): a statement is its own transaction unless `begin`
        # opened one. A step without the cache row is then one INSERT and nothing else: no
        # BEGIN and COMMIT statements around it (~2 µs of a ~30 µs commit).
        self.db = self._db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (this store's contract) without an fsync
        # per commit; sqlitedict itself would set OFF.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self.autocommit = False

    def execute(self, req: str, arg: Any = None, res: Any = None) -> None:
        with self._lock:
            self._db.execute(req, arg or ())

    def executemany(self, req: str, items: Any) -> None:
        with self._lock:
            self._db.executemany(req, items)

    def select(self, req: str, arg: Any = None) -> Iterator[Any]:
        with self._lock:
            rows = self._db.execute(req, arg or ()).fetchall()
        yield from rows

    def select_one(self, req: str, arg: Any = None) -> Any:
        with self._lock:
            return self._db.execute(req, arg or ()).fetchone()

    def begin(self) -> None:
        """Open a transaction: what follows is committed (or rolled back) as one."""
        with self._lock:
            self._db.execute(BEGIN)

    def commit(self, blocking: bool = True) -> None:
        with self._lock:
            self._db.commit()

    def rollback(self) -> None:
        with self._lock:
            try:
                self._db.rollback()
            except sqlite3.Error:
                pass

    def close(self, force: bool = False) -> None:
        with self._lock:
            try:
                self._db.commit()
            finally:
                self._db.close()


class Store:
    """The local store. Open it with `Store.open(path)`; every failure is a StoreError."""

    def __init__(self, path: Path, conn: Any, tables: dict[str, _Table]) -> None:
        self.path = path
        self._conn = conn
        self._tables = tables
        self._meta = tables["meta"]
        self._events = tables["events"]
        self._sessions = tables["sessions"]
        self._sync = tables["sync"]
        self._flows = tables["flows"]
        self._conflicts = tables["conflicts"]
        self.device_id: str = ""
        self._checked = False  # quick_check passed: writes may go ahead (see _check_before_write)
        self._damage: StoreError | None = None
        self._indexed = False  # session_index exists (else listings read the records themselves)

    # ----------------------------------------------------------------- opening and closing
    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> Store:
        """Open or create the store at `path`; refuse corrupt or foreign files untouched.

        `create=False` (the read-only commands) refuses a missing path with "no store at PATH"
        instead of creating one, so a typo in --store is not mistaken for an empty store.
        """
        path = Path(path).expanduser()
        _check_file(path, create=create)
        created = _create_file(path)
        try:
            conn = _DirectConnection(str(path))
            tables = {name: _Table(conn, str(path), name) for name in TABLES}
        except (sqlite3.Error, RuntimeError, OSError) as exc:
            raise _store_error(path, exc) from None
        store = cls(path, conn, tables)
        try:
            store._init_meta(created)
            store._ensure_index()
        except BaseException:
            store.close()
            raise
        return store

    def _init_meta(self, created: bool) -> None:
        meta = self._read(lambda: self._meta.get("app"))
        if meta is None:
            if not created and self._read(lambda: len(self._events)) > 0:
                raise StoreError(f"{self.path}: not a SteadyChat store (no app mark); use another --store path")
            self._write(
                lambda: self._meta.update(
                    {"app": {"name": APP_MARK, "schema": SCHEMA_VERSION}, "device_id": uuid.uuid4().hex}
                )
            )
            meta = {"name": APP_MARK, "schema": SCHEMA_VERSION}
        if not isinstance(meta, dict) or meta.get("name") != APP_MARK:
            raise StoreError(f"{self.path}: not a SteadyChat store; use another --store path")
        if meta.get("schema", 0) > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer SteadyChat (schema {meta.get('schema')}); upgrade steadychat"
            )
        self.device_id = self._read(lambda: self._meta.get("device_id")) or uuid.uuid4().hex

    def _ensure_index(self) -> None:
        """Give a store made before the session index its index (once, one transaction, after
        quick_check like every first write). A store this process may not write (a read-only
        file) keeps working without it: its listings read the records themselves."""
        present = self._read(lambda: self._conn.select_one(index_sql.PRESENT, index_sql.INDEX_OBJECTS))[0]
        if present == len(index_sql.INDEX_OBJECTS):
            self._indexed = True
            return
        if not os.access(self.path, os.W_OK):
            return

        def migrate() -> None:
            for statement in (*index_sql.CREATE, *index_sql.MIGRATE):
                self._conn.execute(statement)

        self._write(migrate)
        self._indexed = True

    def close(self) -> None:
        """Close the single connection (all tables share it). Safe to call twice."""
        if self._conn is None:
            return
        for table in self._tables.values():
            table.conn = None  # the shared connection is closed once, below
        try:
            self._conn.commit(blocking=True)
            self._conn.close()
        except (sqlite3.Error, RuntimeError):
            pass
        self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- events: the truth
    def append_events(
        self, session_id: str, events: list[StoredEvent], *, session: SessionRecord | None = None
    ) -> None:
        """Commit a step's events (and optionally the session cache) in one transaction."""
        prefix = session_id + ":"
        params: list[str] = []
        for event in events:  # event_key's format (zfill: cheaper than a format spec); JSON made once
            params += (prefix + str(event.seq).zfill(10), event.json_text())
        sql = _insert_events_sql(len(events))
        cache = None if session is None else (session.id, as_json_text(session))
        conn = self._conn
        if conn is None or not self._checked:  # closed, or the first write: the general path
            self._write(lambda: self._insert(sql, params, cache))
            return
        # The hot path of every step, under the connection's lock: one multi-row insert into
        # sqlitedict's events table (cheaper than executemany), which alone is its own
        # transaction (autocommit); with the cache row when due, one BEGIN ... COMMIT for both.
        db = conn.db
        try:
            with conn.lock:
                if cache is None:
                    db.execute(sql, params)
                else:
                    db.execute(BEGIN)
                    db.execute(sql, params)
                    db.execute(_REPLACE_SESSION, cache)
                    db.commit()
        except (sqlite3.Error, RuntimeError) as exc:
            conn.rollback()
            raise _store_error(self.path, exc) from None

    def _insert(self, sql: str, params: list[str], cache: tuple[str, str] | None) -> None:
        self._conn.execute(sql, params)
        if cache is not None:
            self._conn.execute(_REPLACE_SESSION, cache)

    def events(self, session_id: str, after: int = 0, limit: int | None = None) -> list[StoredEvent]:
        """Events with seq > after, ascending; at most `limit`."""
        sql = 'SELECT value FROM "events" WHERE key > ? AND key < ? ORDER BY key'
        args: tuple[Any, ...] = (event_key(session_id, after), f"{session_id};")
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        return self._select_events(sql, args)

    def raw_events(self, session_id: str, after: int, limit: int) -> list[tuple[int, str]]:
        """(seq, stored JSON text) for seq > after: the outbox reads these and sends them as is,
        since a stored event is already its wire form. Anything that is not an event object
        is refused here rather than sent."""
        sql = 'SELECT key, value FROM "events" WHERE key > ? AND key < ? ORDER BY key LIMIT ?'
        rows = self._read(lambda: list(self._conn.select(sql, (event_key(session_id, after), f"{session_id};", limit))))
        out = []
        for key, value in rows:
            if isinstance(value, bytes) or not value.startswith('{"seq":'):
                raise StoreError(
                    f"{self.path}: holds an event that is not SteadyChat JSON; refusing to send it "
                    "(move the file aside and start a new store)"
                )
            out.append((int(key.rsplit(":", 1)[1]), value))
        return out

    def events_before(self, session_id: str, before_seq: int, limit: int) -> list[StoredEvent]:
        """Up to `limit` events with seq < before_seq, ascending: a page for lazy transcripts."""
        sql = 'SELECT value FROM "events" WHERE key >= ? AND key < ? ORDER BY key DESC LIMIT ?'
        args = (f"{session_id}:", event_key(session_id, before_seq), limit)
        return list(reversed(self._select_events(sql, args)))

    def last_seq(self, session_id: str) -> int:
        sql = 'SELECT key FROM "events" WHERE key >= ? AND key < ? ORDER BY key DESC LIMIT 1'
        row = self._read(lambda: self._conn.select_one(sql, (f"{session_id}:", f"{session_id};")))
        return int(row[0].rsplit(":", 1)[1]) if row else 0

    def _select_events(self, sql: str, args: tuple[Any, ...]) -> list[StoredEvent]:
        rows = self._read(lambda: list(self._conn.select(sql, args)))
        events = []
        for (value,) in rows:
            try:
                event = msgspec.json.decode(value, type=StoredEvent)
            except (msgspec.DecodeError, TypeError):  # not JSON, not an event, or not text at all
                raise StoreError(
                    f"{self.path}: holds an event that is not SteadyChat JSON; refusing to load it "
                    "(move the file aside and start a new store)"
                ) from None
            events.append(event.with_json(value) if isinstance(value, str) and value.startswith('{"seq":') else event)
        return events

    # ----------------------------------------------------------------- sessions: the cache
    def put_session(self, record: SessionRecord) -> None:
        self._write(lambda: self._sessions.__setitem__(record.id, as_json_data(record)))

    def get_session(self, session_id: str) -> SessionRecord | None:
        raw = self._read(lambda: self._sessions.get(session_id))
        return None if raw is None else self._validate_session(raw)

    def session_ids(self) -> list[str]:
        ids: list[str] = self._read(lambda: list(self._sessions.keys()))
        return ids

    def resolve_id(self, text: str) -> str:
        """The one session whose id starts with `text` (≥ 4 characters); UsageError otherwise."""
        prefix = session_ids.normalise(text)
        sql = 'SELECT key FROM "sessions" WHERE key >= ? AND key < ? ORDER BY key LIMIT 4'
        rows = self._read(lambda: list(self._conn.select(sql, (prefix, prefix + "g"))))
        return session_ids.pick(prefix, [row[0] for row in rows], str(self.path))

    def sessions(self) -> list[SessionRecord]:
        """Every session record, in no particular order (each one decoded and validated: for a
        listing, `session_page` and `latest_active` use the index instead)."""
        return [self._validate_session(raw) for _, raw in self._read(lambda: list(self._sessions.items()))]

    def session_page(self, limit: int | None = 50, before: str | None = None) -> list[SessionSummary]:
        """Up to `limit` sessions (None: all), newest first (created_at, then id); `before`: the
        id of the last row of the previous page. Reads the index: no record is decoded."""
        if not self._index_usable():
            rows = sorted(self._summaries_from_records(), key=lambda s: (s.created_at, s.id), reverse=True)
            if before is not None:
                ids = [row.id for row in rows]
                rows = rows[ids.index(before) + 1 :] if before in ids else []
            return rows if limit is None else rows[:limit]
        count = -1 if limit is None else limit  # SQLite: a negative LIMIT is no limit
        if before is None:
            return self._summaries(index_sql.NEWEST, (count,))
        return self._summaries(index_sql.NEWEST_BEFORE, (before, count))

    def latest_active(self, flow_id: str) -> SessionSummary | None:
        """The newest active session on a flow: what `play`/`run` resume by default."""
        return self._latest(flow_id, active=True)

    def latest_of_flow(self, flow_id: str) -> SessionSummary | None:
        """The newest session on a flow, whatever its status."""
        return self._latest(flow_id, active=False)

    def _latest(self, flow_id: str, *, active: bool) -> SessionSummary | None:
        if not self._index_usable():
            candidates = [
                s
                for s in self._summaries_from_records()
                if s.flow_id == flow_id and (s.status == "active" or not active)
            ]
            return max(candidates, key=lambda s: (s.created_at, s.id), default=None)
        rows = self._summaries(index_sql.LATEST_ACTIVE if active else index_sql.LATEST_ANY, (flow_id,))
        return rows[0] if rows else None

    def _index_usable(self) -> bool:
        """The index holds a row per record. A record that is not JSON text (planted) has none:
        then listings read the records themselves, which refuses it in one line."""
        return self._indexed and bool(self._read(lambda: self._conn.select_one(index_sql.IN_STEP))[0])

    def _summaries(self, sql: str, args: tuple[Any, ...]) -> list[SessionSummary]:
        rows: list[SessionSummary] = self._read(lambda: [self._summary(row) for row in self._conn.select(sql, args)])
        return rows

    def _summary(self, row: tuple[Any, ...]) -> SessionSummary:
        sid, flow_id, name, flow_hash, status, created, updated, cached_seq, forked, key, acked = row
        texts = (sid, flow_id, name, flow_hash, status, created, updated or "", forked or "")
        if not all(isinstance(text, str) for text in texts) or not isinstance(cached_seq, int):
            raise StoreError(f"{self.path}: holds a session record that is not SteadyChat JSON; refusing to load it")
        acked_seq = 0 if acked is None else _decode(acked)
        return SessionSummary(
            id=sid,
            flow_id=flow_id,
            flow_name=name,
            flow_hash=flow_hash,
            status=status,
            created_at=created,
            updated_at=updated or "",
            last_seq=max(cached_seq, int(key.rsplit(":", 1)[1]) if isinstance(key, str) else 0),
            acked_seq=acked_seq if isinstance(acked_seq, int) else 0,
            forked_from=forked or "",
        )

    def _summaries_from_records(self) -> list[SessionSummary]:
        return [
            SessionSummary(
                id=r.id,
                flow_id=r.flow_id,
                flow_name=r.flow_name,
                flow_hash=r.flow_hash,
                status=r.status,
                created_at=r.created_at,
                updated_at=r.updated_at,
                last_seq=max(r.last_seq, self.last_seq(r.id)),
                acked_seq=self.acked_seq(r.id),
                forked_from=r.forked_from,
            )
            for r in self.sessions()
        ]

    def _validate_session(self, raw: Any) -> SessionRecord:
        try:
            return msgspec.convert(raw, SessionRecord)
        except msgspec.ValidationError:
            raise StoreError(
                f"{self.path}: holds a session record that is not SteadyChat JSON; refusing to load it"
            ) from None

    def drop_session(self, session_id: str) -> None:
        """Delete a session's events, cache and sync mark in one transaction (`steadychat drop`,
        which exports it first). The flow it ran stays: other sessions may share it."""
        bounds = (f"{session_id}:", f"{session_id};")

        def delete() -> None:
            self._conn.execute('DELETE FROM "events" WHERE key >= ? AND key < ?', bounds)
            self._conn.execute('DELETE FROM "sessions" WHERE key = ?', (session_id,))
            self._conn.execute('DELETE FROM "sync" WHERE key = ?', (session_id,))

        self._write(delete)

    # ----------------------------------------------------------------- sync bookkeeping
    def acked_seq(self, session_id: str) -> int:
        value = self._read(lambda: self._sync.get(session_id, 0))
        return value if isinstance(value, int) else 0

    def set_acked_seq(self, session_id: str, seq: int) -> None:
        self._write(lambda: self._sync.__setitem__(session_id, int(seq)))

    def pending_count(self, session_id: str) -> int:
        return max(0, self.last_seq(session_id) - self.acked_seq(session_id))

    def total_pending(self) -> int:
        return sum(self.pending_count(sid) for sid in self.session_ids())

    # ----------------------------------------------------------------- conflicts
    def conflict(self, session_id: str) -> dict[str, Any] | None:
        """The session's conflict mark (the server holds other events), or None."""
        value = self._read(lambda: self._conflicts.get(session_id))
        return value if isinstance(value, dict) else None

    def conflicts(self) -> dict[str, dict[str, Any]]:
        """Every session marked in conflict, with its mark."""
        rows = self._read(lambda: list(self._conflicts.items()))
        return {sid: value for sid, value in rows if isinstance(value, dict)}

    def mark_conflict(self, session_id: str, detail: str, server_seq: int | None = None) -> None:
        """Remember that the server diverged from this session (kept until resolved)."""
        mark = {"detail": detail, "server_seq": server_seq}
        self._write(lambda: self._conflicts.__setitem__(session_id, mark))

    def rewrite(self, *changes: SessionRewrite) -> None:
        """Apply every change in ONE transaction: a pull page, a fork or a take-server either
        happens whole or not at all, whatever kills the process."""

        def write() -> None:
            for change in changes:
                sid = change.session_id
                if change.keep_upto is not None:
                    self._conn.execute(
                        'DELETE FROM "events" WHERE key > ? AND key < ?', (event_key(sid, change.keep_upto), f"{sid};")
                    )
                for start in range(0, len(change.events), 500):
                    chunk = change.events[start : start + 500]
                    params: list[str] = []
                    for event in chunk:
                        params += (event_key(sid, event.seq), event.json_text())
                    self._conn.execute(_insert_events_sql(len(chunk)), params)
                if change.acked_seq is not None:
                    self._sync[sid] = int(change.acked_seq)
                if change.record is not None:
                    self._sessions[sid] = as_json_data(change.record)
                if change.conflict is False:
                    if sid in self._conflicts:
                        del self._conflicts[sid]
                elif isinstance(change.conflict, dict):
                    self._conflicts[sid] = change.conflict

        self._write(write)

    # ----------------------------------------------------------------- flows
    def put_flow(self, flow_hash: str, canonical_json: str) -> None:
        if self._read(lambda: flow_hash in self._flows):
            return
        self._write(lambda: self._flows.__setitem__(flow_hash, canonical_json))

    def get_flow(self, flow_hash: str) -> str | None:
        text: str | None = self._read(lambda: self._flows.get(flow_hash))
        return text

    # ----------------------------------------------------------------- plumbing
    def _read(self, fn: Callable[[], _T]) -> _T:
        if self._conn is None:
            raise StoreError(f"{self.path}: the store is closed")
        try:
            return fn()
        except _ForeignValue:
            raise StoreError(
                f"{self.path}: holds a value that is not JSON (pickle?); refusing to load it "
                "(move the file aside and start a new store)"
            ) from None
        except (sqlite3.Error, RuntimeError) as exc:
            raise _store_error(self.path, exc) from None

    def _write(self, fn: Callable[[], object]) -> None:
        """Run writes and commit them durably (blocking): callers show data only after this."""

        def write_and_commit() -> None:
            self._check_before_write()
            conn = self._conn
            with conn.lock:  # the whole transaction: a thread sharing the store waits for it
                conn.begin()
                try:
                    fn()
                    conn.commit(blocking=True)
                except BaseException:
                    conn.rollback()
                    raise

        self._read(write_and_commit)

    def check_writable(self) -> None:
        """Run the pre-write check now: for a command whose first write comes after network work
        (`sync` sends before it records an ack), so a damaged store is refused before anything."""
        self._read(self._check_before_write)

    def _check_before_write(self) -> None:
        """Refuse to write into a damaged file: SQLite's `quick_check` before the first write.

        A zeroed page in the middle of the file goes unnoticed by reads that do not touch it,
        and a write would then build on the damage. quick_check reads every page (≈ 6 ms for a
        10,000-event store, 3 MB), so it runs once per process, before the first write rather
        than at open: resuming a session (no write) and the read-only commands do not pay it.
        """
        if self._damage is not None:
            raise self._damage
        if self._checked:
            return
        try:
            rows = list(self._conn.select("PRAGMA quick_check(1)"))
            problem = None if rows == [("ok",)] else (str(rows[0][0]) if rows else "no answer")
        except sqlite3.DatabaseError as exc:
            problem = str(exc)
        if problem is not None:
            self._damage = StoreError(
                f"{self.path}: store is damaged ({_first_line(problem)}); it was left untouched: "
                f"move it aside and use a new --store (`sqlite3 {self.path.name} .recover` may save its data)"
            )
            raise self._damage
        self._checked = True


def _first_line(text: str) -> str:
    """The first informative line of an SQLite message (quick_check leads with a '*** in database' line)."""
    lines = [line for line in text.strip().splitlines() if line.strip() and not line.startswith("***")]
    return lines[0] if lines else text.strip()


def _check_file(path: Path, *, create: bool) -> None:
    """Refuse a file that is not SQLite before sqlite or sqlitedict touches it."""
    if path.is_dir():
        raise StoreError(f"{path}: is a directory; give --store a file path")
    if not path.exists():
        if not create:
            raise StoreError(f"no store at {path}: check --store or STEADYCHAT_STORE (nothing was created)")
        if not path.parent.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise StoreError(f"{path}: cannot create its folder: {exc.strerror}") from None
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the store: {exc.strerror}") from None
    if not header and not create:
        raise StoreError(f"no store at {path} (an empty file): check --store or STEADYCHAT_STORE")
    if header and header != SQLITE_MAGIC:
        raise StoreError(
            f"{path}: not a SteadyChat store (not an SQLite file); it was left untouched, use another --store path"
        )
    if header:
        _check_tables(path)


def _check_tables(path: Path) -> None:
    """A valid SQLite file must be ours (or empty): never add our tables to a foreign database."""
    # A read-only connection to a WAL file creates -wal/-shm beside it and cannot remove them.
    # Without a -wal file no process is writing it, so read it as immutable: nothing is created.
    wal = path.with_name(path.name + "-wal")
    mode = "ro" if wal.exists() else "ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise _store_error(path, exc) from None
    if names and "meta" not in names:
        raise StoreError(
            f"{path}: an SQLite file of another application; it was left untouched, use another --store path"
        )


def _create_file(path: Path) -> bool:
    """Create the store file with mode 0600 (conversations are private). True if created."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the store: {exc.strerror}") from None
    os.close(fd)
    return True


def _store_error(path: Path, exc: BaseException) -> StoreError:
    """Turn a sqlite failure into one line that says what to do."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        hint = "locked by another process; close it or wait, then try again"
    elif "not a database" in text or "malformed" in text or "corrupt" in text:
        hint = "corrupt or truncated; it was left untouched: move it aside and use a new --store"
    elif "readonly" in text or "read-only" in text:
        hint = "read-only; nothing was saved: make it writable or use another --store"
    elif "disk is full" in text or "full" in text:
        hint = "the disk is full; nothing was saved: free some space and try again"
    elif "unable to open" in text:
        hint = "cannot be opened; check the path and its permissions"
    else:
        hint = f"cannot be used ({exc})"
    return StoreError(f"{path}: store {hint}")
