"""Start the TUI: `steadychat run FLOW` and `steadychat demo` (server + fault proxy + TUI).

Both open the session exactly as `play` does (`tui.headless.open_session`); a session that
another process drives opens read-only, with a toast that says so and how to start a new one.
The demo stops its client, proxy and server on quit, each bounded in time.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui.flow.loader import load_flow
from tui.headless import open_session
from tui.paths import bundled_flows_dir, default_server_db_path
from tui.session import Session, latest_active_session
from tui.store import SessionSummary, Store
from tui.sync.status import SyncStatus

DEMO_HEARTBEAT_S = 1.0
STOP_TIMEOUT_S = 3.0


def _open(store: Store, flow_path: Path, *, new: bool, session_id: str | None) -> tuple[Session, list[str]]:
    """The session to show and the notices to toast (flow changed, opened read-only, finished).

    With no active session on the flow, its newest session, if completed, is shown as
    completed (ctrl+n starts a new one) rather than replaced by a silent new session: a
    conversation finished just before a crash or a kill is still there when the user comes back.
    """
    err = io.StringIO()
    finished = None if new or session_id else _finished_last(store, flow_path)
    if finished is not None:
        session_id = finished.id
    session, _resumed = open_session(store, flow_path, new=new, session_id=session_id, err=err, read_only_if_busy=True)
    notices = [line.removeprefix("steadychat: ") for line in err.getvalue().splitlines() if line.strip()]
    if finished is not None and session.status == "completed":
        notices.append(
            f"Your last conversation on {session.flow.name} ({session.id[:8]}) is complete: "
            "ctrl+n starts a new one (or run with --new)."
        )
    return session, notices


def _finished_last(store: Store, flow_path: Path) -> SessionSummary | None:
    """The flow's newest session if it is completed and no session of the flow is active."""
    flow_id = load_flow(flow_path).id
    if latest_active_session(store, flow_id) is not None:
        return None
    newest = store.latest_of_flow(flow_id)
    return newest if newest is not None and newest.status == "completed" else None


def _sync_factory(
    store: Store, server: str, token: str, *, heartbeat: float
) -> Callable[[Callable[[SyncStatus], None], Callable[[str], None]], Any]:
    from tui.sync.client import SyncClient

    def build(on_status: Callable[[SyncStatus], None], on_log: Callable[[str], None]) -> Any:
        return SyncClient(store, server, token, heartbeat=heartbeat, on_status=on_status, on_log=on_log)

    return build


def _run_app(store: Store, session: Session, **settings: Any) -> None:
    from tui.app.app import AppSettings, SteadyChatApp
    from tui.app.catalog import SessionCatalog

    app = SteadyChatApp(AppSettings(session=session, sessions=SessionCatalog(store), **settings))
    try:
        app.run()
    finally:
        app.session.close()


def launch_run(
    flow_path: Path,
    *,
    store_path: Path,
    new: bool,
    session_id: str | None,
    server: str | None,
    token: str | None,
) -> None:
    """`steadychat run FLOW`: the TUI on a flow, syncing to `server` when one is given."""
    store = Store.open(store_path)
    try:
        session, notices = _open(store, Path(flow_path), new=new, session_id=session_id)
        sync = _sync_factory(store, server, token or "", heartbeat=5.0) if server else None
        _run_app(store, session, sync=sync, notices=notices)
    finally:
        store.close()


