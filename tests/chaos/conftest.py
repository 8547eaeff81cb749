"""Fixtures of the chaos suite (the helpers they use live in helpers.py).

Every server, proxy and sync client a test makes is stopped after it, bounded in time.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.databases import BACKENDS, make_server_db
from tests.servers import ServerProcess
from tui.faultproxy import ProxyThread
from tui.store import Store

from .helpers import LOOP_FLOW, TOKENS, AppServer, Recorder, chaos_seed


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    return chaos_seed(request.node.name)


@pytest.fixture
def loop_flow(tmp_path: Path) -> Path:
    path = tmp_path / "loop.yaml"
    path.write_text(LOOP_FLOW)
    return path


@pytest.fixture
def app_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., AppServer]]:
    """`app_server(wrap=None, tokens=...)`: the app on a thread. SQLite unless the test is
    parametrized with `indirect=["app_server"]` over BACKENDS."""
    kind = getattr(request, "param", "sqlite")
    made: list[AppServer] = []
    databases: list[Generator[str, None, None]] = []

    def make(
        wrap: Callable[[Any], Any] | None = None, tokens: list[str] = TOKENS, name: str = "server.db"
    ) -> AppServer:
        database = make_server_db(kind, tmp_path, name)
        databases.append(database)
        server = AppServer(next(database), tokens, wrap).start()
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()
        for database in databases:
            database.close()  # runs its cleanup (drops a PostgreSQL database)


@pytest.fixture(params=BACKENDS)
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A `--db` for `server_process`: each test using it runs on SQLite and on PostgreSQL."""
    yield from make_server_db(request.param, tmp_path)


@pytest.fixture
def server_process(server_db: str) -> Iterator[Callable[..., ServerProcess]]:
    made: list[ServerProcess] = []

    def make(workers: int = 1) -> ServerProcess:
        server = ServerProcess(server_db, TOKENS, workers=workers).start()
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.kill()


@pytest.fixture
def proxy() -> Iterator[Callable[..., ProxyThread]]:
    """`proxy(target_port, **faults)`: a started ProxyThread, stopped after the test."""
    made: list[ProxyThread] = []

    def make(target_port: int, **kw: Any) -> ProxyThread:
        thread = ProxyThread("127.0.0.1", target_port, **kw).start()
        print(f"fault proxy {thread.url} -> {target_port} seed={thread.seed}")
        made.append(thread)
        return thread

    try:
        yield make
    finally:
        for thread in made:
            thread.stop()


@pytest.fixture
def background() -> Iterator[Callable[..., Any]]:
    """`background(store, url, token, recorder, **client_options)`: a started BackgroundSync whose
    statuses and log lines go to `recorder`; closed (bounded) after the test if still open."""
    from tui.sync.background import BackgroundSync

    made: list[BackgroundSync] = []

    def make(store: Store, url: str | None, token: str | None, recorder: Recorder, **kw: Any) -> BackgroundSync:
        sync = BackgroundSync(store, url, token, on_status=recorder, on_log=recorder.log, **kw).start()
        made.append(sync)
        return sync

    try:
        yield make
    finally:
        for sync in made:
            try:
                sync.close(drain_timeout=0.2)
            except Exception:  # a failed test closed the store first: just stop the thread
                sync.client.stop()
                thread = getattr(sync, "_thread", None)
                if thread is not None:
                    thread.join(5)
