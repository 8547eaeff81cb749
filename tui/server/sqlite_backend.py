"""The server database on SQLite: one file in WAL mode, events keyed by (session id, seq).

Durability: `synchronous=FULL`. An ack tells the client it may stop resending, so an acked batch
must survive a power cut, not only a process crash. Each batch is applied inside one
`BEGIN IMMEDIATE` transaction (batches waiting together share it, each in its own savepoint: see
`SQLiteBackend`), and answered only after COMMIT.

Several worker processes on one file take turns writing through a kernel lock: each holds an
exclusive `flock` on `DB-lock` (a file beside the database, 0600, open for the connection's
life) around each write transaction, taken on the database thread, never on the event loop. A
waiting worker wakes the moment the lock is released, where SQLite's busy handler would sleep in
steps of up to 100 ms and retry (with 200 clients on 2 workers, those sleeps were the p99). The
busy timeout (10 s) stays as a fallback for writers that do not take the lock (an older server).
The lock is never held while waiting for anything but SQLite, and SQLite's write lock is only
ever taken under it, so the two cannot deadlock.

Ours or not: the file carries `PRAGMA application_id` = APPLICATION_ID, written to the main file
before WAL is switched on, so the 100-byte header tells it apart from a client store, a text file
or another program's database. `prepare_sqlite` reads that header (and, for a header without the
marker, the table list through an immutable read-only connection) BEFORE anything is written;
a file that is not ours is refused and left byte for byte as it was, with no -wal/-shm beside it.
Files are created 0600 (SQLite gives -wal/-shm the main file's mode): they hold every
conversation and the token hashes.

Schema versions: 1 (sessions, events), 2 adds sessions.updated_at (for `list_sessions`), 3 adds
sessions.last_seq (a one-row check per batch) and the application_id marker. Files of 1 and 2,
written before the marker existed, are recognised by their tables and migrated in place. A file
with a newer version is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

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

APPLICATION_ID = 0x53435356  # "SCSV": a SteadyChat sync server database
SCHEMA_VERSION = 3
SQLITE_MAGIC = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm")
LOCK_SUFFIX = "-lock"  # the writers' turn lock beside the database (flock), see the module doc
BUSY_TIMEOUT_MS = 10_000

_TABLES = """
CREATE TABLE IF NOT EXISTS sessions (
    sid        TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    meta       TEXT NOT NULL,
    created    TEXT NOT NULL,
    last_seq   INTEGER NOT NULL DEFAULT 0,
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
CREATE INDEX IF NOT EXISTS sessions_by_owner_updated ON sessions (owner, updated_at, sid);
"""


def _migrate(conn: sqlite3.Connection) -> None:
    """Schema 1 (sessions, events) or 2 (+ sessions.updated_at) → 3 (+ sessions.last_seq), in
    place, inside the opening transaction: missing columns are added and filled."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(sessions)")}
    if "updated_at" not in columns:
        conn.execute("ALTER TABLE sessions ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''")
    if "last_seq" not in columns:
        conn.execute("ALTER TABLE sessions ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0")
    conn.execute("UPDATE sessions SET updated_at = created WHERE updated_at = ''")
    conn.execute(
        "UPDATE sessions SET last_seq = (SELECT COALESCE(MAX(seq), 0) FROM events WHERE events.sid = sessions.sid)"
    )


