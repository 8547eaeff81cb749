"""A small asyncio TCP fault proxy for the demo and the chaos tests (see FAULTS.md).

It sits between the SteadyChat client and the sync server on 127.0.0.1 and can
produce the network faults the client must survive:

* ``PASS``      forward bytes both ways (optionally with ``delay``, ``bandwidth``,
                ``cut_upstream_after`` / ``cut_downstream_after``);
* ``DOWN``      refuse: the listening socket is closed, so a client gets
                "connection refused" (httpx.ConnectError) at once, and existing
                connections are reset.  Going back up reopens the same port.
                With ``down_style="reset"`` the proxy keeps listening and resets
                every new connection instead, so attempts can be counted
                (``connections_refused``);
* ``BLACKHOLE`` accept, read and discard, never answer (a half-open peer);
* ``FLAKY``     per request, a seeded ``random.Random`` decides a delay and
                whether to cut the connection (before the request, after k request
                bytes or after k response bytes).  A request starts when request
                bytes follow a response on the connection, so keep-alive clients
                fault too.  Decisions are drawn in request order, so the same seed
                and the same sequence of requests give the same faults.

``cut_downstream_after = 0`` is the "lost acknowledgement" fault: the whole
request reaches the server, which commits and answers, and the connection is
reset as soon as the first response byte arrives, so the client never sees it.

Every cut or refusal is reported as one human-readable line to ``on_event``
(called on the proxy's event loop thread) and kept in ``history``.  Connection
numbers, not ports, appear in these lines, so two runs with the same seed log
the same lines.

``FaultProxy`` lives on the caller's event loop; ``ProxyThread`` runs one on its
own loop thread for synchronous code (pytest, the Textual demo, chaos tests that
drive subprocesses).  ``python -m tui.faultproxy --target-port Q`` runs one by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import enum
import logging
import random
import socket
import struct
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["FaultMode", "FaultProxy", "ProxyThread"]

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
CONNECT_TIMEOUT = 5.0  # seconds to reach the target before resetting the client
FLAKY_MAX_CUT_OFFSET = 512  # a flaky cut happens within the first N bytes of a direction


class FaultMode(enum.StrEnum):
    PASS = "pass"
    DOWN = "down"
    BLACKHOLE = "blackhole"
    FLAKY = "flaky"


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close abruptly: SO_LINGER 0 makes the close send RST, like a dropped link."""
    if writer is None or writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _starts_request(conn: _Conn) -> bool:
    """Request bytes arrive on `conn` first, or after some of the previous request's response."""
    return conn.requests == 0 or conn.down > conn.down_at_request


class _Conn:
    """One client connection and, once reached, its server connection."""

    def __init__(self, number: int, client: asyncio.StreamWriter) -> None:
        self.number = number
        self.client = client
        self.server: asyncio.StreamWriter | None = None
        self.pipes: list[asyncio.Task[None]] = []
        self.handler: asyncio.Task[Any] | None = asyncio.current_task()
        self.up = 0  # request bytes forwarded on this connection
        self.down = 0  # response bytes forwarded on this connection
        self.cut_reason: str | None = None
        self.blackholed = False
        # FLAKY plan for the current request: extra delay per chunk and absolute cut points
        # (None: no cut); redrawn at every request.
        self.requests = 0
        self.up_at_request = 0  # request bytes forwarded when the current request began
        self.down_at_request = 0  # response bytes forwarded when the current request began
        self.flaky_delay = 0.0
        self.flaky_cut_up: int | None = None
        self.flaky_cut_down: int | None = None

    def cut(self, reason: str) -> None:
        self.cut_reason = reason
        _reset(self.client)
        _reset(self.server)
        me = asyncio.current_task()
        for task in self.pipes:
            if task is not me:
                task.cancel()


