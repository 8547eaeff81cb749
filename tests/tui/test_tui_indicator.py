"""The connection indicator: glyph + words + dash class for every state; toasts per transition."""

from __future__ import annotations

import pytest

from tests.tui.helpers import indicator, static_text, wait_for
from tui.sync.status import ConnState, SyncStatus

FLOW = """
name: Ind
groups:
  Start:
    - ask: name
    - ask: city
"""


@pytest.mark.parametrize(
    ("status", "css", "text"),
    [
        (SyncStatus(ConnState.LOCAL_ONLY), "-local", "◇ local-only"),
        (SyncStatus(ConnState.CONNECTING), "-connecting", "◌ connecting"),
        (SyncStatus(ConnState.ONLINE), "-online", "● online"),
        (SyncStatus(ConnState.SYNCING, 4), "-syncing", "↻ syncing 4"),
        (
            SyncStatus(ConnState.OFFLINE, 3, retry_in=5, retry_at=1005.0),
            "-offline",
            "○ offline · 3 queued · retry in 5s",
        ),
        (SyncStatus(ConnState.UNAUTHORIZED, 2), "-unauthorized", "⚠ unauthorized"),
        (SyncStatus(ConnState.CONFLICT, 1), "-conflict", "≠ conflict"),
    ],
)
async def test_states(make_app, flow_file, status, css, text) -> None:
    app = make_app(flow_file(FLOW))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert indicator(app).has_class("-local")
        app.sync_status = status
        await pilot.pause()
        widget = indicator(app)
        assert widget.has_class(css)
        assert (
            sum(
                widget.has_class(c)
                for c in ("-local", "-connecting", "-online", "-syncing", "-offline", "-unauthorized", "-conflict")
            )
            == 1
        )
        assert static_text(widget) == text


async def test_retry_countdown_ticks(make_app, flow_file) -> None:
    now = [1000.0]
    app = make_app(flow_file(FLOW), monotonic=lambda: now[0])
    async with app.run_test(size=(100, 30)) as pilot:
        app.sync_status = SyncStatus(ConnState.OFFLINE, 2, retry_in=5, retry_at=1005.0)
        await pilot.pause()
        assert static_text(indicator(app)).endswith("retry in 5s")
        now[0] = 1003.2
        await wait_for(pilot, lambda: static_text(indicator(app)).endswith("retry in 2s"), timeout=3)


async def test_one_toast_per_transition(make_app, flow_file) -> None:
    app = make_app(flow_file(FLOW))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.sync_status = SyncStatus(ConnState.ONLINE)
        for pending in (1, 2, 3, 3, 3):  # many failed attempts: no toast
            app.sync_status = SyncStatus(ConnState.OFFLINE, pending, retry_in=1)
        await pilot.pause()
        assert len(app._notifications) == 0
        app.sync_status = SyncStatus(ConnState.SYNCING, 3)
        app.sync_status = SyncStatus(ConnState.SYNCING, 1)
        app.sync_status = SyncStatus(ConnState.ONLINE)
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert messages == ["Back online · 3 queued events delivered"]
        for _ in range(3):
            app.sync_status = SyncStatus(ConnState.UNAUTHORIZED, 1)
        await pilot.pause()
        assert len(app._notifications) == 2
        assert "token" in list(app._notifications)[-1].message


async def test_status_messages_from_the_client_reach_the_indicator(make_app, flow_file) -> None:
    from tui.app.messages import SyncStatusChanged

    app = make_app(flow_file(FLOW))
    async with app.run_test(size=(100, 30)) as pilot:
        for pending in range(10, 0, -1):
            app.post_message(SyncStatusChanged(SyncStatus(ConnState.SYNCING, pending)))
        app.post_message(SyncStatusChanged(SyncStatus(ConnState.ONLINE)))
        await wait_for(pilot, lambda: indicator(app).has_class("-online"))
        assert static_text(indicator(app)) == "● online"
