"""`steadychat pull SID`: copy a session's events from the server into the local store.

Works on a device that never saw the session and on one whose copy is behind (only the newer
events are fetched). Each page is checked (contiguous seqs from the local last seq + 1; the start
event's flow hash is the server's) and committed with its ack in one transaction, so a cut at any
point leaves a clean prefix and the next pull goes on from there.

The flow comes from the local side, never from the server: the server stores only the flow's hash
(it never holds flow content). The store keeps each canonical flow by hash, so a device that has
run the same version of the flow already has it; otherwise `--flow FILE` (or the FLOW given to
`play`/`run --session`) supplies it, checked against the hash. Without it the events are still
copied and the session waits for its flow.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.errors import SyncError, UsageError
from tui.events import data_of
from tui.flow.model import Flow
from tui.session import lock_session, rebuild_record, stored_flow
from tui.steps import StoredEvent, copy_with
from tui.store import SessionRecord, SessionRewrite, Store
from tui.sync.protocol import MAX_BATCH_EVENTS, SessionInfo
from tui.sync.remote import ServerApi


@dataclass(frozen=True)
class PullResult:
    """What a pull did: events fetched, where the local copy stands, what it still needs."""

    session_id: str
    fetched: int
    last_seq: int
    server_seq: int
    flow_missing: str = ""
    """The session's flow hash when the store lacks that flow (give `--flow FILE`)."""
    local_ahead: int = 0
    """Local events the server does not hold yet (`steadychat sync` sends them)."""


def server_session(api: ServerApi, sid: str) -> SessionInfo:
    """The server's view of `sid`, or one line saying this token has no such session."""
    info = api.session(sid)
    if info is None:
        raise UsageError(f"{api.url} has no session {sid} for this token; see `steadychat sessions --server`")
    return info


def divergence_point(store: Store, api: ServerApi, sid: str, server_seq: int) -> int | None:
    """The first seq where the local events and the server's differ, or None if they agree on
    every seq both hold. Seqs up to the local acked seq are the server's by definition."""
    local_last = store.last_seq(sid)
    start = min(store.acked_seq(sid), server_seq)
    upto = min(local_last, server_seq)
    if upto <= start:
        return None
    theirs = api.events_range(sid, start, upto)
    mine = store.events(sid, after=start, limit=upto - start)
    for local, remote in zip(mine, theirs, strict=False):
        if local != remote:
            return local.seq
    return None


def pull_session(store: Store, api: ServerApi, sid: str, *, flow: Flow | None = None) -> PullResult:
    """Bring the local copy of `sid` up to the server's; raises SyncError on a divergence (the
    session is then marked `conflict`: `steadychat resolve` decides)."""
    info = server_session(api, sid)
    record = store.get_session(sid)
    if record is not None and record.flow_hash != info.flow_hash:
        raise UsageError(f"session {sid} here runs flow {record.flow_hash[:12]}, the server's {info.flow_hash[:12]}")
    if flow is not None:
        if flow.content_hash() != info.flow_hash:
            raise UsageError(
                f"that flow file is not the version session {sid} started with "
                f"(file {flow.content_hash()[:12]}, session {info.flow_hash[:12]})"
            )
        store.put_flow(info.flow_hash, flow.canonical_json())
    lock = lock_session(store, sid)
    try:
        return pull_locked(store, api, sid, info, record)
    finally:
        lock.release()


def pull_locked(store: Store, api: ServerApi, sid: str, info: SessionInfo, record: SessionRecord | None) -> PullResult:
    local_last = store.last_seq(sid)
    acked = store.acked_seq(sid)
    if local_last > acked:  # unsynced steps here: the server must hold the same ones, or none
        diverged = divergence_point(store, api, sid, info.last_seq)
        if diverged is not None:
            detail = f"the server holds other events from seq {diverged} (server at {info.last_seq})"
            store.mark_conflict(sid, detail, info.last_seq)
            raise SyncError(
                f"conflict: session {sid} {detail}; keep yours with `steadychat resolve {sid[:8]} --fork` "
                f"or take the server's with `steadychat resolve {sid[:8]} --take-server`"
            )
        store.set_acked_seq(sid, max(acked, min(local_last, info.last_seq)))
    fetched = 0
    after = local_last
    for _ in range((info.last_seq - after) // MAX_BATCH_EVENTS + 2):  # bounded by the server's last seq
        if after >= info.last_seq:
            break
        page = api.events(sid, after, MAX_BATCH_EVENTS)
        if not page:
            raise SyncError(f"{api.url} holds session {sid} only up to seq {after}, not {info.last_seq}")
        if after == 0:
            _check_start(page[0], info, sid)
        store.rewrite(SessionRewrite(sid, page, acked_seq=page[-1].seq))
        fetched += len(page)
        after = page[-1].seq
    flow_missing = ""
    if store.get_flow(info.flow_hash) is None:
        flow_missing = info.flow_hash
        if record is None:
            store.rewrite(SessionRewrite(sid, record=_placeholder(store, sid, info)))
    elif fetched or record is None:
        rebuilt = rebuild_record(stored_flow(store, info.flow_hash), sid, store.events(sid))
        if record is not None and record.forked_from:
            rebuilt = copy_with(rebuilt, {"forked_from": record.forked_from})
        store.rewrite(SessionRewrite(sid, record=rebuilt))
    last = store.last_seq(sid)
    return PullResult(sid, fetched, last, info.last_seq, flow_missing, max(0, last - info.last_seq))


def _check_start(first: StoredEvent, info: SessionInfo, sid: str) -> None:
    if first.type != "start" or data_of(first, "start").get("flow_hash") != info.flow_hash:
        raise SyncError(f"session {sid}: the server's first event is not a start on flow {info.flow_hash[:12]}")


def _placeholder(store: Store, sid: str, info: SessionInfo) -> SessionRecord:
    """A record for a session whose flow is not here yet: `last_seq` 0 makes `Session.resume`
    rebuild it from all its events once the flow is given."""
    start = store.events(sid, after=0, limit=1)
    name = str(data_of(start[0], "start").get("flow_name", info.flow_id)) if start else info.flow_id
    return SessionRecord(
        id=sid,
        flow_id=info.flow_id,
        flow_name=name,
        flow_hash=info.flow_hash,
        device_id=info.device_id,
        created_at=info.created_at,
        last_seq=0,
    )
