"""The connection state every UI shows: one enum and one frozen status with its status words.

The words are part of the command-line contract (TUI indicator and headless logs), so they are
produced here and nowhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Phase = Literal["local", "connecting", "up", "down", "auth"]
"""Where the client's loop stands: no server, first contact, reachable, unreachable, refused."""


class ConnState(StrEnum):
    """Where the sync client stands with its server."""

    LOCAL_ONLY = "local-only"
    CONNECTING = "connecting"
    ONLINE = "online"
    SYNCING = "syncing"
    OFFLINE = "offline"
    UNAUTHORIZED = "unauthorized"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class SyncStatus:
    """A snapshot of the sync state.

    `pending` counts every queued event (conflicted sessions included: they are not delivered).
    `retry_in` is the delay to the next attempt when the status was made; `retry_at` is the same
    moment on the monotonic clock, so a UI can count down with `words(now=time.monotonic())`
    without a new status per second. `detail` is a human hint (never a secret).
    """

    state: ConnState
    pending: int = 0
    retry_in: float | None = None
    detail: str = ""
    retry_at: float | None = None

    def seconds_to_retry(self, now: float | None = None) -> int | None:
        """Whole seconds (rounded up) until the next attempt, or None if none is scheduled."""
        if now is not None and self.retry_at is not None:
            return max(0, math.ceil(self.retry_at - now))
        if self.retry_in is not None:
            return max(0, math.ceil(self.retry_in))
        return None

    def words(self, now: float | None = None) -> str:
        """The contract's status words, e.g. `syncing 3` or `offline · 3 queued · retry in 2s`."""
        if self.state is ConnState.SYNCING:
            return f"syncing {self.pending}"
        if self.state is ConnState.OFFLINE:
            text = f"offline · {self.pending} queued"
            seconds = self.seconds_to_retry(now)
            return text if seconds is None else f"{text} · retry in {seconds}s"
        return self.state.value


def compose_status(
    phase: Phase,
    pending: int,
    conflicts: dict[str, str],
    *,
    detail: str,
    next_attempt: float,
    now: float,
) -> SyncStatus:
    """The status a client in `phase` shows; when several apply, unauthorized > offline >
    conflict > syncing > online. `next_attempt` and `now` are on the monotonic clock."""
    if phase == "local":
        return SyncStatus(ConnState.LOCAL_ONLY, pending)
    if phase == "auth":
        return SyncStatus(ConnState.UNAUTHORIZED, pending, detail=detail)
    if phase == "down":
        retry_in = max(0.0, next_attempt - now)
        return SyncStatus(ConnState.OFFLINE, pending, retry_in=retry_in, detail=detail, retry_at=next_attempt)
    if phase == "connecting":
        return SyncStatus(ConnState.CONNECTING, pending)
    if conflicts:
        reasons = "; ".join(f"{sid[:8]}: {why}" for sid, why in conflicts.items())
        return SyncStatus(ConnState.CONFLICT, pending, detail=reasons)
    if pending:
        return SyncStatus(ConnState.SYNCING, pending, detail=detail)
    return SyncStatus(ConnState.ONLINE, 0)
