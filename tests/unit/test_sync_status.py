"""The status words are a contract (TUI indicator, headless logs): one case per state."""

from __future__ import annotations

import pytest

from tui.sync.status import ConnState, SyncStatus


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (SyncStatus(ConnState.LOCAL_ONLY, 4), "local-only"),
        (SyncStatus(ConnState.CONNECTING, 4), "connecting"),
        (SyncStatus(ConnState.ONLINE), "online"),
        (SyncStatus(ConnState.SYNCING, 12), "syncing 12"),
        (SyncStatus(ConnState.OFFLINE, 3, retry_in=1.2), "offline · 3 queued · retry in 2s"),
        (SyncStatus(ConnState.OFFLINE, 3, retry_in=7.0), "offline · 3 queued · retry in 7s"),
        (SyncStatus(ConnState.OFFLINE, 3, retry_in=0.0), "offline · 3 queued · retry in 0s"),
        (SyncStatus(ConnState.OFFLINE, 3), "offline · 3 queued"),
        (SyncStatus(ConnState.UNAUTHORIZED, 9, detail="token refused"), "unauthorized"),
        (SyncStatus(ConnState.CONFLICT, 2, detail="x"), "conflict"),
    ],
)
def test_words(status: SyncStatus, words: str) -> None:
    assert status.words() == words


def test_enum_values_are_the_contract_words() -> None:
    assert [s.value for s in ConnState] == [
        "local-only",
        "connecting",
        "online",
        "syncing",
        "offline",
        "unauthorized",
        "conflict",
    ]
    assert ConnState("offline") is ConnState.OFFLINE


def test_countdown_from_retry_at_on_the_monotonic_clock() -> None:
    status = SyncStatus(ConnState.OFFLINE, 5, retry_in=10.0, retry_at=110.0)
    assert status.words() == "offline · 5 queued · retry in 10s"
    assert status.words(now=104.5) == "offline · 5 queued · retry in 6s"
    assert status.words(now=200.0) == "offline · 5 queued · retry in 0s"


def test_status_is_frozen_and_comparable() -> None:
    a = SyncStatus(ConnState.SYNCING, 2)
    assert a == SyncStatus(ConnState.SYNCING, 2)
    with pytest.raises(AttributeError):
        a.pending = 3  # type: ignore[misc]
