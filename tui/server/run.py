"""Running the sync server: in the foreground (`steadychat server`), as N workers, or on a thread.

Start-up order, so that a mistake costs nothing: options are checked, the listening socket is
bound (a bad host, a port out of range or in use fails here, before any file exists), then the
database is checked and prepared (a file that is not ours is refused untouched), and only then
are requests served. Every start-up mistake is a `ServerStartError` or `ServerDatabaseError`:
one line, exit 2.

The stack is uvicorn with uvloop and httptools (`uvicorn[standard]`): the fastest of the three
Python servers on a small POST here, and the one the project already ran. Against slow clients
it gets two guards of ours (`GuardedHttpProtocol`), because uvicorn's own `limit_concurrency`
only answers 503 once headers have arrived and it has no header read timeout: a connection must
finish its request headers within `header_timeout` seconds, and beyond `max_connections` open
connections per worker a new one is answered 503 and closed at once. Idle keep-alive
connections close after `keep_alive` seconds (uvicorn's own timer). Behind a reverse proxy
(README, "Running past one machine") the proxy absorbs slow clients first.

`--workers N` (N > 1) uses uvicorn's supervisor: the parent binds the socket and prepares the
database once, then N spawned workers share the socket, each with its own database connections
(SQLite: one per worker, WAL, BEGIN IMMEDIATE; PostgreSQL: a pool per worker). A worker that
dies is replaced; on Linux a worker also ends when its parent is SIGKILLed (PR_SET_PDEATHSIG),
so a killed server never leaves workers holding the port.

uvicorn handles SIGTERM/SIGINT with a graceful shutdown: it stops accepting, lets in-flight
requests finish (bounded), then closes the database. Acks are only sent after COMMIT, so a
shutdown or a kill never loses an acknowledged batch. There is no access log: tokens can never
end up in a log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import errno
import json
import os
import resource
import signal
import socket
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess

from tui.errors import SteadyChatError
from tui.server.app import build_app, create_app
from tui.server.databases import is_postgres, make_backend, prepare_database

GRACEFUL_SHUTDOWN_S = 5.0
WORKER_ENV = "STEADYCHAT_SERVER_WORKER"
BACKLOG = 2048


class ServerStartError(SteadyChatError):
    """The server cannot start (bad host or port, port in use); one line, exit 2."""


@dataclass
class ServerOptions:
    """Everything a server process needs; passed to spawned workers as JSON in the environment."""

    db: str
    tokens: list[str]
    host: str = "127.0.0.1"
    port: int = 8787
    workers: int = 1
    header_timeout: float = 10.0
    max_connections: int = 1000
    keep_alive: int = 5

    def check(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ServerStartError(f"--port {self.port}: must be from 0 to 65535")
        if self.workers < 1:
            raise ServerStartError(f"--workers {self.workers}: must be at least 1")
        if self.header_timeout <= 0:
            raise ServerStartError(f"--header-timeout {self.header_timeout}: must be more than 0")
        if self.max_connections < 1:
            raise ServerStartError(f"--max-connections {self.max_connections}: must be at least 1")
        if not self.tokens or any(not t for t in self.tokens):
            raise ServerStartError("the server needs at least one non-empty --token")


# --------------------------------------------------------------------------- slow-client guards
_REFUSED = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nretry-after: 1\r\nconnection: close\r\n\r\n"


class GuardedHttpProtocol(HttpToolsProtocol):
    """httptools protocol with a header read timeout and a cap on open connections."""

    header_timeout = 10.0
    max_connections = 1000

    _header_timer: asyncio.TimerHandle | None = None
    _refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            # Answer 503 and half-close; what the client still sends is read and dropped (closing
            # with unread bytes would reset the connection and lose the answer) until it closes
            # or the header timeout ends it.
            self._refused = True
            transport.write(_REFUSED)
            if transport.can_write_eof():
                transport.write_eof()
        self._arm()

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def eof_received(self) -> None:
        if self._refused:
            self.transport.close()
            return
        super().eof_received()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm()  # idle between requests: uvicorn's keep-alive timer governs

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def _configure_guards(options: ServerOptions) -> None:
    GuardedHttpProtocol.header_timeout = options.header_timeout
    GuardedHttpProtocol.max_connections = options.max_connections


def _raise_fd_limit() -> None:
    """Let the connection cap, not the default 1,024 descriptors, be the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, 65536), hard))


