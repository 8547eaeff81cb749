"""The sessions screen with a real server: the server's sessions marked "on server only" (Enter
pulls and opens one), a conflict shown once and forked with `f`; nothing lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from tests.tui.helpers import bubble_texts, wait_for
from tui.app.screens.chat import ChatScreen
from tui.app.screens.sessions import SERVER_ONLY, SessionsScreen
from tui.flow.loader import load_flow
from tui.pull import pull_session
from tui.server.run import ServerThread
from tui.session import Session
from tui.store import Store
from tui.sync.client import SyncClient
from tui.sync.remote import ServerApi

TOKEN = "tui-resume-token"


def factory(store: Store, url: str) -> Any:
    def build(on_status: Any, on_log: Any) -> SyncClient:
        return SyncClient(
            store, url, TOKEN, heartbeat=0.2, connect_timeout=0.5, read_timeout=1.0, on_status=on_status, on_log=on_log
        )

    return build


FLOW = """
name: Echo
id: echo
groups:
  Loop:
    - ask: x
    - say: "echo {{x}}"
    - goto: Loop
"""


async def drain(store: Store, url: str) -> None:
    assert await SyncClient(store, url, TOKEN).drain(10.0) == 0


def answer(store: Store, sid: str, *texts: str) -> None:
    session = Session.resume(store, sid)
    for text in texts:
        session.answer(text)
    session.close()


def cell(table: DataTable[Any], sid: str, column: int) -> str:
    return str(table.get_row_at(table.get_row_index(sid))[column])


async def test_server_only_rows_pull_and_a_conflict_forks(make_app, flow_file, store, tmp_path: Path) -> None:
    server = ServerThread(tmp_path / "server.db", [TOKEN]).start()
    path = flow_file(FLOW)
    try:
        with Store.open(tmp_path / "a.db") as device_a:
            shared = Session.start(device_a, load_flow(path))
            sid = shared.id
            shared.answer("shared")
            shared.close()
            await drain(device_a, server.url)
            with ServerApi(server.url, TOKEN) as api:
                pull_session(store, api, sid, flow=load_flow(path))
            answer(device_a, sid, "from A")
            other = Session.start(device_a, load_flow(path))
            other.answer("other")
            other.close()
            await drain(device_a, server.url)
        answer(store, sid, "from B")  # offline on this device: it will diverge

        app = make_app(session=Session.resume(store, sid), sync=factory(store, server.url))
        titles: list[str | None] = []
        notify = app.notify

        def recording_notify(*args: Any, **kwargs: Any) -> None:
            titles.append(kwargs.get("title"))
            notify(*args, **kwargs)

        app.notify = recording_notify
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.chat.query_one("ConnectionIndicator").has_class("-conflict"))
            assert titles.count("Sync conflict") == 1

            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
            table = app.screen.query_one(DataTable)
            await wait_for(pilot, lambda: other.id in table.rows)
            assert cell(table, other.id, 3) == SERVER_ONLY and cell(table, sid, 3) == "conflict"

            table.move_cursor(row=table.get_row_index(other.id))
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen) and app.session.id == other.id)
            assert "echo other" in bubble_texts(app) and app.session.waiting_input is not None

            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
            table = app.screen.query_one(DataTable)
            table.move_cursor(row=table.get_row_index(sid))
            await pilot.press("f")
            await wait_for(pilot, lambda: app.session.record.forked_from == sid and isinstance(app.screen, ChatScreen))
            fork = app.session.id
            assert "echo from B" in bubble_texts(app)
            await wait_for(pilot, lambda: store.acked_seq(fork) == store.last_seq(fork) > 0)
            await wait_for(pilot, lambda: not app.chat.query_one("ConnectionIndicator").has_class("-conflict"))
            assert titles.count("Sync conflict") == 1

        with ServerApi(server.url, TOKEN) as api:
            on_server = api.events_range(sid, 0, store.last_seq(sid))
            forked = api.events_range(fork, 0, store.last_seq(fork))
        assert on_server == store.events(sid) and store.conflict(sid) is None
        assert [e.data["text"] for e in on_server if e.type == "answer"] == ["shared", "from A"]
        assert [e.data["text"] for e in forked if e.type == "answer"] == ["shared", "from B"]
    finally:
        server.stop()
