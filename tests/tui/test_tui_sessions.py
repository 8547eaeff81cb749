"""The sessions screen (ctrl+s), new session (ctrl+n), export, the palette and the demo keys."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.tui.helpers import bubble_texts, wait_for
from tui.app.screens.chat import ChatScreen
from tui.app.screens.sessions import SessionsScreen
from tui.app.testing import FakeNetwork

FLOW = """
name: Two
id: two
groups:
  Start:
    - say: Start of two
    - ask: name
    - say: "Hello {{name}}"
"""


async def test_sessions_screen_lists_resumes_and_exports(make_app, flow_file, store) -> None:
    app = make_app(flow_file(FLOW))
    first = app.session.id
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press(*"Ada", "enter")
        await wait_for(pilot, lambda: app.session.status == "completed")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.session.id != first)
        second = app.session.id
        assert bubble_texts(app)[1:] == ["Start of two"]

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        assert [str(k.value) for k in table.rows] == sorted([first, second], reverse=True)
        row = table.get_row_at(table.get_row_index(first))
        assert row[1] == first[:8] and row[3] == "completed"

        await pilot.press("e")
        exported = store.path.parent / f"steadychat-{app.screen.selected_id[:8]}.md"
        await wait_for(pilot, lambda: exported.exists())
        assert "Start of two" in exported.read_text()

        table.move_cursor(row=table.get_row_index(first))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen) and app.session.id == first)
        assert "Hello Ada" in bubble_texts(app)


async def test_demo_keys_hidden_outside_the_demo(make_app, flow_file) -> None:
    app = make_app(flow_file(FLOW))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.check_action("toggle_network", ()) is False
        assert app.check_action("toggle_flaky", ()) is False
        assert app.check_action("sync_now", ()) is None
        keys = {b.binding.key for b in app.screen.active_bindings.values() if b.enabled}
        assert "f2" not in keys and "ctrl+s" in keys


async def test_demo_keys_switch_the_network(make_app, flow_file) -> None:
    network = FakeNetwork()
    app = make_app(flow_file(FLOW), demo=network)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("f2", "f3")
        await wait_for(pilot, lambda: network.down and network.flaky)
        assert app.check_action("toggle_network", ()) is True


async def test_palette_commands_call_the_same_actions(make_app, flow_file) -> None:
    app = make_app(flow_file(FLOW))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Sessions")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))


async def test_sessions_rows_follow_the_sync_status(make_app, flow_file, store) -> None:
    """The sessions screen watches the app's `sync_status`: the queued count follows deliveries,
    and once the screen is closed a status reaches only the chat screen."""
    from tui.sync.status import ConnState, SyncStatus

    app = make_app(flow_file(FLOW))
    sid = app.session.id
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press(*"Ada", "enter")
        await wait_for(pilot, lambda: app.session.status == "completed")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        table = app.screen.query_one(DataTable)
        queued = lambda: str(table.get_row_at(table.get_row_index(sid))[5])  # noqa: E731
        assert queued() == str(app.session.last_seq)
        store.set_acked_seq(sid, app.session.last_seq)  # what the sync client does on an ack
        app.sync_status = SyncStatus(ConnState.ONLINE)
        await wait_for(pilot, lambda: queued() == "·")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        app.sync_status = SyncStatus(ConnState.OFFLINE, 0, retry_in=1)
        await pilot.pause()
        assert app.chat.query_one("ConnectionIndicator").has_class("-offline")
