"""The UI's one door to the stored sessions: list them, start, resume, pull, fork and export one.

Screens never hold the store: they get a `SessionCatalog` in `__init__` and ask it. This is also
the one place to repoint when the store gains an indexed session listing (`local_rows`).
No textual here: the catalog is plain Python over `Store`, `Session`, `pull` and `resolve`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tui.errors import SessionBusyError
from tui.flow.model import Flow
from tui.session import Session, stored_flow, utc_now
from tui.store import Store
from tui.transcript import export_markdown

if TYPE_CHECKING:
    from tui.resolve import ResolveResult
    from tui.sync.remote import ServerApi

BUSY_NOTICE = "That session is open in another process: shown read-only."


@dataclass(frozen=True)
class SessionRow:
    """One stored session as the sessions screen lists it."""

    id: str
    flow_name: str
    status: str
    """The session's status, or `conflict` while the server holds other events for it."""
    steps: int
    queued: int
    """Steps not yet acknowledged by the server."""
    created_at: str


class SessionCatalog:
    """How the app lists, starts and resumes sessions (tests pass fixed ids and seeds)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utc_now,
        seed: int | None = None,
        ids: Iterable[str] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.seed = seed
        self._ids = iter(ids) if ids is not None else None

    # ------------------------------------------------------------------ start and resume
    def start(self, flow: Flow) -> Session:
        session_id = next(self._ids, None) if self._ids is not None else None
        return Session.start(self.store, flow, clock=self.clock, seed=self.seed, session_id=session_id)

    def resume(self, session_id: str, *, read_only: bool = False) -> Session:
        return Session.resume(self.store, session_id, clock=self.clock, read_only=read_only)

    def open(self, session_id: str, warn: Callable[[str], None]) -> Session:
        """Resume a session; one another process drives opens read-only, after `warn(BUSY_NOTICE)`."""
        try:
            return self.resume(session_id)
        except SessionBusyError:
            warn(BUSY_NOTICE)
            return self.resume(session_id, read_only=True)

    # ------------------------------------------------------------------ queries
    def local_rows(self) -> list[SessionRow]:
        """Every stored session, newest first."""
        store = self.store
        conflicts = store.conflicts()
        rows = []
        for record in store.session_page(limit=None):  # newest first, from the store's session index
            steps = max(record.last_seq, store.last_seq(record.id))
            rows.append(
                SessionRow(
                    id=record.id,
                    flow_name=record.flow_name,
                    status="conflict" if record.id in conflicts else record.status,
                    steps=steps,
                    queued=max(0, steps - store.acked_seq(record.id)),
                    created_at=record.created_at,
                )
            )
        return rows

    def ids(self) -> set[str]:
        return set(self.store.session_ids())

    def any_conflict(self) -> bool:
        return bool(self.store.conflicts())

    def in_conflict(self, session_id: str) -> bool:
        return self.store.conflict(session_id) is not None

    def flow_of(self, session_id: str) -> Flow | None:
        """The flow a stored session runs (None for an unknown session)."""
        record = self.store.get_session(session_id)
        return stored_flow(self.store, record.flow_hash) if record else None

    def holds_flow_of(self, session_id: str) -> bool:
        """Whether this store holds the flow the session runs (a pulled session may lack it)."""
        record = self.store.get_session(session_id)
        return record is not None and self.store.get_flow(record.flow_hash) is not None

    # ------------------------------------------------------------------ changes (worker threads)
    def pull(self, api: ServerApi, session_id: str, flow: Flow | None) -> None:
        """`steadychat pull`: copy the server's session here (`flow` supplies it if it is the same)."""
        from tui.pull import pull_session

        pull_session(self.store, api, session_id, flow=flow)

    def fork(self, api: ServerApi, session_id: str) -> ResolveResult:
        """`steadychat resolve SID --fork`: your version becomes a new session."""
        from tui.resolve import resolve_session

        return resolve_session(self.store, api, session_id, "fork", export_dir=self.store.path.parent)

    def export(self, session_id: str, folder: Path | None = None) -> Path:
        """Write a session's transcript as Markdown (next to the store by default); its path.

        Raises OSError or SteadyChatError."""
        path = (folder or self.store.path.parent) / f"steadychat-{session_id[:8]}.md"
        with path.open("w", encoding="utf-8") as handle:
            for chunk in export_markdown(self.store, session_id):
                handle.write(chunk)
        return path
