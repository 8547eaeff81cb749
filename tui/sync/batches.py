"""Reading the outbox into request bodies, within the protocol's limits.

Stored events are already their wire JSON, so a body is their text joined: no decode and
re-encode per event on the hot path of a drain. `read_batch` makes one session's POST body;
`read_sync_request` packs several sessions into one POST /v1/sync body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tui.errors import StoreError
from tui.sync.outbox import Outbox
from tui.sync.protocol import MAX_BODY_BYTES, MAX_SYNC_SESSIONS

_EVENTS_EMPTY = len(b'{"events":[]}')


def encode_batch(events: Iterable[Any], max_bytes: int = MAX_BODY_BYTES) -> tuple[bytes, int]:
    """The longest prefix of `events` whose `{"events": [...]}` body fits `max_bytes`.

    Returns (body, count); count 0 means the first event alone is too large. Events are
    StoredEvents (their JSON, made once) or plain dicts (NaN/Infinity raise ValueError).
    """
    texts = [
        json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if isinstance(event, dict)
        else event.json_text()
        for event in events
    ]
    return encode_raw_batch(texts, max_bytes)


def _fit(texts: list[str], room: int) -> list[bytes]:
    """The longest prefix of `texts`, encoded, whose comma-joined size is at most `room`."""
    parts: list[bytes] = []
    size = 0
    for text in texts:
        part = text.encode()
        extra = len(part) + (1 if parts else 0)
        if size + extra > room:
            break
        parts.append(part)
        size += extra
    return parts


def encode_raw_batch(texts: list[str], max_bytes: int = MAX_BODY_BYTES) -> tuple[bytes, int]:
    """Like `encode_batch` for events that are already JSON text (as the store keeps them)."""
    parts = _fit(texts, max_bytes - _EVENTS_EMPTY)
    return b'{"events":[' + b",".join(parts) + b"]}", len(parts)


@dataclass
class Batch:
    """One session's encoded batch: events after `after`, seqs first..last; `poison` says why
    none fits (then count is 0)."""

    after: int
    first: int
    last: int
    count: int
    body: bytes
    poison: str = ""
    limit_used: int = 0


def too_large(seq: int) -> str:
    return f"event {seq} is larger than {MAX_BODY_BYTES} bytes"


def read_batch(store: Outbox, sid: str, after: int, limit: int) -> Batch:
    """The next POST body of `sid` after seq `after`, at most `limit` events (worker thread)."""
    try:
        rows = store.raw_events(sid, after, limit)
    except StoreError as exc:
        return Batch(after, after + 1, 0, 0, b"", str(exc))
    if not rows:
        return Batch(after, 0, 0, 0, b"")
    body, count = encode_raw_batch([text for _, text in rows])
    if count == 0:
        return Batch(after, rows[0][0], 0, 0, b"", too_large(rows[0][0]))
    return Batch(after, rows[0][0], rows[count - 1][0], count, body, limit_used=limit)


# --------------------------------------------------------------------------- POST /v1/sync
@dataclass
class Entry:
    """One session in a sync request: seqs first..last after `after`, with its meta or not."""

    sid: str
    after: int
    first: int
    last: int
    with_meta: bool

    @property
    def count(self) -> int:
        return self.last - self.first + 1


@dataclass
class SyncRequestBody:
    """A POST /v1/sync body and what it carries; `poison` maps sessions whose next event cannot
    be sent at all to the reason, `untouched` lists sessions that did not fit this time, `solo`
    those whose next event fits a per-session POST but not an entry of a sync body."""

    body: bytes = b""
    entries: list[Entry] = field(default_factory=list)
    poison: dict[str, str] = field(default_factory=dict)
    untouched: list[str] = field(default_factory=list)
    solo: list[str] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(entry.count for entry in self.entries)


@dataclass(frozen=True)
class Budget:
    """Limits of one sync request: events per session, events in all, bytes."""

    per_session: int
    total_events: int
    max_bytes: int = MAX_BODY_BYTES
    max_sessions: int = MAX_SYNC_SESSIONS


class _Packer:
    """Builds a sync body entry by entry, keeping count of what is left of the budget."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.parts: list[bytes] = []
        self.size = len(b'{"sessions":[]}')
        self.events = 0

    def room(self, head: bytes) -> int:
        """Bytes left for an entry's events after `head` (its opening) and its closing."""
        comma = 1 if self.parts else 0
        return self.budget.max_bytes - self.size - comma - len(head) - len(b"]}")

    def add(self, head: bytes, events: list[bytes]) -> None:
        part = head + b",".join(events) + b"]}"
        self.size += len(part) + (1 if self.parts else 0)
        self.parts.append(part)
        self.events += len(events)

    def full(self) -> bool:
        return len(self.parts) >= self.budget.max_sessions or self.events >= self.budget.total_events

    def body(self) -> bytes:
        return b'{"sessions":[' + b",".join(self.parts) + b"]}"


class NoMeta(Exception):
    """`meta_of` cannot give the meta a session must be registered with."""


MetaOf = Callable[[str], bytes | None]
"""sid → meta JSON to register the session in passing, None when it is registered already;
raises NoMeta when it must be registered but cannot be."""

NO_META = "no session record or start event to register the session with"


def read_sync_request(
    store: Outbox, sids: list[str], meta_of: MetaOf, budget: Budget, after: dict[str, int] | None = None
) -> SyncRequestBody:
    """Pack the next events of `sids`, in order, into one POST /v1/sync body (worker thread).

    Each entry starts right after the session's acked seq, or after `after[sid]` when given (the
    end of a batch still in flight, to read the next one ahead). Packing stops at the first session
    that does not fit; it and the rest go to `untouched`. A session whose next event cannot be
    an entry goes to `solo` (it fits a POST of its own) or `poison` (it fits no body), as does
    a session the store cannot read or that cannot be registered."""
    packer = _Packer(budget)
    out = SyncRequestBody()
    for index, sid in enumerate(sids):
        start = None if after is None else after[sid]
        if packer.full() or not _pack_one(store, sid, start, meta_of, packer, out):
            out.untouched += sids[index:]
            break
    out.body = packer.body() if out.entries else b""
    return out


def _pack_one(
    store: Outbox, sid: str, start: int | None, meta_of: MetaOf, packer: _Packer, out: SyncRequestBody
) -> bool:
    """Add `sid`'s next events after `start` (None: its acked seq); False (nothing added) when
    the request has no room left."""
    limit = min(packer.budget.per_session, packer.budget.total_events - packer.events)
    try:
        after = store.acked_seq(sid) if start is None else start
        rows = store.raw_events(sid, after, limit + 1)
        meta = meta_of(sid) if rows else None
    except (StoreError, NoMeta) as exc:
        out.poison[sid] = str(exc) or NO_META
        return True
    if not rows:
        return True
    head = b'{"sid":"' + sid.encode() + b'",' + (b'"meta":' + meta + b"," if meta else b"") + b'"events":['
    parts = _fit([text for _, text in rows[:limit]], packer.room(head))
    if not parts:
        if packer.parts:
            return False
        if encode_raw_batch([rows[0][1]])[1] == 0:
            out.poison[sid] = too_large(rows[0][0])
        else:  # fits a POST of its own, not an entry with its sid and meta around it
            out.solo.append(sid)
        return True
    packer.add(head, parts)
    last = rows[len(parts) - 1][0]
    out.entries.append(Entry(sid, after, rows[0][0], last, meta is not None))
    return True