class DemoNetwork:
    """F2/F3 for the demo: switch the fault proxy between pass, down and flaky."""

    def __init__(self, proxy: Any) -> None:
        from tui.faultproxy import FaultMode

        self._modes = FaultMode
        self.proxy = proxy
        self.mode = FaultMode.PASS
        self._sink: Callable[[str], None] | None = None
        self._early: list[str] = []
        self._lock = threading.Lock()

    def attach_log(self, sink: Callable[[str], None]) -> None:
        with self._lock:
            self._sink = sink
            early, self._early = self._early, []
        for line in early:
            sink(line)

    def proxy_event(self, line: str) -> None:
        """The proxy's own log lines (called on its thread): into the sync log."""
        with self._lock:
            sink = self._sink
            if sink is None:
                self._early.append(f"proxy: {line}")
                return
        sink(f"proxy: {line}")

    def _set(self, mode: Any) -> None:
        self.proxy.set_mode(mode)
        self.mode = mode

    def toggle_network(self) -> str:
        if self.mode is self._modes.DOWN:
            self._set(self._modes.PASS)
            return "network restored (F2)"
        self._set(self._modes.DOWN)
        return "network cut (F2): answers queue locally"

    def toggle_flaky(self) -> str:
        if self.mode is self._modes.FLAKY:
            self._set(self._modes.PASS)
            return "network steady again (F3)"
        self._set(self._modes.FLAKY)
        return "network flaky (F3): some requests fail"


def launch_demo(
    flow_path: Path | None,
    *,
    store_path: Path,
    server_db: Path | None,
    new: bool,
) -> None:
    """`steadychat demo`: the sync server on 127.0.0.1, a fault proxy in front, the TUI on top."""
    from tui.faultproxy import ProxyThread

    flow_path = Path(flow_path) if flow_path is not None else bundled_flows_dir() / "demo.yaml"
    db_path = Path(server_db) if server_db is not None else default_server_db_path()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    token, new_token = _demo_token(db_path)
    # uvicorn and the proxy log to stderr; under a full-screen TUI that would tear the screen.
    for name in ("uvicorn", "uvicorn.error", "tui.faultproxy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # The server (and its database) first: if it cannot start, nothing has been written into the
    # user's store or beside the server database.
    server = _start_demo_server(db_path, token)
    if new_token:
        _save_demo_token(db_path, token)
    store = proxy = None
    try:
        store = Store.open(store_path)
        session, notices = _open(store, flow_path, new=new, session_id=None)
        network: DemoNetwork | None = None

        def on_event(line: str) -> None:
            if network is not None:
                network.proxy_event(line)

        proxy = ProxyThread("127.0.0.1", server.port, on_event=on_event).start()
        network = DemoNetwork(proxy)
        sync = _sync_factory(store, proxy.url, token, heartbeat=DEMO_HEARTBEAT_S)
        _run_app(store, session, sync=sync, notices=notices, demo=network, show_sync_log=True)
    finally:
        if proxy is not None:
            _bounded(proxy.stop)
        _bounded(server.stop)
        if store is not None:
            store.close()


def _start_demo_server(db_path: Path, token: str) -> Any:
    """The embedded server on a free port, or one line naming --server-db (exit 2)."""
    from tui.errors import SteadyChatError, UsageError
    from tui.server.run import ServerThread

    try:
        return _quietly(lambda: ServerThread(db_path, [token]).start())
    except SteadyChatError as exc:
        message = str(exc)
        if not message.startswith("--db "):
            raise
        # The server names its own option; here the user typed --server-db.
        raise UsageError("--server-db " + message.removeprefix("--db ")) from None
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(
            f"--server-db {db_path}: the demo's sync server cannot use it ({reason}); "
            "give another path (nothing was written)"
        ) from None


def _demo_token(db_path: Path) -> tuple[str, bool]:
    """The demo's client token kept beside the server db (so sessions stay ours across runs),
    and whether it is new (saved only once the server has started)."""
    path = db_path.with_name(db_path.name + ".token")
    try:
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token, False
    except (OSError, UnicodeDecodeError):
        pass
    return secrets.token_urlsafe(24), True


def _save_demo_token(db_path: Path, token: str) -> None:
    path = db_path.with_name(db_path.name + ".token")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")


def _quietly(start: Callable[[], Any]) -> Any:
    """Start something that announces itself on stderr, without the announcement."""
    import contextlib

    with contextlib.redirect_stderr(io.StringIO()):
        return start()


def _bounded(stop: Callable[..., Any]) -> None:
    try:
        stop(timeout=STOP_TIMEOUT_S)
    except TypeError:
        stop()
    except Exception:
        pass
