"""POST /v1/sync: batches of several sessions in one request (a protocol v1 addition).

A client with a thousand short sessions queued would otherwise pay a PUT and a POST per session.
Here one body carries many entries `{"sid", "meta"?, "events"?}`; the answer carries one result
per entry, in order. Decisions:

- The whole request is checked first: body ≤ 1 MiB (as every body), JSON, at most
  MAX_SYNC_SESSIONS entries and MAX_SYNC_EVENTS events in all (413), each sid at most once (422).
  A failure there answers for the whole request and changes nothing.
- Each entry is then checked on its own with the very parsers of PUT and POST events
  (`wire.parse_meta`, `wire.parse_batch`), so the two paths cannot drift: a bad entry is that
  session's `invalid`/`too_large` result, a sid that names no possible session its `not_found`.
- The backend applies the valid entries in order, each all or nothing (`Backend.sync_sessions`),
  with the same (owner, sid, seq) rules as POST events: an identical resend is acknowledged
  again, other content is `diverged` for that session only, a gap is `gap`.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from tui.server.backend import Backend, SyncEntry, SyncOutcome
from tui.server.wire import Invalid, TooMany, parse_batch, parse_meta
from tui.sync.protocol import ERR_INVALID, ERR_NOT_FOUND, ERR_TOO_LARGE, MAX_SYNC_EVENTS, MAX_SYNC_SESSIONS, valid_sid


class _Entry(msgspec.Struct, forbid_unknown_fields=True):
    sid: str
    meta: msgspec.Raw = msgspec.Raw(b"")  # empty: absent (msgspec has no `Raw | None`)
    events: msgspec.Raw = msgspec.Raw(b"")


class _Request(msgspec.Struct, forbid_unknown_fields=True):
    sessions: list[_Entry]


_decoder = msgspec.json.Decoder(_Request)
_EMPTY = (b"[]", b"")


def _decode(body: bytes) -> list[_Entry]:
    # No orjson gate over the whole body: what is not a sid is kept raw here and gated entry by
    # entry by parse_meta/parse_batch (NaN, 1e400, lone surrogates: that entry's `invalid`), so
    # the JSON is scanned twice, not three times.
    try:
        entries = _decoder.decode(body).sessions
    except (msgspec.DecodeError, RecursionError) as exc:
        raise Invalid(str(exc)) from None
    if not entries:
        raise Invalid("sessions must hold at least one entry")
    if len(entries) > MAX_SYNC_SESSIONS:
        raise TooMany(f"more than {MAX_SYNC_SESSIONS} sessions")
    if len({entry.sid for entry in entries}) != len(entries):
        raise Invalid("a session may appear only once per request")
    return entries


def _entry(entry: _Entry) -> SyncEntry | SyncOutcome:
    """The entry ready for the backend, or its outcome when it cannot be applied."""
    if not valid_sid(entry.sid):
        return SyncOutcome(entry.sid, None, ERR_NOT_FOUND)
    try:
        meta_text = parse_meta(bytes(entry.meta)) if entry.meta else None
        raw = bytes(entry.events).strip()
        batch = [] if raw in _EMPTY else parse_batch(b'{"events":' + raw + b"}")
    except Invalid as exc:
        return SyncOutcome(entry.sid, None, ERR_INVALID, str(exc))
    except TooMany as exc:
        return SyncOutcome(entry.sid, None, ERR_TOO_LARGE, str(exc))
    return SyncEntry(entry.sid, meta_text, batch)


def result_json(outcome: SyncOutcome) -> dict[str, Any]:
    """One element of the answer's `results`."""
    out: dict[str, Any] = {"sid": outcome.sid}
    if outcome.acked_seq is not None:
        out["acked_seq"] = outcome.acked_seq
    if outcome.error is not None:
        out["error"] = outcome.error
    if outcome.detail:
        out["detail"] = outcome.detail
    return out


async def sync_sessions(backend: Backend, owner: str, body: bytes) -> bytes:
    """The answer body of POST /v1/sync for `owner`; Invalid (422) or TooMany (413) for a
    request that is refused as a whole, Unavailable/503 if the database fails."""
    checked = [_entry(entry) for entry in _decode(body)]
    if sum(len(item.batch) for item in checked if isinstance(item, SyncEntry)) > MAX_SYNC_EVENTS:
        raise TooMany(f"more than {MAX_SYNC_EVENTS} events in one request")
    valid = [item for item in checked if isinstance(item, SyncEntry)]
    applied = iter(await backend.sync_sessions(owner, valid) if valid else [])
    outcomes = [next(applied) if isinstance(item, SyncEntry) else item for item in checked]
    return orjson.dumps({"results": [result_json(outcome) for outcome in outcomes]})
