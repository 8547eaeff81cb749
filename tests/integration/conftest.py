"""A real sync server on 127.0.0.1 (port 0) over a tmp database, restartable on the same db.

`live_server` runs uvicorn on a thread (fast); `server_process` runs it as a real process so a
test can SIGKILL it. Both keep their port across restarts so a client's URL stays valid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.databases import BACKENDS, make_server_db
from tests.servers import ServerProcess
from tui.server.backend import Backend
from tui.server.databases import make_backend, prepare_database
from tui.server.run import ServerThread

TOKEN_A = "token-alpha-0123456789abcdef"
TOKEN_B = "token-beta-fedcba9876543210"
TOKENS = [TOKEN_A, TOKEN_B]
REPO = Path(__file__).resolve().parents[2]


class LiveServer:
    """A ServerThread that can be stopped and started again on the same db and port."""

    def __init__(self, db_path: Path | str, tokens: list[str]) -> None:
        self.db_path = db_path
        self.tokens = list(tokens)
        self.port = 0
        self._thread: ServerThread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, tokens: list[str] | None = None) -> LiveServer:
        if tokens is not None:
            self.tokens = list(tokens)
        self._thread = ServerThread(self.db_path, self.tokens, port=self.port).start()
        self.port = self._thread.port
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    def restart(self, tokens: list[str] | None = None) -> LiveServer:
        self.stop()
        return self.start(tokens)


@pytest.fixture
def token_a() -> str:
    return TOKEN_A


@pytest.fixture
def token_b() -> str:
    return TOKEN_B


@pytest.fixture(params=BACKENDS)
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The server's `--db`: a SQLite file, then a fresh PostgreSQL database (each test runs on both)."""
    yield from make_server_db(request.param, tmp_path)


@pytest.fixture
def live_server(server_db: str) -> Iterator[LiveServer]:
    server = LiveServer(server_db, TOKENS).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_process(server_db: str) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def make(workers: int = 1) -> ServerProcess:
        server = ServerProcess(server_db, TOKENS, workers=workers).start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.kill()


@pytest.fixture
def backend(server_db: str) -> Iterator[Backend]:
    """A prepared server backend on `server_db` (both databases), not yet opened."""
    prepare_database(server_db)
    yield make_backend(server_db)
