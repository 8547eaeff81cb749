"""The client's per-session bookkeeping: what is queued, what is registered, what is stuck.

`Ledger` holds the counts the status shows (pending per session, refreshed from the store), the
sessions the server is known to have registered this run, and the sessions that stopped syncing
(`conflicts`: a divergence, which the store remembers until `steadychat resolve`, or a poison
event, which it does not). `Pace` holds the adaptive batch size both drain paths share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from tui.sync.outbox import Outbox
from tui.sync.protocol import SessionMeta

META_FIELDS = ("flow_id", "flow_hash", "device_id", "created_at")


def short(sid: str) -> str:
    """The first eight characters of a session id, as logs show it."""
    return sid[:8]


@dataclass
class Pace:
    """How many events a batch may hold: halved on 413 or on a slow link, doubled back after
    each ack, never above `batch_size` nor above a size the link just proved too slow for."""

    batch_size: int
    limit: int = 0
    slow_ceiling: int | None = None
    inflight: int = 0

    def __post_init__(self) -> None:
        self.limit = self.limit or self.batch_size

    def grow(self) -> None:
        ceiling = self.batch_size if self.slow_ceiling is None else self.slow_ceiling - 1
        self.limit = max(1, min(ceiling, self.limit * 2))

    def shrink_to(self, count: int) -> None:
        self.limit = max(1, count // 2)

    def slowed(self) -> None:
        """Bytes were flowing but too slowly: half of what was in flight, and no growing back."""
        self.slow_ceiling = max(1, self.inflight or self.limit)
        self.limit = max(1, self.slow_ceiling // 2)


class Ledger:
    """Per-session state of one client; `log` and `publish` tell the world about changes."""

    def __init__(self, store: Outbox, log: Callable[[str], None], publish: Callable[[], None]) -> None:
        self.store = store
        self._log = log
        self._publish = publish
        self.pending: dict[str, int] = {}
        self.registered: set[str] = set()
        self.conflicts: dict[str, str] = {}
        self._stored_conflicts: set[str] = set()

    # ----------------------------------------------------------------- counts
    def refresh(self) -> None:
        """Re-read every session's queue and the store's conflict marks."""
        self._load_stored_conflicts()
        self.pending = {sid: self.store.pending_count(sid) for sid in self.store.session_ids()}

    def refresh_one(self, sid: str) -> None:
        self.pending[sid] = self.store.pending_count(sid)

    def due(self) -> list[str]:
        """Sessions with something to send that are not stopped."""
        return [sid for sid, n in self.pending.items() if n > 0 and sid not in self.conflicts]

    def total(self) -> int:
        return sum(self.pending.values())

    def settled(self) -> bool:
        """Nothing left but what is stuck in a conflict."""
        return all(n <= 0 or sid in self.conflicts for sid, n in self.pending.items())

    def acked(self, sid: str, seq: int) -> None:
        """The server holds `sid` up to `seq`: commit it (only forward) and recount."""
        if seq > self.store.acked_seq(sid):
            self.store.set_acked_seq(sid, seq)
        self.pending[sid] = max(0, self.store.last_seq(sid) - seq)

    def commit_acks(self, acks: dict[str, int]) -> dict[str, int]:
        """`acked` for many sessions in one transaction (a sync answer's acks), store only, so
        safe on a worker thread: returns their pending counts for the caller to put in `pending`."""
        from tui.store import SessionRewrite

        forward = {sid: seq for sid, seq in acks.items() if seq > self.store.acked_seq(sid)}
        if forward:
            self.store.rewrite(*(SessionRewrite(sid, acked_seq=seq) for sid, seq in forward.items()))
        return {sid: max(0, self.store.last_seq(sid) - seq) for sid, seq in acks.items()}

    def rewind(self, sid: str, seq: int) -> None:
        """The server holds less than we thought (restored from a backup): resend after `seq`."""
        self.store.set_acked_seq(sid, seq)
        self.pending[sid] = max(0, self.store.last_seq(sid) - seq)

    # ----------------------------------------------------------------- registration
    def meta_for(self, sid: str) -> SessionMeta | None:
        """Registration meta from the session record, else from the `start` event (seq 1)."""
        record = self.store.get_session(sid)
        if record is not None:
            values = {name: getattr(record, name, None) for name in META_FIELDS}
        else:
            first = self.store.events(sid, after=0, limit=1)
            if not first or first[0].type != "start":
                return None
            values = {name: first[0].data.get(name) for name in META_FIELDS}
        fields = {name: _text(value) for name, value in values.items()}
        try:
            return SessionMeta(**fields)
        except ValidationError:
            return None

    # ----------------------------------------------------------------- sessions that stop
    def conflict(self, sid: str, detail: str) -> None:
        """`sid` stops syncing for this run (poison, a foreign id): shown, kept locally."""
        self.conflicts[sid] = detail
        self._log(f"conflict in session {short(sid)}: {detail}")
        self._publish()

    def diverged(self, sid: str, detail: str, server_seq: int | None) -> None:
        """A divergence outlives this process: the store keeps it until `steadychat resolve`."""
        self.store.mark_conflict(sid, detail, server_seq)
        self._stored_conflicts.add(sid)
        self.conflict(sid, detail)

    def _load_stored_conflicts(self) -> None:
        """Follow the store's conflict marks: set by an earlier run, cleared by `resolve`."""
        stored = self.store.conflicts()
        for sid in self._stored_conflicts - stored.keys():
            self.conflicts.pop(sid, None)
            self.registered.discard(sid)
        for sid, mark in stored.items():
            self.conflicts.setdefault(sid, str(mark.get("detail", "diverged from the server")))
        self._stored_conflicts = set(stored)


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)