# --------------------------------------------------------------------------- is it ours?
def _read_header(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(100)


def _tables_of(path: Path) -> dict[str, set[str]]:
    """Table → column names, read without writing anything (immutable: no lock, no -shm)."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: {r[1] for r in conn.execute(f"PRAGMA table_info({name!r})")} for name in names}
    finally:
        conn.close()


def _not_ours(path: Path, why: str) -> ServerDatabaseError:
    return ServerDatabaseError(
        f"--db {path}: not a SteadyChat server database ({why}); it was left untouched: "
        "give a new file name or the server's own database"
    )


def check_sqlite_file(path: Path) -> bool:
    """Is `path` our database (True), absent or empty (False)? ServerDatabaseError if foreign,
    newer or unreadable. Reads only: nothing is written, no side file is made."""
    if path.is_dir():
        raise ServerDatabaseError(f"--db {path}: is a directory; give a database file path")
    if not path.parent.is_dir():
        raise ServerDatabaseError(f"--db {path}: directory {path.parent} does not exist; create it first")
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        header = _read_header(path)
    except OSError as exc:
        raise ServerDatabaseError(f"--db {path}: cannot read it ({exc.strerror})") from None
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise _not_ours(path, "not an SQLite file")
    app_id = int.from_bytes(header[68:72], "big")
    version = int.from_bytes(header[60:64], "big")
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise ServerDatabaseError(
                f"--db {path}: schema version {version} is newer than this server's {SCHEMA_VERSION}; "
                "upgrade steadychat to serve it"
            )
        return True
    if app_id != 0:
        raise _not_ours(path, f"application_id {app_id:#x}")
    try:
        tables = _tables_of(path)
    except sqlite3.DatabaseError as exc:
        raise _not_ours(path, str(exc)) from None
    if not tables:
        return False
    legacy = set(tables) == {"sessions", "events"} and {"owner", "meta"} <= tables["sessions"] and version <= 2
    if not legacy:
        raise _not_ours(path, f"it holds tables {', '.join(sorted(tables))}")
    return True


def _chmod_private(path: Path) -> None:
    for suffix in ("", *SIDE_FILES, LOCK_SUFFIX):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def prepare_sqlite(path: Path) -> str:
    """Create (0600) or migrate the server database at `path`; refuse a file that is not ours."""
    existed = check_sqlite_file(path)
    created = False
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        created = True
    try:
        conn = _connect(path)
        try:
            if not existed:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")  # in the main file, before WAL
            conn.execute("PRAGMA journal_mode=WAL")
            _chmod_private(path)
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise ServerDatabaseError(f"--db {path}: schema version {version} is newer than {SCHEMA_VERSION}")
                if 0 < version < SCHEMA_VERSION:
                    _migrate(conn)
                _run_script(conn, _TABLES)
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the marker reaches the main file's header
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if created:
            for suffix in ("", *SIDE_FILES, LOCK_SUFFIX):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        raise ServerDatabaseError(f"--db {path}: cannot use it ({exc})") from None
    _chmod_private(path)
    return f"SQLite {path}"


# --------------------------------------------------------------------------- the backend
@dataclass
class _Job:
    """One call for the database thread; `write` jobs share a transaction (group commit)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    write: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client gone): nothing to tell
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class SQLiteBackend:
    """SQLite behind the async `Backend` interface: one connection per worker process, used by
    one dedicated thread (so no lock of ours), which commits in groups.

    Group commit: with `synchronous=FULL` a commit costs an fsync (milliseconds), which alone
    would cap a worker at a few hundred batches a second. The thread takes every write waiting
    in its queue (up to GROUP_MAX), runs each inside its own SAVEPOINT of one `BEGIN IMMEDIATE`
    transaction (a rejected batch rolls back to its savepoint and changes nothing), COMMITs once,
    and only then answers each caller. An ack still means "on disk"; one fsync covers many.
    Reads taken in the same round run after that commit.
    """

    GROUP_MAX = 64

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"SQLite {path}"
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    # -- the database thread -------------------------------------------------------------------
    def _serve_jobs(self) -> None:
        while True:  # ends on the None that close() sends
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            while len(jobs) < self.GROUP_MAX:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._jobs.put(None)  # stop after this round
                    break
                jobs.append(more)
            try:
                outcomes = self._run_writes([j for j in jobs if j.write])
                outcomes += [self._run_one(j) for j in jobs if not j.write]
            except Exception as exc:  # a bug must fail these requests, not hang every later one
                outcomes = [(j, None, exc) for j in jobs]
            for done, result, error in outcomes:
                with contextlib.suppress(RuntimeError):  # the caller's loop is already closed
                    done.loop.call_soon_threadsafe(_settle, done.future, result, error)

    @staticmethod
    def _run_one(job: _Job) -> tuple[_Job, Any, BaseException | None]:
        try:
            return job, job.fn(*job.args), None
        except sqlite3.OperationalError as exc:
            return job, None, Unavailable(str(exc))
        except Exception as exc:
            return job, None, exc

    def _run_writes(self, jobs: list[_Job]) -> list[tuple[_Job, Any, BaseException | None]]:
        if not jobs:
            return []
        with self._write_turn():
            return self._write_round(self.conn, jobs)

    @contextlib.contextmanager
    def _write_turn(self) -> Iterator[None]:
        """This worker's turn to write: the exclusive flock on the lock file, held until the
        transaction inside has committed or rolled back (blocking this thread, not the loop)."""
        fd = self._lock_fd
        locked = False
        if fd is not None:
            with contextlib.suppress(OSError):  # a file system without flock: SQLite's busy timeout alone
                fcntl.flock(fd, fcntl.LOCK_EX)
                locked = True
        try:
            yield
        finally:
            if locked and fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _write_round(self, conn: sqlite3.Connection, jobs: list[_Job]) -> list[tuple[_Job, Any, BaseException | None]]:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return [(job, None, Unavailable(str(exc))) for job in jobs]
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            for job in jobs:
                conn.execute("SAVEPOINT batch")
                done, result, error = self._run_one(job)
                if error is not None:
                    conn.execute("ROLLBACK TO batch")
                conn.execute("RELEASE batch")
                outcomes.append((done, result, error))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return [(job, None, Unavailable(str(exc))) for job in jobs]
        return outcomes

    async def _call(self, fn: Callable[..., Any], *args: Any, write: bool = False) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put(_Job(fn, args, write, loop, future))
        return await future

    # -- open and close --------------------------------------------------------------------------
    async def open(self) -> None:
        self._thread = threading.Thread(target=self._serve_jobs, name="steadychat-sqlite", daemon=True)
        self._thread.start()
        await self._call(self._open)

    def _open(self) -> None:
        conn = _connect(self.path)
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID or version != SCHEMA_VERSION:
            conn.close()
            raise ServerDatabaseError(f"--db {self.path}: not prepared (application_id {app_id}, version {version})")
        conn.execute("PRAGMA synchronous=FULL")
        try:
            self._lock_fd = os.open(f"{self.path}{LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:  # a read-only folder: SQLite's busy timeout alone
            self._lock_fd = None
        self._conn = conn

    def _close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            os.close(fd)

    async def close(self) -> None:
        if self._thread is None:
            return
        await self._call(self._close)
        self._jobs.put(None)
        thread, self._thread = self._thread, None
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "backend not open"
        return self._conn

    # -- bodies, run on the database thread (writes inside the round's transaction) ------------
    def _owned(self, sid: str, owner: str) -> tuple[str, int, str]:
        row = self.conn.execute(
            "SELECT owner, meta, last_seq, updated_at FROM sessions WHERE sid = ?", (sid,)
        ).fetchone()
        if row is None or row[0] != owner:
            raise NotFound(sid)
        return row[1], row[2], row[3]

    def _register(self, sid: str, owner: str, meta_text: str) -> tuple[bool, StoredSession]:
        row = self.conn.execute(
            "SELECT owner, meta, last_seq, updated_at FROM sessions WHERE sid = ?", (sid,)
        ).fetchone()
        if row is None:
            now = now_text()
            self.conn.execute(
                "INSERT INTO sessions (sid, owner, meta, created, last_seq, updated_at) VALUES (?, ?, ?, ?, 0, ?)",
                (sid, owner, meta_text, now, now),
            )
            return True, StoredSession(sid, orjson.loads(meta_text), 0, now)
        if row[0] != owner:
            raise NotFound(sid)
        if row[1] != meta_text:
            raise Rejected(ERR_DIVERGED, row[2])
        return False, StoredSession(sid, orjson.loads(row[1]), row[2], row[3])

    def _apply(self, sid: str, owner: str, batch: list[EventRow]) -> int:
        conn = self.conn
        first, end = batch[0][0], batch[-1][0]
        _meta, last, _updated = self._owned(sid, owner)
        stored: list[EventRow] = []
        if first <= last:
            stored = conn.execute(
                "SELECT seq, type, ts, data FROM events WHERE sid = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                (sid, first, min(last, end)),
            ).fetchall()
        new = plan_batch(last, batch, stored)
        if new:
            conn.executemany(
                "INSERT INTO events (sid, seq, type, ts, data) VALUES (?, ?, ?, ?, ?)", [(sid, *r) for r in new]
            )
            conn.execute(
                "UPDATE sessions SET last_seq = ?, updated_at = ? WHERE sid = ?", (new[-1][0], now_text(), sid)
            )
        return end

    def _sync(self, owner: str, entries: list[SyncEntry]) -> list[SyncOutcome]:
        """Every entry of a POST /v1/sync in this round's transaction, each in its own savepoint
        (a refused entry rolls back to it and changes nothing); one COMMIT covers them all."""
        conn = self.conn
        outcomes: list[SyncOutcome] = []
        for entry in entries:
            conn.execute("SAVEPOINT entry")
            meta_step = entry.meta_text is not None
            try:
                if entry.meta_text is not None:
                    self._register(entry.sid, owner, entry.meta_text)
                meta_step = False
                acked = self._apply(entry.sid, owner, entry.batch) if entry.batch else self._owned(entry.sid, owner)[1]
                outcomes.append(SyncOutcome(entry.sid, acked))
            except (NotFound, Rejected) as exc:
                conn.execute("ROLLBACK TO entry")
                outcomes.append(outcome_of(entry.sid, exc, meta_step=meta_step))
            conn.execute("RELEASE entry")
        return outcomes

    def _get(self, sid: str, owner: str) -> StoredSession:
        meta, last, updated = self._owned(sid, owner)
        return StoredSession(sid, orjson.loads(meta), last, updated)

    def _events(self, sid: str, owner: str, after: int, limit: int) -> list[EventRow]:
        self._owned(sid, owner)
        rows: list[EventRow] = self.conn.execute(
            "SELECT seq, type, ts, data FROM events WHERE sid = ? AND seq > ? ORDER BY seq LIMIT ?", (sid, after, limit)
        ).fetchall()
        return rows

    def _list(self, owner: str, before: str | None, limit: int) -> list[StoredSession]:
        sql, args = list_sessions_query("sessions", "?", owner, before, limit)
        rows = self.conn.execute(sql, args).fetchall()
        return [StoredSession(sid, orjson.loads(meta), last, updated) for sid, meta, last, updated in rows]

    # -- the async interface -------------------------------------------------------------------
    async def register(self, sid: str, owner: str, meta_text: str) -> tuple[bool, StoredSession]:
        result: tuple[bool, StoredSession] = await self._call(self._register, sid, owner, meta_text, write=True)
        return result

    async def apply_batch(self, sid: str, owner: str, batch: list[EventRow], body: bytes | None = None) -> int:
        acked: int = await self._call(self._apply, sid, owner, batch, write=True)
        return acked

    async def sync_sessions(self, owner: str, entries: list[SyncEntry]) -> list[SyncOutcome]:
        outcomes: list[SyncOutcome] = await self._call(self._sync, owner, entries, write=True)
        return outcomes

    async def get_session(self, sid: str, owner: str) -> StoredSession:
        session: StoredSession = await self._call(self._get, sid, owner)
        return session

    async def events(self, sid: str, owner: str, after: int, limit: int) -> list[EventRow]:
        rows: list[EventRow] = await self._call(self._events, sid, owner, after, limit)
        return rows

    async def list_sessions(self, owner: str, before: str | None, limit: int) -> list[StoredSession]:
        sessions: list[StoredSession] = await self._call(self._list, owner, before, limit)
        return sessions
