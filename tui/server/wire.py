"""Request bodies in, response bodies out, at C speed: msgspec checks the shape, orjson the JSON.

The server used to build a pydantic model per event and re-encode `data` canonically; on large
batches that was 70% of the CPU. Now:

- `orjson.loads` gates the body as JSON (invalid UTF-8, lone surrogates, NaN, numbers that
  overflow to infinity such as `1e400`, all refused: 422), and
- `msgspec` decodes it into typed structs, keeping each event's `data` as the raw JSON text the
  client sent (`msgspec.Raw`), which is stored and served as is.

The limits are the protocol's (tui/sync/protocol.py): the pydantic models there stay the
client's parser and the written contract; `tests/integration/test_server_protocol.py` holds the
two to the same answers.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import orjson

from tui.errors import RequestError
from tui.server.backend import EventRow, StoredSession, canonical_meta
from tui.sync.protocol import MAX_BATCH_EVENTS

MAX_SEQ = 2**53  # any seq a JSON client can hold exactly; keeps SQLite/PostgreSQL integers in range

_Text200 = Annotated[str, msgspec.Meta(max_length=200)]


class _Event(msgspec.Struct, forbid_unknown_fields=True):
    seq: Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    ts: Annotated[str, msgspec.Meta(max_length=64)]
    data: msgspec.Raw = msgspec.Raw(b"{}")


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[_Event], msgspec.Meta(min_length=1)]


class _Meta(msgspec.Struct, forbid_unknown_fields=True):
    flow_id: _Text200
    flow_hash: _Text200
    device_id: _Text200
    created_at: Annotated[str, msgspec.Meta(max_length=64)]


_batch_decoder = msgspec.json.Decoder(_Batch)
_meta_decoder = msgspec.json.Decoder(_Meta)


class Invalid(RequestError):
    """The body is not what the protocol accepts (422); the message says where."""


class TooMany(RequestError):
    """More events than a batch may hold (413)."""


def _gate(body: bytes) -> None:
    try:
        orjson.loads(body)
    except (orjson.JSONDecodeError, RecursionError) as exc:
        raise Invalid(f"body is not JSON: {exc}") from None


def parse_batch(body: bytes) -> list[EventRow]:
    """A POST events body as rows (seq, type, ts, data JSON text); contiguous seqs checked."""
    _gate(body)
    try:
        batch = _batch_decoder.decode(body)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise Invalid(str(exc)) from None
    events = batch.events
    if len(events) > MAX_BATCH_EVENTS:
        raise TooMany(f"more than {MAX_BATCH_EVENTS} events")
    first = events[0].seq
    rows: list[EventRow] = []
    for offset, event in enumerate(events):
        if event.seq != first + offset:
            raise Invalid(f"seqs must be contiguous: expected {first + offset}, got {event.seq}")
        if "\x00" in event.type or "\x00" in event.ts:
            raise Invalid(f"$.events[{offset}]: type and ts may not contain NUL")
        data = bytes(event.data)
        if not data.startswith(b"{"):
            raise Invalid(f"$.events[{offset}].data must be an object")
        rows.append((event.seq, event.type, event.ts, data.decode()))
    return rows


def parse_meta(body: bytes) -> str:
    """A PUT session body as its canonical JSON text."""
    _gate(body)
    try:
        meta = _meta_decoder.decode(body)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise Invalid(str(exc)) from None
    fields = msgspec.structs.asdict(meta)
    if any("\x00" in value for value in fields.values()):
        raise Invalid("meta fields may not contain NUL")
    return canonical_meta(fields)


def events_body(rows: list[EventRow]) -> bytes:
    """`{"events": [...]}` built from stored rows, `data` spliced in as stored."""
    dumps = orjson.dumps
    parts = [
        b'{"seq":%d,"type":%b,"ts":%b,"data":%b}' % (seq, dumps(kind), dumps(ts), data.encode())
        for seq, kind, ts, data in rows
    ]
    return b'{"events":[' + b",".join(parts) + b"]}"


def session_info(session: StoredSession) -> dict[str, Any]:
    """The SessionInfo answer of PUT/GET /v1/sessions/{sid}."""
    return {**session.meta, "sid": session.sid, "last_seq": session.last_seq}


def listed_session(session: StoredSession) -> dict[str, Any]:
    """One row of GET /v1/sessions."""
    meta = session.meta
    return {
        "id": session.sid,
        "flow_id": str(meta.get("flow_id", "")),
        "flow_hash": str(meta.get("flow_hash", "")),
        "device_id": str(meta.get("device_id", "")),
        "created_at": str(meta.get("created_at", "")),
        "last_seq": session.last_seq,
        "updated_at": session.updated_at,
    }
