"""Messages posted up to the app: the sync client's callbacks, and requests from screens."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.sync.status import SyncStatus


@dataclass
class SyncStatusChanged(Message):
    """The sync client reports a new connection status."""

    status: SyncStatus

    def can_replace(self, message: Message) -> bool:
        # A burst of statuses (syncing 5, 4, 3 ...) merges: only the newest matters.
        return isinstance(message, SyncStatusChanged)


@dataclass
class SyncLogged(Message):
    """The sync client reports one line for the sync log (batch sent, acked, retried)."""

    line: str


@dataclass
class ExportRequested(Message):
    """A screen asks the app to export a session's transcript (the app says where it went)."""

    session_id: str
