"""`steadychat drop SID`: the way out for a session that can never sync, losing nothing.

A session holding an event the server refuses for good (an answer stored before answers had a
size cap, say) stays queued forever. Dropping it: (1) confirm (a terminal prompt, or `--yes`);
(2) export the whole session as JSON (the `export` format) to a new file, mode 0600, never over
an existing one, and read it back to check that every event is in it; (3) only then delete its
events, cache and sync mark from the store, in one transaction, while holding the session's
lock so no other process is driving it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from tui.errors import StoreError, UsageError
from tui.session import SessionLock
from tui.store import Store
from tui.transcript import export_json


def default_export_path(store: Store, session_id: str) -> Path:
    """Next to the store, named after the session: easy to find, never inside someone's project."""
    return store.path.with_name(f"steadychat-dropped-{session_id}.json")


def drop_session(
    store: Store,
    session_id: str,
    *,
    export_path: Path,
    confirm: Callable[[str], bool],
) -> int:
    """Export then delete a session; returns the number of events exported. Refusals raise."""
    record = store.get_session(session_id)
    if record is None:
        raise StoreError(f"{store.path}: no session {session_id}; see `steadychat sessions`")
    last_seq = max(record.last_seq, store.last_seq(session_id))
    queued = max(0, last_seq - store.acked_seq(session_id))
    if export_path.exists():
        raise UsageError(f"{export_path} already exists; nothing was dropped: give --export another path")
    lock = SessionLock(store.path, session_id)
    if not lock.acquire():
        raise UsageError(f"session {session_id} is open in another process; close it there first (nothing was dropped)")
    try:
        question = (
            f"Drop session {session_id} ({record.flow_name}, {last_seq} steps, {queued} never synced) "
            f"from {store.path}? It is exported to {export_path} first."
        )
        if not confirm(question):
            raise UsageError("not confirmed; nothing was dropped")
        _export(store, session_id, export_path, last_seq)
        store.drop_session(session_id)
    finally:
        lock.release()
    return last_seq


def _export(store: Store, session_id: str, path: Path, last_seq: int) -> None:
    """Write the export to a new 0600 file, durably, and check it holds seqs 1..last_seq."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} already exists; nothing was dropped: give --export another path") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the export ({exc.strerror}); nothing was dropped") from None
    try:
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                for chunk in export_json(store, session_id):
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except StoreError:  # an event the store refuses: the (empty) file made above goes too
            path.unlink(missing_ok=True)
            raise
        with path.open(encoding="utf-8") as handle:
            seqs = [event["seq"] for event in json.load(handle)["events"]]
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the export ({exc.strerror}); nothing was dropped") from None
    if seqs != list(range(1, last_seq + 1)):
        raise StoreError(f"{path}: the export does not hold every step (1..{last_seq}); nothing was dropped")
