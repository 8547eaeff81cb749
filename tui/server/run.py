"""Running the sync server: in the foreground (`steadychat server`) or on a thread (demo, tests).

uvicorn handles SIGTERM/SIGINT in the foreground with a graceful shutdown: it stops accepting,
lets in-flight requests finish (bounded), then closes the database. A batch that was committed is
never lost by a shutdown or a kill because acks are only sent after COMMIT. The access log is off:
requests are not logged at all, so tokens can never end up in a log.

`python -m tui.server.run --port 0 --db PATH --token T` runs the foreground server too; tests use
it to SIGKILL a real server process.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from pathlib import Path

import uvicorn

from tui.server.app import create_app

GRACEFUL_SHUTDOWN_S = 5.0


class _Server(uvicorn.Server):
    """uvicorn.Server that reports its bound port and sets `ready` once it accepts requests."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event | None, announce: str) -> None:
        super().__init__(config)
        self.ready = ready
        self.port: int | None = None
        self._announce = announce

    async def startup(self, sockets: list | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                self.port = sock.getsockname()[1]
                break
            if self.port is not None:
                break
        host = self.config.host
        print(
            f"steadychat server listening on http://{host}:{self.port} ({self._announce})",
            file=sys.stderr,
            flush=True,
        )
        if self.ready is not None:
            self.ready.set()


def _make_server(
    host: str, port: int, db_path: str | Path, tokens: list[str], ready: threading.Event | None
) -> _Server:
    app = create_app(db_path, tokens)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    announce = f"{len(tokens)} token{'s' if len(tokens) != 1 else ''}, db {db_path}"
    return _Server(config, ready, announce)


def run_server(
    host: str, port: int, db_path: str | Path, tokens: list[str], ready: threading.Event | None = None
) -> None:
    """Serve in the foreground until SIGTERM/SIGINT; sets `ready` once listening."""
    _make_server(host, port, db_path, tokens, ready).run()


class ServerThread:
    """A server on a daemon thread: `port=0` picks a free port, read back as `.port`/`.url`."""

    def __init__(self, db_path: str | Path, tokens: list[str], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.db_path = Path(db_path)
        self.tokens = list(tokens)
        self.host = host
        self._ready = threading.Event()
        self._server = _make_server(host, port, db_path, self.tokens, self._ready)
        self._thread = threading.Thread(target=self._main, name="steadychat-server", daemon=True)
        self._error: BaseException | None = None

    def _main(self) -> None:
        try:
            asyncio.run(self._server.serve())
        except BaseException as exc:  # startup failure (port taken…): reported by start()
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

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Minimal foreground entry point (the real CLI is `steadychat server`)."""
    parser = argparse.ArgumentParser(prog="python -m tui.server.run")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--db", default="steadychat-server.db")
    parser.add_argument("--token", action="append", default=[])
    args = parser.parse_args(argv)
    run_server(args.host, args.port, args.db, args.token)


if __name__ == "__main__":
    main()
