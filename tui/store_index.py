"""The session index: the sessions' listing columns in plain SQL columns, kept by triggers.

The `sessions` table holds each session's cache as one JSON value (with its engine state), so
finding a flow's latest active session, or the newest page of sessions, used to decode and
validate every record: 650 ms at 10,000 sessions. `session_index` holds the few columns those
questions need, with two indexes:

- `session_index_flow`   (flow_id, status, created_at, id): the latest active session of a flow;
- `session_index_newest` (created_at, id): the listing, newest first, a page at a time.

Triggers on `sessions` keep it: every write of a session's cache, by any SteadyChat version
(an older one ignores the index but its writes still go through the triggers), updates its row
in the same transaction. A store made before the index gets it on open (`MIGRATE`), once, in one
transaction, after the store's quick_check; nothing else changes, nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

INDEX_OBJECTS = (
    "session_index",
    "session_index_flow",
    "session_index_newest",
    "session_index_put",
    "session_index_del",
)

_COLUMNS = "id, flow_id, flow_name, flow_hash, status, created_at, updated_at, last_seq, forked_from"

# A value that is not JSON text (a planted pickle, say) gets no row: listing then notices that
# the two tables differ and reads the records themselves, which refuses it in one line.
_ROW_FROM = """
    SELECT {key}, json_extract({value}, '$.flow_id'), json_extract({value}, '$.flow_name'),
           json_extract({value}, '$.flow_hash'), json_extract({value}, '$.status'),
           json_extract({value}, '$.created_at'), json_extract({value}, '$.updated_at'),
           json_extract({value}, '$.last_seq'), json_extract({value}, '$.forked_from')
"""
_VALID = "typeof({value}) = 'text' AND json_valid({value})"

CREATE = (
    'CREATE TABLE IF NOT EXISTS "session_index" (id TEXT PRIMARY KEY, flow_id, flow_name, flow_hash, status, '
    "created_at, updated_at, last_seq, forked_from)",
    'CREATE INDEX IF NOT EXISTS "session_index_flow" ON "session_index" (flow_id, status, created_at, id)',
    'CREATE INDEX IF NOT EXISTS "session_index_newest" ON "session_index" (created_at, id)',
    # The store writes with REPLACE (a delete and an insert, without the delete trigger), so the
    # insert trigger first drops the row it may replace.
    'CREATE TRIGGER IF NOT EXISTS "session_index_put" AFTER INSERT ON "sessions" BEGIN '
    'DELETE FROM "session_index" WHERE id = new.key; '
    f'INSERT INTO "session_index" ({_COLUMNS}) '
    + _ROW_FROM.format(key="new.key", value="new.value")
    + " WHERE "
    + _VALID.format(value="new.value")
    + "; END",
    'CREATE TRIGGER IF NOT EXISTS "session_index_del" AFTER DELETE ON "sessions" BEGIN '
    'DELETE FROM "session_index" WHERE id = old.key; END',
)

MIGRATE = (
    'DELETE FROM "session_index"',
    f'INSERT INTO "session_index" ({_COLUMNS}) '
    + _ROW_FROM.format(key="key", value="value")
    + ' FROM "sessions" WHERE '
    + _VALID.format(value="value"),
)

PRESENT = "SELECT count(*) FROM sqlite_master WHERE name IN ({})".format(", ".join("?" * len(INDEX_OBJECTS)))
IN_STEP = 'SELECT (SELECT count(*) FROM "sessions") = (SELECT count(*) FROM "session_index")'

# What a listing row shows: the index columns, the newest event's key (the cache may lag behind
# the events by a few steps) and the sync mark (JSON text of the acknowledged seq).
_SUMMARY = f"""
    SELECT {_COLUMNS},
        (SELECT e.key FROM "events" e WHERE e.key >= i.id || ':' AND e.key < i.id || ';' ORDER BY e.key DESC LIMIT 1),
        (SELECT s.value FROM "sync" s WHERE s.key = i.id)
    FROM "session_index" i
"""
NEWEST = _SUMMARY + " ORDER BY created_at DESC, id DESC LIMIT ?"
NEWEST_BEFORE = (
    _SUMMARY
    + ' WHERE (created_at, id) < (SELECT created_at, id FROM "session_index" WHERE id = ?)'
    + " ORDER BY created_at DESC, id DESC LIMIT ?"
)
LATEST_ACTIVE = _SUMMARY + " WHERE flow_id = ? AND status = 'active' ORDER BY created_at DESC, id DESC LIMIT 1"
LATEST_ANY = _SUMMARY + " WHERE flow_id = ? ORDER BY created_at DESC, id DESC LIMIT 1"


@dataclass(frozen=True)
class SessionSummary:
    """A session as a listing shows it: no engine state. `last_seq` is its newest event's seq
    (the cache may lag behind its events), `acked_seq` what the server acknowledged."""

    id: str
    flow_id: str
    flow_name: str
    flow_hash: str
    status: str
    created_at: str
    updated_at: str = ""
    last_seq: int = 0
    acked_seq: int = 0
    forked_from: str = ""

    @property
    def queued(self) -> int:
        """Events not yet acknowledged by the server."""
        return max(0, self.last_seq - self.acked_seq)
