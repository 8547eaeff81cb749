"""The app with a real sync client: a real server behind a fault proxy, and a dead port.

Keys never wait on the network: every step commits locally and shows at once, whatever the
server does; the indicator tells the truth about what is queued.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from textual.widgets import Input

from tests.tui.helpers import bubble_texts, indicator, static_text, wait_for
from tui.app.widgets.sync_log import SyncLog
from tui.faultproxy import FaultMode, ProxyThread
from tui.server.run import ServerThread
from tui.sync.client import SyncClient

TOKEN = "tui-test-token"
FLOW = """
name: Sync
id: sync
groups:
  Loop:
    - ask: x
    - say: "echo {{x}}"
    - goto: Loop
"""


def factory(store, url: str, heartbeat: float = 0.2):
    def build(on_status, on_log):
        return SyncClient(
            store,
            url,
            TOKEN,
            heartbeat=heartbeat,
            connect_timeout=0.5,
            read_timeout=1.0,
            on_status=on_status,
            on_log=on_log,
        )

    return build


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SilentServer:
    """A TCP server that accepts requests and never answers them: a request to it stays pending."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.closed_by_client = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except OSError:
            return
        self._held.append(conn)
        data = conn.recv(65536)
        self.requests.append(data)
        try:
            if conn.recv(1) == b"":  # blocks until the client gives up or the test ends
                self.closed_by_client.set()
        except OSError:
            pass

    def close(self) -> None:
        for conn in self._held:
            conn.close()
        self._sock.close()


async def test_a_pending_request_never_blocks_a_key(make_app, flow_file, store) -> None:
    # The server accepts the sync client's request and never answers (read timeout far away):
    # every key is handled, every answer committed and shown while that request is in flight.
    server = SilentServer()
    url = f"http://127.0.0.1:{server.port}"

    def build(on_status, on_log):
        return SyncClient(
            store, url, TOKEN, heartbeat=0.2, connect_timeout=30.0, read_timeout=300.0,
            total_timeout=600.0, on_status=on_status, on_log=on_log,
        )  # fmt: skip

    app = make_app(flow_file(FLOW), sync=build)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: bool(server.requests) and isinstance(app.focused, Input))
            for n in range(5):
                await pilot.press(*f"a{n}", "enter")
            await wait_for(pilot, lambda: "echo a4" in bubble_texts(app))
            # ordering, not a stopwatch: all five answers shown while the request still waits
            assert not server.closed_by_client.is_set()
            assert indicator(app).has_class("-connecting")
            assert [e.data["text"] for e in app.session.events() if e.type == "answer"] == [f"a{n}" for n in range(5)]
            assert store.total_pending() > 0
    finally:
        server.close()


async def test_dead_server_shows_offline_with_the_queue(make_app, flow_file, store) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    app = make_app(flow_file(FLOW), sync=factory(store, url))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: indicator(app).has_class("-offline") and isinstance(app.focused, Input))
        for n in range(5):
            await pilot.press(*f"a{n}", "enter")
            await wait_for(pilot, lambda n=n: f"echo a{n}" in bubble_texts(app))
        await wait_for(
            pilot,
            lambda: (
                "queued" in static_text(indicator(app))
                and int(static_text(indicator(app)).split("·")[1].split()[0]) == store.total_pending()
            ),
        )
        assert store.total_pending() > 0


async def test_real_server_through_proxy_down_and_up(make_app, flow_file, store, tmp_path: Path) -> None:
    server = ServerThread(tmp_path / "server.db", [TOKEN]).start()
    proxy = ProxyThread("127.0.0.1", server.port).start()
    try:
        app = make_app(flow_file(FLOW), sync=factory(store, proxy.url), show_sync_log=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: indicator(app).has_class("-online") and isinstance(app.focused, Input))
            await pilot.press(*"one", "enter")
            await wait_for(pilot, lambda: store.total_pending() == 0 and indicator(app).has_class("-online"))

            proxy.set_mode(FaultMode.DOWN)
            await wait_for(pilot, lambda: indicator(app).has_class("-offline"))
            for word in ("two", "three"):
                await pilot.press(*word, "enter")
                await wait_for(pilot, lambda word=word: f"echo {word}" in bubble_texts(app), timeout=2)
            queued = store.total_pending()
            assert queued > 0
            await wait_for(pilot, lambda: f"offline · {queued} queued" in static_text(indicator(app)))

            proxy.set_mode(FaultMode.PASS)
            await wait_for(pilot, lambda: store.total_pending() == 0 and indicator(app).has_class("-online"))
            assert any("Back online" in n.message for n in app._notifications)
            assert app.chat.query_one(SyncLog).lines
    finally:
        proxy.stop()
        server.stop()


async def test_server_stopped_then_started(make_app, flow_file, store, tmp_path: Path) -> None:
    server = ServerThread(tmp_path / "server.db", [TOKEN]).start()
    port = server.port
    app = make_app(flow_file(FLOW), sync=factory(store, server.url))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: indicator(app).has_class("-online") and isinstance(app.focused, Input))
            server.stop()
            await wait_for(pilot, lambda: indicator(app).has_class("-offline"))
            await pilot.press(*"queued", "enter")
            await wait_for(pilot, lambda: "echo queued" in bubble_texts(app), timeout=2)
            server = ServerThread(tmp_path / "server.db", [TOKEN], port=port).start()
            await wait_for(
                pilot, lambda: store.total_pending() == 0 and indicator(app).has_class("-online"), timeout=40
            )
    finally:
        server.stop()


async def test_wrong_token_is_unauthorized_once(make_app, flow_file, store, tmp_path: Path) -> None:
    server = ServerThread(tmp_path / "server.db", ["another-token"]).start()
    try:
        app = make_app(flow_file(FLOW), sync=factory(store, server.url))
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: indicator(app).has_class("-unauthorized") and isinstance(app.focused, Input))
            await pilot.press(*"still works", "enter")
            await wait_for(pilot, lambda: "echo still works" in bubble_texts(app), timeout=2)
            assert [n.title for n in app._notifications] == ["Unauthorized"]
    finally:
        server.stop()
