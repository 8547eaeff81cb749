"""The fault proxy produces the faults of FAULTS.md, on 127.0.0.1 only, every wait bounded."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time

import httpx
import pytest

from tui.faultproxy import FaultMode, FaultProxy, ProxyThread

BODY = b"ok"
HEADERS = {"Host": "steadychat.test"}  # same request bytes whatever the proxy port
WAIT = 5.0  # upper bound for awaiting events (never a timing assertion)


class TinyHTTPServer:
    """One request per connection; records every complete request and raw byte counts."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.closed: asyncio.Queue[int] = asyncio.Queue()  # bytes received, per connection
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = b""
        try:
            while True:  # bounded by the connection
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buf += chunk
                head, sep, body = buf.partition(b"\r\n\r\n")
                if sep and len(body) >= _content_length(head):
                    self.requests.append(buf)
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n" + BODY)
                    await writer.drain()
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()
            self.closed.put_nowait(len(buf))


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.fixture
async def server():
    srv = TinyHTTPServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def proxy(server):
    events: list[str] = []
    p = FaultProxy(target_port=server.port, seed=7, on_event=events.append)
    p.events = events  # type: ignore[attr-defined]
    await p.start()
    yield p
    await p.stop()


async def get(url: str, timeout: float = WAIT, **kw) -> httpx.Response:
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await client.post(url + "/x", headers=HEADERS, **kw)


async def test_pass_forwards_and_counts(proxy, server):
    assert proxy.url == f"http://127.0.0.1:{proxy.port}"
    r = await get(proxy.url, content=b"hello")
    assert r.status_code == 200 and r.content == BODY
    assert server.requests[0].endswith(b"hello")
    assert proxy.connections_total == 1
    assert proxy.bytes_up == len(server.requests[0])
    assert proxy.bytes_down > len(BODY)
    assert proxy.cuts == 0 and proxy.connections_refused == 0


async def test_down_refuses_then_pass_reopens_same_port(proxy, server):
    port = proxy.port
    proxy.set_mode(FaultMode.DOWN)
    with pytest.raises(httpx.ConnectError):  # refused, not a ConnectTimeout
        await get(proxy.url, timeout=2.0)
    assert server.requests == []
    proxy.mode = "pass"
    assert proxy.port == port
    r = await get(proxy.url)
    assert r.status_code == 200
    assert any("pass -> down" in e for e in proxy.events)


async def test_down_cuts_existing_connections(proxy, server):
    proxy.set_mode(FaultMode.BLACKHOLE)
    pending = asyncio.create_task(get(proxy.url, timeout=WAIT))
    for _ in range(200):  # bounded: wait until the proxy holds the connection
        if proxy.connections_total:
            break
        await asyncio.sleep(0.01)
    proxy.set_mode(FaultMode.DOWN)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        await pending
    assert proxy.cuts == 1
    assert any("cut connection #1 (mode down)" in e for e in proxy.events)


async def test_down_reset_style_counts_attempts(server):
    async with FaultProxy(target_port=server.port, mode="down", down_style="reset") as p:
        for _ in range(3):
            with pytest.raises(httpx.TransportError):
                await get(p.url, timeout=2.0)
        assert p.connections_refused == 3
        assert server.requests == []


async def test_server_unreachable_resets_client(server):
    await server.stop()
    async with FaultProxy(target_port=server.port) as p:
        with pytest.raises(httpx.TransportError):
            await get(p.url, timeout=2.0)
        assert p.connections_refused == 1
    await server.start()  # let the fixture stop it cleanly


async def test_blackhole_times_out(proxy, server):
    proxy.set_mode(FaultMode.BLACKHOLE)
    with pytest.raises(httpx.ReadTimeout):
        await get(proxy.url, timeout=0.3)
    assert server.requests == []
    proxy.set_mode(FaultMode.PASS)
    assert (await get(proxy.url)).status_code == 200


async def test_lost_acknowledgement(proxy, server):
    proxy.cut_downstream_after = 0
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        await get(proxy.url, content=b'{"seq": 1}')
    assert len(server.requests) == 1 and server.requests[0].endswith(b'{"seq": 1}')
    assert proxy.bytes_down == 0
    assert any("lost acknowledgement" in e for e in proxy.events)
    proxy.cut_downstream_after = None
    assert (await get(proxy.url, content=b'{"seq": 1}')).status_code == 200
    assert len(server.requests) == 2


async def test_cut_once_fires_a_single_time(proxy, server):
    proxy.cut_downstream_after = 0
    proxy.cut_once = True
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        await get(proxy.url)
    assert proxy.cut_downstream_after is None
    assert (await get(proxy.url)).status_code == 200


