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

Errors are JSON `ProtocolError` bodies: 409 `diverged`/`gap` carry the server's `acked_seq`.

Versioning: v1 grows only by additions (a new endpoint, a new optional query parameter, a new
field in an answer). Models of answers added since v1's first version ignore unknown fields, so
a newer server never breaks this client; a client that meets an older server without an
endpoint gets 404 and says the server is too old for that command.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

API_PREFIX = "/v1"
MAX_BATCH_EVENTS = 500
MAX_BODY_BYTES = 1024 * 1024
SID_RE = re.compile(r"^[0-9a-f]{32}$")

# Error codes in ProtocolError.error
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


class ProtocolError(BaseModel):
    """Every error body. `acked_seq` is set on 409 so the client knows where the server is."""

    model_config = ConfigDict(extra="allow")

    error: StrictStr
    acked_seq: StrictInt | None = Field(default=None, ge=0)


def valid_sid(sid: str) -> bool:
    """A session id is a uuid4 in lowercase hex without dashes."""
    return SID_RE.fullmatch(sid) is not None
