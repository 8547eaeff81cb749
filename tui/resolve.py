"""`steadychat resolve SID --fork | --take-server`: end a conflict without losing a step.

A conflict means the server holds, for some seqs of this session, other events than ours (another
device answered while we were offline). `d` is the first such seq; seqs before it are shared.

- fork: our log (shared prefix + our steps from d) becomes a NEW session, marked `forked_from`
  SID, which syncs as a new session; SID itself takes the server's log. Both changes are one
  transaction, so a cut or a kill either leaves the conflict as it was or resolves it whole.
- take-server: our steps from d are first written to a new 0600 JSON file (the `export` shape,
  plus `diverged_at`), flushed to disk; only then does SID take the server's log (one transaction).

The server's events are fetched (paged) before anything is written. A session that turns out not
to have diverged (its unsynced steps are the server's, or it is only behind) is simply pulled.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tui.errors import StoreError, UsageError
from tui.flow.model import Flow
from tui.pull import divergence_point, pull_locked, server_session
from tui.session import format_ts, lock_session, rebuild_record, stored_flow, utc_now
from tui.steps import StoredEvent, as_json_data, copy_with
from tui.store import SessionRecord, SessionRewrite, Store, session_meta
from tui.sync.remote import ServerApi

Mode = Literal["fork", "take-server"]


@dataclass(frozen=True)
class ResolveResult:
    """What `resolve` did. `diverged_at` is None when there was nothing to resolve."""

    session_id: str
    diverged_at: int | None
    server_seq: int
    mine: int = 0
    """Our steps from the divergence on: moved into the fork, or exported."""
    fork_id: str = ""
    export_path: Path | None = None


def resolve_session(
    store: Store,
    api: ServerApi,
    sid: str,
    mode: Mode,
    *,
    export_dir: Path,
    fork_id: str | None = None,
) -> ResolveResult:
    """Resolve `sid` by `mode`; see the module docstring."""
    record = store.get_session(sid)
    if record is None:
        raise UsageError(f"no session {sid} in {store.path}; `steadychat pull {sid[:8]}` copies it from the server")
    info = server_session(api, sid)
    if record.flow_hash != info.flow_hash:
        raise UsageError(f"session {sid} runs another flow on the server ({info.flow_hash[:12]}); nothing changed")
    lock = lock_session(store, sid)
    try:
        diverged = divergence_point(store, api, sid, info.last_seq)
        if diverged is None:
            store.rewrite(SessionRewrite(sid, conflict=False))
            pull_locked(store, api, sid, info, record)
            return ResolveResult(sid, None, info.last_seq)
        flow = stored_flow(store, record.flow_hash)
        shared = store.events(sid, limit=diverged - 1)
        mine = store.events(sid, after=diverged - 1)
        theirs = api.events_range(sid, diverged - 1, info.last_seq)
        ours_now = _rebuilt(flow, sid, shared + theirs, record.forked_from)
        follow_server = SessionRewrite(
            sid, theirs, keep_upto=diverged - 1, acked_seq=info.last_seq, record=ours_now, conflict=False
        )
        if mode == "fork":
            new_id = fork_id or uuid.uuid4().hex
            fork = copy_with(
                _rebuilt(flow, new_id, shared + mine, sid),
                {"created_at": format_ts(utc_now()), "device_id": store.device_id},
            )
            store.rewrite(SessionRewrite(new_id, shared + mine, keep_upto=0, acked_seq=0, record=fork), follow_server)
            return ResolveResult(sid, diverged, info.last_seq, len(mine), fork_id=new_id)
        path = export_unsynced(store, record, mine, diverged, export_dir)
        store.rewrite(follow_server)
        return ResolveResult(sid, diverged, info.last_seq, len(mine), export_path=path)
    finally:
        lock.release()


def _rebuilt(flow: Flow, sid: str, events: list[StoredEvent], forked_from: str) -> SessionRecord:
    record = rebuild_record(flow, sid, events)
    return copy_with(record, {"forked_from": forked_from}) if forked_from else record


def export_unsynced(store: Store, record: SessionRecord, mine: list[StoredEvent], diverged: int, folder: Path) -> Path:
    """Write our diverging steps to a new 0600 file next to the store and flush it to disk."""
    stamp = format_ts(utc_now()).replace(":", "").replace("-", "").replace(".", "")
    body = {
        "session": {**session_meta(record), "diverged_at": diverged},
        "events": [as_json_data(event) for event in mine],
    }
    data = (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode()
    for attempt in range(100):  # bounded: a new name per attempt
        suffix = f"-{attempt}" if attempt else ""
        path = folder / f"steadychat-{record.id[:8]}-unsynced-{stamp}{suffix}.json"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise StoreError(f"{path}: cannot write the export ({exc.strerror}); nothing changed") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise StoreError(f"{path}: cannot write the export ({exc.strerror}); nothing changed") from None
        return path
    raise StoreError(f"{folder}: no free file name for the export; nothing changed")
