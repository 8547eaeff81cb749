"""A lean HTTP/1.1 load generator: each virtual client holds one keep-alive connection and sends
prebuilt requests one after another, timing each from write to the last byte of the answer.

A bare asyncio Protocol on uvloop, not httpx nor even asyncio streams: on this 2-core machine the
generator shares the CPU with the server (an httpx client costs several times the server's own
work per request; streams with `wait_for` cost a task per request).
Every count is fixed in advance (no duration loop); every read has a timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import cast

import orjson

READ_TIMEOUT_S = 30.0


@dataclass
class ClientPlan:
    """One virtual client: its requests in order and the status each must answer."""

    requests: list[bytes]
    expected: list[int]
    latencies_ns: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    last_ack: int = 0


def request(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def session_plan(sid: str, token: str, posts: int, per_post: int, text: str) -> ClientPlan:
    """PUT the session, then `posts` POSTs of `per_post` contiguous events."""
    meta = {"flow_id": "bench", "flow_hash": "h" * 64, "device_id": "d" * 32, "created_at": "2026-01-01T00:00:00Z"}
    requests = [request("PUT", f"/v1/sessions/{sid}", token, orjson.dumps(meta))]
    expected = [201]
    seq = 0
    for _ in range(posts):
        events = []
        for _ in range(per_post):
            seq += 1
            events.append(
                {
                    "seq": seq,
                    "type": "message",
                    "ts": "2026-01-01T00:00:00.000Z",
                    "data": {"kind": "text", "text": f"{text} {seq}", "role": "bot"},
                }
            )
        requests.append(request("POST", f"/v1/sessions/{sid}/events", token, orjson.dumps({"events": events})))
        expected.append(200)
    return ClientPlan(requests, expected)


class _Connection(asyncio.Protocol):
    """One keep-alive connection: answers are parsed from the bytes as they arrive (status line
    and Content-Length only) and handed to the one request waiting."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower()
        at = head.find(b"content-length:")
        line_end = head.find(b"\r\n", at) if at >= 0 else -1
        length = int(head[at + 15 : line_end if line_end >= 0 else len(head)]) if at >= 0 else 0
        total = end + 4 + length
        if len(buffer) < total:
            return
        answer = (int(head[9:12]), bytes(buffer[end + 4 : total]))
        del buffer[:total]
        self.waiter = None
        waiter.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection closed: {exc}"))

    async def ask(self, data: bytes) -> tuple[int, bytes]:
        """Send one request and wait (at most READ_TIMEOUT_S) for its answer."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        self.waiter = waiter
        self.transport.write(data)
        timer = loop.call_later(READ_TIMEOUT_S, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()


def _expire(waiter: asyncio.Future[tuple[int, bytes]]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"no answer within {READ_TIMEOUT_S} s"))


async def _run_client(port: int, plan: ClientPlan, pace_s: float, offset_s: float, start: asyncio.Event) -> None:
    """Send the plan's requests in order. Closed loop (`pace_s` 0): each as soon as the last is
    answered. Paced: the k-th POST is due at `offset_s + k * pace_s` after the start, and its
    latency counts from when it was due, so a late answer that delays the next send is not
    hidden (no coordinated omission)."""
    loop = asyncio.get_running_loop()
    transport, connection = await loop.create_connection(_Connection, "127.0.0.1", port)
    try:
        await start.wait()
        began = time.perf_counter_ns()
        for i, (data, want) in enumerate(zip(plan.requests, plan.expected, strict=True)):
            t0 = time.perf_counter_ns()
            if pace_s and i:
                due = began + int((offset_s + (i - 1) * pace_s) * 1e9)
                if due > t0:
                    await asyncio.sleep((due - t0) / 1e9)
                t0 = due
            status, body = await connection.ask(data)
            if i:  # the PUT is set-up, not a timed POST
                plan.latencies_ns.append(time.perf_counter_ns() - t0)
            if status != want:
                plan.failures.append(f"{status} {body[:120]!r}")
                return
            if want == 200:
                plan.last_ack = orjson.loads(body)["acked_seq"]
    finally:
        transport.close()


async def run_plans(port: int, plans: list[ClientPlan], rate: float = 0.0) -> float:
    """Run every client at once (connections opened first); returns the wall seconds of the load.
    `rate` > 0 paces the POSTs at that many per second in all, spread evenly over the clients."""
    start = asyncio.Event()
    pace_s = len(plans) / rate if rate else 0.0
    tasks = [
        asyncio.create_task(_run_client(port, plan, pace_s, pace_s * i / len(plans), start))
        for i, plan in enumerate(plans)
    ]
    await asyncio.sleep(0.2)  # let every connection open before the clock starts
    t0 = time.perf_counter()
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    seconds = time.perf_counter() - t0
    for plan, result in zip(plans, results, strict=True):
        if isinstance(result, BaseException):
            plan.failures.append(f"{type(result).__name__}: {result}")
    return seconds


def run(port: int, plans: list[ClientPlan], rate: float = 0.0) -> float:
    """`run_plans` on a fresh uvloop (asyncio's loop where uvloop is missing)."""
    try:
        import uvloop

        return uvloop.run(run_plans(port, plans, rate))
    except ImportError:
        return asyncio.run(run_plans(port, plans, rate))
