"""What the sync client needs from a store: the `Outbox` protocol.

The outbox is the store itself (events above each session's acked seq), so the client reads and
acknowledges through these few calls and nothing else; `tui.store.Store` provides them, and a
test may pass any object that does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from tui.steps import StoredEvent

if TYPE_CHECKING:
    from tui.store import SessionRewrite


class SessionMetaSource(Protocol):
    """A session record as far as registration needs it."""

    flow_id: str
    flow_hash: str
    device_id: str
    created_at: str


class Outbox(Protocol):
    """The store as the sync client sees it. Every call may raise StoreError."""

    def session_ids(self) -> list[str]:
        """Every session in the store."""
        ...

    def pending_count(self, session_id: str) -> int:
        """Events above the acked seq."""
        ...

    def last_seq(self, session_id: str) -> int: ...

    def acked_seq(self, session_id: str) -> int: ...

    def set_acked_seq(self, session_id: str, seq: int) -> None:
        """Commit the server's acknowledgement (durably)."""
        ...

    def rewrite(self, *changes: SessionRewrite) -> None:
        """Apply every change in one transaction (the client uses it to commit many acks)."""
        ...

    def raw_events(self, session_id: str, after: int, limit: int) -> list[tuple[int, str]]:
        """(seq, wire JSON text) for seq > after, ascending, at most `limit`."""
        ...

    def events(self, session_id: str, after: int = 0, limit: int | None = None) -> list[StoredEvent]: ...

    def get_session(self, session_id: str) -> SessionMetaSource | None: ...

    def conflicts(self) -> dict[str, dict[str, Any]]:
        """Sessions marked diverged (until `resolve`), with their mark."""
        ...

    def mark_conflict(self, session_id: str, detail: str, server_seq: int | None = None) -> None: ...