async def test_cut_upstream_after(proxy, server):
    proxy.cut_upstream_after = 10
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)):
        await get(proxy.url, content=b"x" * 1000)
    assert await asyncio.wait_for(server.closed.get(), WAIT) == 10
    assert server.requests == []
    assert proxy.bytes_up == 10 and proxy.cuts == 1


async def test_delay_adds_latency(proxy, server):
    proxy.delay = 0.2
    start = time.monotonic()
    assert (await get(proxy.url)).status_code == 200
    assert time.monotonic() - start >= 0.35  # one chunk each way, 0.2 s each


async def test_bandwidth_limits_throughput(proxy, server):
    proxy.bandwidth = 2000  # bytes per second
    start = time.monotonic()
    assert (await get(proxy.url, content=b"x" * 1000)).status_code == 200
    assert time.monotonic() - start >= 0.45  # >1000 request bytes at 2000 B/s


async def _flaky_run(server: TinyHTTPServer, seed: int) -> tuple[list[str], list[str]]:
    events: list[str] = []
    outcomes: list[str] = []
    async with FaultProxy(
        target_port=server.port,
        seed=seed,
        mode="flaky",
        flaky_cut_probability=0.5,
        flaky_max_delay=0.01,
        on_event=events.append,
    ) as p:
        assert p.seed == seed
        for _ in range(16):
            try:
                r = await get(p.url, timeout=2.0, content=b"y" * 300)
                outcomes.append(str(r.status_code))
            except httpx.TransportError:
                outcomes.append("error")
    return [e for e in events if "seed=" not in e], outcomes


async def test_flaky_is_reproducible_with_a_seed(server):
    events1, outcomes1 = await _flaky_run(server, seed=1234)
    events2, outcomes2 = await _flaky_run(server, seed=1234)
    assert events1 == events2 and outcomes1 == outcomes2
    assert "200" in outcomes1 and "error" in outcomes1
    assert all(e.startswith("cut connection #") for e in events1)


def test_seed_is_chosen_and_exposed_when_not_given():
    p = FaultProxy(target_port=1)
    assert isinstance(p.seed, int) and f"seed={p.seed}" in repr(p)


# ----------------------------------------------------------------- sync callers
class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def thread_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()
    t.join(WAIT)


def test_proxy_thread_from_sync_code(thread_server):
    events: list[str] = []
    pt = ProxyThread("127.0.0.1", thread_server, on_event=events.append).start()
    try:
        with httpx.Client(timeout=2.0) as client:
            assert client.get(pt.url).content == BODY
        pt.set_mode(FaultMode.DOWN)
        assert pt.mode is FaultMode.DOWN
        with httpx.Client(timeout=2.0) as client:
            with pytest.raises(httpx.ConnectError):
                client.get(pt.url)
        pt.set_mode("pass")
        pt.configure(delay=0.05)
        with httpx.Client(timeout=2.0) as client:
            assert client.get(pt.url).status_code == 200
        assert pt.connections_total == 2
        with pytest.raises(AttributeError):
            pt.configure(no_such_setting=1)
    finally:
        pt.stop()
    assert not any(t.name == "faultproxy" and t.is_alive() for t in threading.enumerate())
    assert any("down" in e for e in events)


class KeepAliveServer:
    """Answers every request on a connection (HTTP/1.1 keep-alive), like the sync server."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> KeepAliveServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        buf = b""
        try:
            while chunk := await reader.read(65536):  # bounded by the connection
                buf += chunk
                while True:
                    head, sep, rest = buf.partition(b"\r\n\r\n")
                    if not sep or len(rest) < _content_length(head):
                        break
                    buf = rest[_content_length(head) :]
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" + BODY)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


async def test_flaky_faults_requests_on_a_kept_alive_connection() -> None:
    # F3 in the demo: the sync client keeps one connection open, so faults drawn per connection
    # never fired. They are drawn per request: switching an open connection to flaky faults it.
    events: list[str] = []
    async with (
        KeepAliveServer() as server,
        FaultProxy(
            target_port=server.port, seed=7, flaky_cut_probability=0.5, flaky_max_delay=0.0, on_event=events.append
        ) as proxy,
    ):
        outcomes: list[str] = []
        async with httpx.AsyncClient(timeout=WAIT) as client:
            first = await client.post(proxy.url, content=b"z" * 300)
            assert first.status_code == 200
            proxy.set_mode(FaultMode.FLAKY)
            for _ in range(20):
                try:
                    outcomes.append(str((await client.post(proxy.url, content=b"z" * 300)).status_code))
                except httpx.TransportError:
                    outcomes.append("error")
    cuts = [e for e in events if e.startswith("cut connection")]
    assert "error" in outcomes and "200" in outcomes
    assert len(cuts) == outcomes.count("error")  # every cut is reported, one line each
    assert all("(flaky: " in cut and "request" in cut for cut in cuts)
    assert server.connections < 1 + len(outcomes)  # connections were reused between cuts
