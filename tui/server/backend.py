"""What every server database offers the HTTP layer, and the batch rules they share.

Two backends implement `Backend`: SQLite (`sqlite_backend.py`, the default and the demo's store)
and PostgreSQL (`pg_backend.py`, for several workers or several servers). The app only ever
calls these coroutines, so an endpoint added once works on both.

Rows travel as `EventRow` tuples `(seq, type, ts, data_json)`: `data_json` is the event's `data`
object as the JSON text the client sent. It is stored and served as that text, never decoded and
re-encoded on the hot path. Identical resends are recognised by their text, or, when the text
differs only in spacing or key order, by the decoded values (`same_event`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from tui.errors import RequestError, SteadyChatError

EventRow = tuple[int, str, str, str]
"""(seq, type, ts, data as JSON text)."""

ERR_DIVERGED = "diverged"
ERR_GAP = "gap"


class ServerDatabaseError(SteadyChatError):
    """The server database cannot be used (not ours, newer schema, unreachable); one line, exit 2."""


class NotFound(RequestError):
    """Unknown session, or a session of another owner (the two are indistinguishable)."""


class Rejected(RequestError):
    """A 409: the batch or meta does not fit what the server holds; `acked_seq` is its last seq."""

    def __init__(self, error: str, acked_seq: int) -> None:
        super().__init__(f"{error} (server holds up to {acked_seq})")
        self.error = error
        self.acked_seq = acked_seq


class Unavailable(RequestError):
    """The database is busy or unreachable right now: 503 with Retry-After."""


@dataclass(frozen=True)
class StoredSession:
    """A registered session: its meta (flow_id, flow_hash, device_id, created_at), last seq held,
    and when it last changed (UTC ISO-8601, microseconds, so it sorts as text)."""

    sid: str
    meta: dict[str, Any]
    last_seq: int
    updated_at: str


@dataclass(frozen=True)
class SyncEntry:
    """One session of a POST /v1/sync, validated: `meta_text` (canonical meta JSON) registers
    the session first when given; `batch` (contiguous, maybe empty) is then applied."""

    sid: str
    meta_text: str | None
    batch: list[EventRow]


@dataclass(frozen=True)
class SyncOutcome:
    """What became of one `SyncEntry`: `acked_seq` (the session's last seq held) and, when the
    entry changed nothing, the protocol's `error` code (`diverged`, `gap`, `not_found`)."""

    sid: str
    acked_seq: int | None
    error: str | None = None
    detail: str = ""


ERR_NOT_FOUND = "not_found"
META_DIFFERS = "meta"
"""`detail` of a `diverged` outcome caused by the meta, not by the events."""


class Backend(Protocol):
    """One server database as seen by one worker process. Every method is a coroutine.

    `owner` is the sha256 hex of the caller's token: a session belongs to the token that created
    it, and another owner's session raises NotFound exactly like an unknown one.
    """

    description: str

    async def open(self) -> None:
        """Connect (pool, connection) and check the schema version; no schema change here."""

    async def close(self) -> None:
        """Release every connection (idempotent)."""

    async def register(self, sid: str, owner: str, meta_text: str) -> tuple[bool, StoredSession]:
        """Create the session with its canonical meta JSON, or confirm it: (created, session).
        Other meta → Rejected("diverged")."""
        ...

    async def apply_batch(self, sid: str, owner: str, batch: list[EventRow], body: bytes | None = None) -> int:
        """Store one session's contiguous batch in one transaction; return the acked seq.
        `body`, when given, is the validated request body `{"events": [...]}` the batch was
        parsed from, exactly; a backend may store from it instead of from `batch`."""
        ...

    async def sync_sessions(self, owner: str, entries: list[SyncEntry]) -> list[SyncOutcome]:
        """Register (when meta is given) and apply each entry (sids distinct), each all or
        nothing: one entry's NotFound/Rejected is its outcome and leaves the others alone. One
        outcome per entry, in the entries' order. Unavailable (nothing promised) if the
        database fails."""
        ...

    async def get_session(self, sid: str, owner: str) -> StoredSession:
        """The session's meta and last seq."""
        ...

    async def events(self, sid: str, owner: str, after: int, limit: int) -> list[EventRow]:
        """Events with seq > after, ascending, at most `limit`."""
        ...

    async def list_sessions(self, owner: str, before: str | None, limit: int) -> list[StoredSession]:
        """The owner's sessions, most recently updated first (ties by sid, descending), at most
        `limit`, after the cursor `before` when given (see `parse_cursor`)."""
        ...


def cursor_of(session: StoredSession) -> str:
    """The `before` value that continues a listing after this session: `UPDATED_AT,SID`."""
    return f"{session.updated_at},{session.sid}"


def parse_cursor(before: str) -> tuple[str, str | None]:
    """`UPDATED_AT,SID` (strictly after that session in listing order, so sessions updated in the
    same instant are neither skipped nor repeated) or a bare `UPDATED_AT` (updated strictly
    before it) → (stamp, sid or None)."""
    stamp, _, sid = before.partition(",")
    return stamp, sid or None


def now_text() -> str:
    """The server's clock as sortable text (UTC, microseconds)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def canonical_meta(meta: dict[str, Any]) -> str:
    """The one text form of a session's meta (sorted keys, compact), so equal metas compare equal."""
    return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS).decode()