# --------------------------------------------------------------------------- socket
def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, or a one-line ServerStartError naming what to fix."""
    if not 0 <= port <= 65535:
        raise ServerStartError(f"--port {port}: must be from 0 to 65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise ServerStartError(f"--host {host}: not a known host or address ({reason})") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServerStartError(
                f"--port {port}: {host}:{port} is already in use; stop the other server or pick another port"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ServerStartError(f"--host {host}: not an address of this machine") from None
        if exc.errno == errno.EACCES:
            raise ServerStartError(f"--port {port}: not allowed for this user; use a port above 1023") from None
        raise ServerStartError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _config(app: Any, options: ServerOptions, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        access_log=False,
        log_level="warning",
        lifespan="on",
        http=GuardedHttpProtocol,
        loop="uvloop" if _has_uvloop() else "asyncio",
        timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN_S),
        timeout_keep_alive=options.keep_alive,
        limit_concurrency=options.max_connections + 1,
        proxy_headers=False,  # nothing here reads the client address; behind a proxy it is the proxy's
        **extra,
    )


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _announce(options: ServerOptions, port: int, description: str) -> None:
    tokens = f"{len(options.tokens)} token{'s' if len(options.tokens) != 1 else ''}"
    workers = f", {options.workers} workers" if options.workers > 1 else ""
    print(
        f"steadychat server listening on http://{options.host}:{port} ({tokens}, db {description}{workers})",
        file=sys.stderr,
        flush=True,
    )


class _Server(uvicorn.Server):
    """uvicorn.Server that announces its bound port and sets `ready` once it accepts requests."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event | None, on_ready: Any = None) -> None:
        super().__init__(config)
        self.ready = ready
        self.on_ready = on_ready
        self.port: int | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                self.port = sock.getsockname()[1]
                break
            if self.port is not None:
                break
        if self.on_ready is not None:
            self.on_ready(self.port)
        if self.ready is not None:
            self.ready.set()


# --------------------------------------------------------------------------- workers
def _die_with_parent() -> None:
    """Linux: this worker gets SIGTERM when its parent dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def worker_app() -> Any:
    """The app of one spawned worker (uvicorn factory), from the options its parent set."""
    _die_with_parent()
    options = ServerOptions(**json.loads(os.environ[WORKER_ENV]))
    _configure_guards(options)
    return build_app(make_backend(options.db), options.tokens)


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, announcing once every worker is ready."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], announce: Any) -> None:
        super().__init__(config, sockets)
        self._announce = announce

    def init_processes(self) -> None:
        super().init_processes()
        if all(p.wait_until_ready(30, self.should_exit) for p in self.processes):
            self._announce()
        else:
            print("steadychat: a server worker failed to start; stopping", file=sys.stderr, flush=True)
            self.should_exit.set()


def run_server(options: ServerOptions, ready: threading.Event | None = None) -> None:
    """Serve in the foreground until SIGTERM/SIGINT. Start-up mistakes raise one-line errors."""
    options.check()
    _raise_fd_limit()
    sock = bind_socket(options.host, options.port)
    try:
        description = prepare_database(options.db)
        port = sock.getsockname()[1]
        _configure_guards(options)
        if options.workers == 1:
            app = build_app(make_backend(options.db), options.tokens)
            server = _Server(_config(app, options), ready, lambda _p: _announce(options, port, description))
            server.run(sockets=[sock])
            return
        os.environ[WORKER_ENV] = json.dumps(asdict(options))
        config = _config("tui.server.run:worker_app", options, factory=True, workers=options.workers)
        _Supervisor(config, [sock], lambda: _announce(options, port, description)).run()
    finally:
        sock.close()


class ServerThread:
    """A server on a daemon thread (demo, tests): `port=0` picks a free port, read as `.port`."""

    def __init__(self, db: str | Path, tokens: list[str], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.db_path = db if is_postgres(db) else Path(db)
        self.tokens = list(tokens)
        self.host = host
        self._ready = threading.Event()
        self._sock = bind_socket(host, port)
        try:
            app = create_app(db, self.tokens)
        except BaseException:
            self._sock.close()
            raise
        self._server = _Server(_config(app, ServerOptions(str(db), self.tokens)), self._ready)
        self._thread = threading.Thread(target=self._main, name="steadychat-server", daemon=True)
        self._error: BaseException | None = None

    def _main(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # startup failure: reported by start()
            self._error = exc
        finally:
            self._ready.set()

    def start(self, timeout: float = 10.0) -> ServerThread:
        """Start and wait until the server accepts connections."""
        self._thread.start()
        if not self._ready.wait(timeout) or self._server.port is None:
            self.stop()
            raise RuntimeError(f"sync server did not start: {self._error!r}")
        return self

    @property
    def port(self) -> int:
        assert self._server.port is not None, "server not started"
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = GRACEFUL_SHUTDOWN_S + 5.0) -> None:
        """Graceful shutdown, bounded: returns after at most `timeout` seconds."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Minimal foreground entry point used by tests (the real CLI is `steadychat server`)."""
    parser = argparse.ArgumentParser(prog="python -m tui.server.run")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--db", default="steadychat-server.db")
    parser.add_argument("--token", action="append", default=[])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--max-connections", type=int, default=1000)
    args = parser.parse_args(argv)
    options = ServerOptions(
        db=args.db,
        tokens=args.token,
        host=args.host,
        port=args.port,
        workers=args.workers,
        header_timeout=args.header_timeout,
        max_connections=args.max_connections,
    )
    try:
        run_server(options)
    except SteadyChatError as exc:
        print(f"steadychat: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
