"""A lean HTTP/1.1 load generator: each virtual client holds one keep-alive connection and sends
prebuilt requests one after another, timing each from write to the last byte of the answer.

Raw asyncio streams on uvloop, not httpx: on this 2-core machine the generator shares the CPU
with the server, and an httpx client costs several times the server's own work per request.
Every count is fixed in advance (no duration loop); every read has a timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

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


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"content-length:")
    length = int(lower[at + 15 : lower.find(b"\r\n", at)]) if at >= 0 else 0
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _run_client(port: int, plan: ClientPlan, think_s: float, start: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await start.wait()
        for i, (data, want) in enumerate(zip(plan.requests, plan.expected, strict=True)):
            t0 = time.perf_counter_ns()
            writer.write(data)
            status, body = await asyncio.wait_for(_read_answer(reader), READ_TIMEOUT_S)
            if i:  # the PUT is set-up, not a timed POST
                plan.latencies_ns.append(time.perf_counter_ns() - t0)
            if status != want:
                plan.failures.append(f"{status} {body[:120]!r}")
                return
            if want == 200:
                plan.last_ack = orjson.loads(body)["acked_seq"]
            if think_s:
                await asyncio.sleep(think_s)
    finally:
        writer.close()


async def run_plans(port: int, plans: list[ClientPlan], think_s: float = 0.0) -> float:
    """Run every client at once (connections opened first); returns the wall seconds of the load."""
    start = asyncio.Event()
    tasks = [asyncio.create_task(_run_client(port, plan, think_s, start)) for plan in plans]
    await asyncio.sleep(0.2)  # let every connection open before the clock starts
    t0 = time.perf_counter()
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    seconds = time.perf_counter() - t0
    for plan, result in zip(plans, results, strict=True):
        if isinstance(result, BaseException):
            plan.failures.append(f"{type(result).__name__}: {result}")
    return seconds


def run(port: int, plans: list[ClientPlan], think_s: float = 0.0) -> float:
    """`run_plans` on a fresh uvloop (asyncio's loop where uvloop is missing)."""
    try:
        import uvloop

        return uvloop.run(run_plans(port, plans, think_s))
    except ImportError:
        return asyncio.run(run_plans(port, plans, think_s))