def same_event(stored: EventRow, sent: EventRow) -> bool:
    """Is `sent` a resend of `stored`? Same text is the fast answer; else compare decoded data."""
    if stored == sent:
        return True
    if stored[:3] != sent[:3]:
        return False
    return bool(orjson.loads(stored[3]) == orjson.loads(sent[3]))


def plan_batch(last_seq: int, batch: list[EventRow], stored: list[EventRow]) -> list[EventRow]:
    """The rows of `batch` to insert, given the session's `last_seq` and the stored rows that
    overlap the batch (seq first..min(last_seq, batch end)). Raises Rejected on a gap or a
    divergence: then nothing may be written."""
    first = batch[0][0]
    if first > last_seq + 1:
        raise Rejected(ERR_GAP, last_seq)
    if first <= last_seq:
        overlap = batch[: len(stored)]
        if len(stored) != min(len(batch), last_seq - first + 1) or not all(
            same_event(old, new) for old, new in zip(stored, overlap, strict=True)
        ):
            raise Rejected(ERR_DIVERGED, last_seq)
        return batch[len(stored) :]
    return batch


def outcome_of(sid: str, exc: NotFound | Rejected, *, meta_step: bool) -> SyncOutcome:
    """The outcome of an entry refused with `exc` (raised by its register step when `meta_step`)."""
    if isinstance(exc, NotFound):
        return SyncOutcome(sid, None, ERR_NOT_FOUND)
    return SyncOutcome(sid, exc.acked_seq, exc.error, META_DIFFERS if meta_step else "")


def list_sessions_query(table: str, mark: str, owner: str, before: str | None, limit: int) -> tuple[str, list[Any]]:
    """The listing's SQL and arguments for both databases (they differ only in the table name and
    the placeholder mark): an owner's sessions newest first, keyset-paged by `before`."""
    sql = f"SELECT sid, meta, last_seq, updated_at FROM {table} WHERE owner = {mark}"
    args: list[Any] = [owner]
    if before:
        stamp, after_sid = parse_cursor(before)
        if after_sid is not None:
            sql += f" AND (updated_at < {mark} OR (updated_at = {mark} AND sid < {mark}))"
            args += [stamp, stamp, after_sid]
        else:
            sql += f" AND updated_at < {mark}"
            args.append(stamp)
    sql += f" ORDER BY updated_at DESC, sid DESC LIMIT {mark}"
    args.append(limit)
    return sql, args