class FaultProxy:
    def __init__(
        self,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        target_host: str = "127.0.0.1",
        target_port: int = 0,
        *,
        seed: int | None = None,
        mode: FaultMode | str = FaultMode.PASS,
        down_style: str = "close",
        delay: float = 0.0,
        bandwidth: int | None = None,
        cut_upstream_after: int | None = None,
        cut_downstream_after: int | None = None,
        cut_once: bool = False,
        flaky_cut_probability: float = 0.3,
        flaky_max_delay: float = 0.5,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        if down_style not in ("close", "reset"):
            raise ValueError("down_style must be 'close' or 'reset'")
        if not target_port:
            raise ValueError("target_port is required")
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.target_host = target_host
        self.target_port = target_port
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self._rng = random.Random(self.seed)
        self._mode = FaultMode(mode)
        self.down_style = down_style
        # Faults read live at every chunk: change them at any time (on the loop thread).
        self.delay = delay
        self.bandwidth = bandwidth
        self.cut_upstream_after = cut_upstream_after
        self.cut_downstream_after = cut_downstream_after
        self.cut_once = cut_once  # reset the cut_* setting to None once it has fired
        self.flaky_cut_probability = flaky_cut_probability
        self.flaky_max_delay = flaky_max_delay
        self.on_event = on_event
        self.history: collections.deque[str] = collections.deque(maxlen=1000)
        # Counters.
        self.connections_total = 0
        self.connections_refused = 0
        self.cuts = 0
        self.bytes_up = 0
        self.bytes_down = 0

        self._port: int | None = None
        self._lsock: socket.socket | None = None
        self._server: asyncio.Server | None = None
        self._starting: set[asyncio.Task[None]] = set()
        self._conns: set[_Conn] = set()
        self._started = False

    def __repr__(self) -> str:
        return (
            f"FaultProxy({self.url if self._port else 'not started'} -> "
            f"{self.target_host}:{self.target_port}, mode={self._mode.value}, seed={self.seed})"
        )

    # ----------------------------------------------------------------- lifecycle
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FaultProxy not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.listen_host}:{self.port}"

    async def start(self) -> FaultProxy:
        if self._started:
            return self
        await self._open_listener()
        self._started = True
        self._emit(
            f"fault proxy {self.url} -> {self.target_host}:{self.target_port} mode={self._mode.value} seed={self.seed}"
        )
        if self._mode is FaultMode.DOWN and self.down_style == "close":
            self._close_listener()
        return self

    async def stop(self) -> None:
        self._close_listener()
        await asyncio.gather(*self._starting, return_exceptions=True)
        handlers = [c.handler for c in self._conns if c.handler is not None]
        for conn in list(self._conns):
            conn.cut("proxy stopped")
        if handlers:
            await asyncio.wait(handlers, timeout=CONNECT_TIMEOUT)
        self._started = False

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------------- mode
    @property
    def mode(self) -> FaultMode:
        return self._mode

    @mode.setter
    def mode(self, mode: FaultMode | str) -> None:
        self.set_mode(mode)

    def set_mode(self, mode: FaultMode | str) -> None:
        """Switch mode; call on the proxy's loop.  Returns with the port already
        listening (or closed) at the kernel level."""
        mode = FaultMode(mode)
        old = self._mode
        if mode is old:
            return
        if mode is not FaultMode.DOWN and self._started and self._lsock is None:
            self._open_listener()  # back up on the same port; raises OSError if taken
        self._mode = mode
        self._emit(f"mode {old.value} -> {mode.value}")
        if mode in (FaultMode.DOWN, FaultMode.BLACKHOLE):
            for conn in list(self._conns):
                self._cut(conn, f"(mode {mode.value})")
        if mode is FaultMode.DOWN and self.down_style == "close":
            self._close_listener()

    def _open_listener(self) -> asyncio.Task[None]:
        # Bound and listening synchronously, so set_mode() returns with the port up;
        # connections wait in the backlog until the server below starts accepting.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.listen_host, self._port or self.listen_port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._lsock = sock
        task = asyncio.get_running_loop().create_task(self._serve(sock))
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)
        return task

    async def _serve(self, sock: socket.socket) -> None:
        server = await asyncio.start_server(self._on_client, sock=sock)
        if self._lsock is sock:
            self._server = server
        else:  # went down (or stopped) while starting
            server.close()

    def _close_listener(self) -> None:
        self._lsock = None
        if self._server is not None:
            self._server.close()  # stops listening immediately
            self._server = None

    # ------------------------------------------------------------------- events
    def _emit(self, line: str) -> None:
        self.history.append(line)
        log.info("%s", line)
        if self.on_event is not None:
            try:
                self.on_event(line)
            except Exception:  # a broken log sink must not break the proxy
                log.exception("fault proxy on_event failed")

    def _cut(self, conn: _Conn, reason: str) -> None:
        if conn.cut_reason is None:
            self.cuts += 1
            self._emit(f"cut connection #{conn.number} {reason}")
        conn.cut(reason)

    # -------------------------------------------------------------- connections
    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_total += 1
        conn = _Conn(self.connections_total, writer)
        self._conns.add(conn)
        try:
            await self._handle(conn, reader)
        except (TimeoutError, OSError, asyncio.CancelledError):
            pass  # the connection is over either way
        except Exception:  # never let one connection's bug kill the proxy silently
            log.exception("fault proxy connection #%d failed", conn.number)
        finally:
            self._conns.discard(conn)
            for w in (conn.server, conn.client):
                if w is not None:
                    w.close()

    async def _handle(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        mode = self._mode
        if mode is FaultMode.DOWN:
            self.connections_refused += 1
            self._emit(f"refused connection #{conn.number} (proxy down)")
            _reset(conn.client)
            return
        if mode is FaultMode.BLACKHOLE:
            conn.blackholed = True
            while await reader.read(CHUNK):  # bounded by the client's lifetime
                pass
            return
        try:
            sreader, server = await asyncio.wait_for(
                asyncio.open_connection(self.target_host, self.target_port), CONNECT_TIMEOUT
            )
        except (TimeoutError, OSError) as exc:
            self.connections_refused += 1
            self._emit(f"refused connection #{conn.number} (server unreachable: {exc or 'timeout'})")
            _reset(conn.client)
            return
        conn.server = server
        for w in (conn.client, server):
            w.transport.set_write_buffer_limits(high=0)  # drain() waits until sent
        up = asyncio.create_task(self._pipe(conn, reader, server, upstream=True))
        down = asyncio.create_task(self._pipe(conn, sreader, conn.client, upstream=False))
        conn.pipes = [up, down]
        try:
            await asyncio.wait(conn.pipes, return_when=asyncio.FIRST_COMPLETED)
            if up.done() and not up.cancelled() and up.exception() is None and not down.done():
                await asyncio.wait([down])  # client half-closed: let the response finish
        finally:
            for task in conn.pipes:
                task.cancel()
            await asyncio.gather(*conn.pipes, return_exceptions=True)

    def _begin_request(self, conn: _Conn) -> bool:
        """A request starts on `conn`: draw its faults in FLAKY mode (else clear them).

        Returns True if the connection was cut before the request was forwarded.
        """
        conn.requests += 1
        conn.up_at_request = conn.up
        conn.down_at_request = conn.down
        conn.flaky_delay = 0.0
        conn.flaky_cut_up = conn.flaky_cut_down = None
        if self._mode is not FaultMode.FLAKY:
            return False
        rng = self._rng
        conn.flaky_delay = rng.uniform(0.0, self.flaky_max_delay)
        if rng.random() >= self.flaky_cut_probability:
            return False
        where = rng.choice(("connect", "request", "response"))
        after = rng.randrange(FLAKY_MAX_CUT_OFFSET)
        if where == "response" and rng.random() < 0.5:
            after = 0  # half the response cuts are lost acknowledgements
        if where == "connect":
            self._cut(conn, f"(flaky: before request {conn.requests})")
            return True
        if where == "request":
            conn.flaky_cut_up = conn.up + after
        else:
            conn.flaky_cut_down = conn.down + after
        return False

    async def _pipe(
        self,
        conn: _Conn,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        upstream: bool,
    ) -> None:
        while conn.cut_reason is None:  # bounded: ends at EOF, on a cut, or when cancelled
            data = await reader.read(CHUNK)
            if not data:
                if upstream and writer.can_write_eof():
                    writer.write_eof()  # pass the client's half-close on
                return
            if upstream and _starts_request(conn) and self._begin_request(conn):
                return
            setting, flaky = self._cut_settings(conn, upstream=upstream)
            limit = _min(setting, flaky)
            sent = conn.up if upstream else conn.down
            cut_at = limit if limit is not None and sent + len(data) >= limit else None
            if cut_at is not None:
                data = data[: max(0, cut_at - sent)]
            if data:
                await self._forward(conn, writer, data, upstream=upstream)
            if cut_at is not None:
                self._cut_at(conn, cut_at, setting, flaky, upstream=upstream)
                return

    def _cut_settings(self, conn: _Conn, *, upstream: bool) -> tuple[int | None, int | None]:
        """This direction's cut offsets: the configured one and the current request's flaky one."""
        if upstream:
            return self.cut_upstream_after, conn.flaky_cut_up
        return self.cut_downstream_after, conn.flaky_cut_down

    async def _forward(self, conn: _Conn, writer: asyncio.StreamWriter, data: bytes, *, upstream: bool) -> None:
        """Send one chunk on after the configured (and flaky) delay, and count it."""
        wait = self.delay + conn.flaky_delay
        if wait > 0:
            await asyncio.sleep(wait)
        await self._write(writer, data)
        if upstream:
            conn.up += len(data)
            self.bytes_up += len(data)
        else:
            conn.down += len(data)
            self.bytes_down += len(data)

    def _cut_at(self, conn: _Conn, limit: int, setting: int | None, flaky: int | None, *, upstream: bool) -> None:
        """Cut `conn` at `limit` bytes of this direction, saying which fault did it."""
        flaky_cut = limit == flaky and limit != setting
        start = (conn.up_at_request if upstream else conn.down_at_request) if flaky_cut else 0
        note = " (lost acknowledgement)" if not upstream and limit == start else ""
        who = f"flaky: request {conn.requests}, " if flaky_cut else ""
        kind = "request" if upstream else "response"
        self._cut(conn, f"({who}after {limit - start} {kind} bytes){note}")
        if self.cut_once and limit == setting:
            if upstream:
                self.cut_upstream_after = None
            else:
                self.cut_downstream_after = None

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        bandwidth = self.bandwidth
        if not bandwidth:
            writer.write(data)
            await writer.drain()
            return
        step = max(1, bandwidth // 10)  # ~10 slices per second
        for i in range(0, len(data), step):
            piece = data[i : i + step]
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(len(piece) / bandwidth)


class ProxyThread:
    """A FaultProxy on its own event loop thread, for synchronous callers.

    ``on_event`` is called on the proxy thread (in Textual, hop back with
    ``app.call_from_thread``).  Counters and ``history`` can be read from any
    thread; change settings with ``configure()`` / ``set_mode()``.
    """

    def __init__(self, target_host: str, target_port: int, **kw: Any) -> None:
        self.proxy = FaultProxy(target_host=target_host, target_port=target_port, **kw)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __getattr__(self, name: str) -> Any:  # port, url, seed, mode, counters, history
        if name == "proxy":
            raise AttributeError(name)
        return getattr(self.proxy, name)

    def start(self, timeout: float = 5.0) -> ProxyThread:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="faultproxy", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.proxy.start(), loop).result(timeout)
        except BaseException:
            self.stop(timeout)
            raise
        return self

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 5.0) -> Any:
        """Run ``fn(*args)`` on the proxy loop and return its result."""
        if self._loop is None:
            raise RuntimeError("ProxyThread not started")

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def set_mode(self, mode: FaultMode | str) -> None:
        self.call(self.proxy.set_mode, mode)

    def configure(self, **settings: Any) -> None:
        """Set fault attributes (delay=, bandwidth=, cut_downstream_after=, ...)."""
        for name in settings:
            if not hasattr(self.proxy, name) or name.startswith("_"):
                raise AttributeError(f"FaultProxy has no setting {name!r}")

        def apply() -> None:
            for name, value in settings.items():
                setattr(self.proxy, name, value)

        self.call(apply)

    def stop(self, timeout: float = 5.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.proxy.stop(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            self._loop = self._thread = None

    def __enter__(self) -> ProxyThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------- CLI
def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tui.faultproxy",
        description="TCP fault proxy. Type a mode (pass/down/blackhole/flaky) + Enter to switch.",
    )
    p.add_argument("--listen-host", default="127.0.0.1")
    p.add_argument("--listen-port", type=int, default=0)
    p.add_argument("--target-host", default="127.0.0.1")
    p.add_argument("--target-port", type=int, required=True)
    p.add_argument("--mode", choices=[m.value for m in FaultMode], default="pass")
    p.add_argument("--down-style", choices=["close", "reset"], default="close")
    p.add_argument("--seed", type=int)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--bandwidth", type=int)
    p.add_argument("--cut-upstream-after", type=int)
    p.add_argument("--cut-downstream-after", type=int)
    p.add_argument("--flaky-cut-probability", type=float, default=0.3)
    p.add_argument("--flaky-max-delay", type=float, default=0.5)
    return p.parse_args(argv)


async def _amain(args: argparse.Namespace) -> None:
    proxy = FaultProxy(
        args.listen_host,
        args.listen_port,
        args.target_host,
        args.target_port,
        seed=args.seed,
        mode=args.mode,
        down_style=args.down_style,
        delay=args.delay,
        bandwidth=args.bandwidth,
        cut_upstream_after=args.cut_upstream_after,
        cut_downstream_after=args.cut_downstream_after,
        flaky_cut_probability=args.flaky_cut_probability,
        flaky_max_delay=args.flaky_max_delay,
        on_event=lambda line: print(line, flush=True),
    )
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def on_stdin() -> None:
        line = sys.stdin.readline()
        if not line:
            loop.remove_reader(sys.stdin)
            return
        try:
            proxy.set_mode(line.strip())
        except (ValueError, OSError) as exc:
            print(f"cannot switch: {exc}", flush=True)

    await proxy.start()
    with contextlib.suppress(OSError, ValueError, NotImplementedError):
        loop.add_reader(sys.stdin, on_stdin)
    try:
        await done.wait()  # until Ctrl-C
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(sys.stdin)
        await proxy.stop()


def main(argv: list[str] | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_amain(_parse(argv)))


if __name__ == "__main__":
    main()
