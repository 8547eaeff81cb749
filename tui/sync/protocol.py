"""Sync protocol v1: the JSON bodies client and server exchange, and the limits both enforce.

One module for both sides so that a field can never drift between them. The server validates
every body with these models (422 on failure); the client uses them to parse answers, so that a
body that does not parse is never mistaken for an acknowledgement.

| request                                        | answer                                   |
|------------------------------------------------|------------------------------------------|
| GET  /v1/health                                | 200 `Health`                             |
| PUT  /v1/sessions/{sid}         `SessionMeta`  | 201 created / 200 existing: `SessionInfo`|
| POST /v1/sessions/{sid}/events  `EventBatch`   | 200 `Ack`                                |
| GET  /v1/sessions/{sid}                        | 200 `SessionInfo`                        |
| GET  /v1/sessions/{sid}/events?after=N&limit=M | 200 `EventPage`                          |
| GET  /v1/sessions?before=CURSOR&limit=M        | 200 `SessionList` (added in v1, round 2) |
| POST /v1/sync                   `SyncRequest`  | 200 `SyncAnswer` (added in v1, round 2)  |

Errors are JSON `ErrorBody` bodies: 409 `diverged`/`gap` carry the server's `acked_seq`.

`POST /v1/sync` carries batches of several sessions in one request: each entry is a session id,
optionally its meta (then the entry also registers the session, as PUT would) and its next
contiguous events. The answer has one result per entry, in order: `acked_seq`, or an `error`
(`diverged`/`gap` with `acked_seq`, `not_found`, `invalid`, `too_large`) for that session only;
each entry is applied all or nothing, whatever happens to the others. The whole request is
bounded like a POST of events (≤ 1 MiB) and by MAX_SYNC_SESSIONS and MAX_SYNC_EVENTS.

Versioning: v1 grows only by additions (a new endpoint, a new optional query parameter, a new
field in an answer). Models of answers added since v1's first version ignore unknown fields, so
a newer server never breaks this client; a client that meets an older server without an
endpoint gets 404 and says the server is too old for that command.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

API_PREFIX = "/v1"
MAX_BATCH_EVENTS = 500
MAX_BODY_BYTES = 1024 * 1024
SID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_SYNC_SESSIONS = 500
"""Entries in one POST /v1/sync."""
MAX_SYNC_EVENTS = 10 * MAX_BATCH_EVENTS
"""Events in one POST /v1/sync, all entries together (each entry still ≤ MAX_BATCH_EVENTS)."""
SYNC_PATH = "/v1/sync"

# Error codes in ErrorBody.error
ERR_DIVERGED = "diverged"
ERR_GAP = "gap"
ERR_UNAUTHORIZED = "unauthorized"
ERR_NOT_FOUND = "not_found"
ERR_TOO_LARGE = "too_large"
ERR_INVALID = "invalid"


class _Body(BaseModel):
    """Strict bodies: unknown fields are refused so that typos fail loudly, not silently."""

    model_config = ConfigDict(extra="forbid")


class SessionMeta(_Body):
    """What a session is registered with; a later PUT must repeat it exactly."""

    flow_id: StrictStr = Field(max_length=200)
    flow_hash: StrictStr = Field(max_length=200)
    device_id: StrictStr = Field(max_length=200)
    created_at: StrictStr = Field(max_length=64)


class SessionInfo(SessionMeta):
    """A registered session as the server sees it: its meta and the last seq it holds."""

    sid: StrictStr
    last_seq: StrictInt = Field(ge=0)


class WireEvent(_Body):
    """One event on the wire: the same object the store and `export` use."""

    seq: StrictInt = Field(ge=1)
    type: StrictStr = Field(min_length=1, max_length=64)
    ts: StrictStr = Field(max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)


class EventBatch(_Body):
    """A batch of one session's events with contiguous seqs (checked here, 422 otherwise)."""

    events: list[WireEvent] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)

    @model_validator(mode="after")
    def _contiguous(self) -> EventBatch:
        first = self.events[0].seq
        for offset, event in enumerate(self.events):
            if event.seq != first + offset:
                raise ValueError(f"seqs must be contiguous: expected {first + offset}, got {event.seq}")
        return self


class EventPage(_Body):
    """A page of stored events, for restoring a session elsewhere."""

    events: list[WireEvent]


class ListedSession(BaseModel):
    """One session in `GET /v1/sessions`: its meta, the last seq held and when it last changed."""

    model_config = ConfigDict(extra="ignore")

    id: StrictStr
    flow_id: StrictStr
    flow_hash: StrictStr = ""
    device_id: StrictStr = ""
    created_at: StrictStr = ""
    last_seq: StrictInt = Field(ge=0)
    updated_at: StrictStr


class SessionList(BaseModel):
    """A page of the caller's sessions, most recently updated first; `next_before` continues it
    (None on the last page)."""

    model_config = ConfigDict(extra="ignore")

    sessions: list[ListedSession]
    next_before: StrictStr | None = None


class Ack(_Body):
    """The server holds the session's events up to and including `acked_seq`."""

    acked_seq: StrictInt = Field(ge=0)


class Health(_Body):
    """The answer of GET /v1/health."""

    ok: bool


@dataclass(frozen=True)
class ErrorBody:
    """Every error body `{"error": CODE, "acked_seq": N?, ...}` (other fields are ignored).
    `acked_seq` is set on 409 so the client knows where the server is. A plain value, not an
    exception: the client reads it to decide, the server writes the same shape."""

    error: str
    acked_seq: int | None = None
    detail: str = ""

    @classmethod
    def parse(cls, body: bytes) -> ErrorBody | None:
        """The error body, or None when `body` is not one (not JSON, no string `error`, a
        negative or non-integer `acked_seq`)."""
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            return None
        return cls.from_json(value)

    @classmethod
    def from_json(cls, value: Any) -> ErrorBody | None:
        if not isinstance(value, dict) or not isinstance(value.get("error"), str):
            return None
        acked = value.get("acked_seq")
        if acked is not None and (type(acked) is not int or acked < 0):
            return None
        detail = value.get("detail")
        return cls(value["error"], acked, detail if isinstance(detail, str) else "")


class SyncEntry(_Body):
    """One session in a POST /v1/sync: its id, its meta when it may not be registered yet, and
    its next events (contiguous, possibly none)."""

    sid: StrictStr
    meta: SessionMeta | None = None
    events: list[WireEvent] = Field(default_factory=list, max_length=MAX_BATCH_EVENTS)


class SyncRequest(_Body):
    """The body of POST /v1/sync (the client builds it as bytes; this is the written shape)."""

    sessions: list[SyncEntry] = Field(min_length=1, max_length=MAX_SYNC_SESSIONS)


class SyncResult(BaseModel):
    """One entry's outcome in a `SyncAnswer`: `acked_seq` alone (the server holds the session up
    to it), or an `error` code with, for `diverged`/`gap`, the server's `acked_seq`."""

    model_config = ConfigDict(extra="ignore")

    sid: StrictStr
    acked_seq: StrictInt | None = Field(default=None, ge=0)
    error: StrictStr | None = None
    detail: StrictStr = ""


class SyncAnswer(BaseModel):
    """The answer of POST /v1/sync: one result per entry, in the request's order."""

    model_config = ConfigDict(extra="ignore")

    results: list[SyncResult]


def valid_sid(sid: str) -> bool:
    """A session id is a uuid4 in lowercase hex without dashes."""
    return SID_RE.fullmatch(sid) is not None
