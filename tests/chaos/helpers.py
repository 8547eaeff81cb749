"""Shared pieces of the chaos suite: seeds, bounded waits, real servers, a scripting ASGI wrapper.

Everything listens on 127.0.0.1 with port 0 (a restarted server keeps the port it was given,
so a client's URL stays valid). Every wait is a bounded poll on a condition. Anything random
draws from a seed that is printed and can be replayed with STEADYCHAT_CHAOS_SEED.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from tests.servers import ServerProcess  # noqa: F401 - re-exported for the chaos fixtures
from tui.flow.loader import load_flow
from tui.server.app import create_app
from tui.session import Session
from tui.store import Store
from tui.sync.status import SyncStatus

REPO = Path(__file__).resolve().parents[2]
TOKEN_A = "chaos-token-alpha-0123456789"
TOKEN_B = "chaos-token-beta-9876543210"
TOKENS = [TOKEN_A, TOKEN_B]

LOOP_FLOW = """
name: Loop
id: loop
variables: {count: "0"}
groups:
  Ask:
    - say: "Tell me something ({{count}})"
    - ask: thing
    - set: {count: "{{count}} + 1"}
    - goto: Ask
"""


# --------------------------------------------------------------------------- seeds and waits
def chaos_seed(name: str) -> int:
    """The seed of one test: STEADYCHAT_CHAOS_SEED if set, else a fresh one; always printed."""
    text = os.environ.get("STEADYCHAT_CHAOS_SEED")
    seed = int(text) if text else random.randrange(1 << 30)
    print(f"[{name}] chaos seed {seed}; replay with STEADYCHAT_CHAOS_SEED={seed}")
    return seed


def wait_until(cond: Callable[[], Any], timeout: float, interval: float = 0.02, what: str = "") -> Any:
    """Poll `cond` until it is truthy (returned) or `timeout` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:  # bounded by the deadline
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g}s: {what or cond}")
        time.sleep(interval)


class Recorder:
    """Statuses (with their monotonic time) reported by a sync client on its own thread."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, SyncStatus]] = []
        self.logs: list[tuple[float, str]] = []
        self._cond = threading.Condition()

    def __call__(self, status: SyncStatus) -> None:
        with self._cond:
            self.seen.append((time.monotonic(), status))
            self._cond.notify_all()

    def log(self, line: str) -> None:
        with self._cond:
            self.logs.append((time.monotonic(), line))

    def mark(self) -> int:
        with self._cond:
            return len(self.seen)

    @property
    def last(self) -> SyncStatus | None:
        with self._cond:
            return self.seen[-1][1] if self.seen else None

    def now_words(self) -> str:
        """The words of the latest status ("" before the first one)."""
        last = self.last
        return "" if last is None else last.words()

    def log_lines(self) -> list[str]:
        with self._cond:
            return [line for _, line in self.logs]

    def words(self) -> list[str]:
        with self._cond:
            return [s.words() for _, s in self.seen]

    def wait_for(
        self, predicate: Callable[[SyncStatus], bool], since: int = 0, timeout: float = 30.0
    ) -> tuple[float, SyncStatus]:
        """The first status since `since` that matches, waiting at most `timeout` seconds."""
        with self._cond:
            found: list[tuple[float, SyncStatus]] = []

            def match() -> bool:
                found[:] = [(t, s) for t, s in self.seen[since:] if predicate(s)]
                return bool(found)

            assert self._cond.wait_for(match, timeout), f"no such status in {[s.words() for _, s in self.seen]}"
            return found[0]


# --------------------------------------------------------------------------- flows and sessions
def start_session(store: Store, flow_path: Path, **kw: Any) -> Session:
    return Session.start(store, load_flow(flow_path), **kw)


# --------------------------------------------------------------------------- servers
class AppServer:
    """The real sync app (optionally wrapped by an ASGI middleware) under uvicorn on a thread.

    `stop()` then `start()` serves the same db on the same port.
    """

    def __init__(
        self, db_path: Path | str, tokens: list[str] = TOKENS, wrap: Callable[[Any], Any] | None = None
    ) -> None:
        self.db_path = db_path
        self.tokens = list(tokens)
        self.wrap = wrap
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, tokens: list[str] | None = None, timeout: float = 10.0) -> AppServer:
        if tokens is not None:
            self.tokens = list(tokens)
        app: Any = create_app(self.db_path, self.tokens)
        if self.wrap is not None:
            app = self.wrap(app)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            access_log=False,
            log_level="critical",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = self._thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
        thread.start()
        wait_until(lambda: server.started or not thread.is_alive(), timeout, what="server start")
        assert server.started, "server did not start"
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self._server = self._thread = None


# --------------------------------------------------------------------------- a scripting ASGI wrapper
@dataclass
class Seen:
    """One request that reached the wrapper, with what it was answered."""

    mono: float
    wall: float
    method: str
    path: str
    first: int | None = None
    last: int | None = None
    count: int = 0
    sessions: int = 0  # entries of a POST /v1/sync (0: a per-session request)
    size: int = 0
    status: int = 0
    fault: str = ""
    applied: bool = False  # the real app finished with it (for `after_app` faults)


@dataclass
class Fault:
    """A scripted answer: `status`, `headers`, `body`; `after_app` runs the real app first."""

    name: str
    status: int
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    after_app: bool = False
    headers_fn: Callable[[], list[tuple[bytes, bytes]]] | None = None
    stall: float = 0.0  # seconds to withhold the answer (after the app ran, if `after_app`)


class Scripted:
    """ASGI middleware: records every request; answers matching ones from a script of faults."""

    def __init__(self, app: Any, match: Callable[[str, str], bool] = lambda m, p: m == "POST") -> None:
        self.app = app
        self.match = match
        self.script: list[Fault] = []
        self.always: Fault | None = None  # answers every matching request while set
        self.seen: list[Seen] = []
        # `hold_if(seen)` true: the request waits (before the app sees it) until `release` is set,
        # so a test can freeze a drain at a point of its choosing instead of racing it.
        self.hold_if: Callable[[Seen], bool] | None = None
        self.release = threading.Event()
        self.held: list[Seen] = []
        self._lock = threading.Lock()

    def push(self, *faults: Fault) -> None:
        with self._lock:
            self.script.extend(faults)

    def requests(self, method: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if method is None or s.method == method]

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:  # bounded by the request body
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        seen = Seen(time.monotonic(), time.time(), scope["method"], scope["path"], size=len(body))
        if scope["method"] == "POST":
            try:
                parsed = json.loads(body)
                if "sessions" in parsed:  # POST /v1/sync: seqs of its first session's entry
                    seen.sessions = len(parsed["sessions"])
                    parsed = parsed["sessions"][0]
                events = parsed["events"]
                seen.first, seen.last, seen.count = events[0]["seq"], events[-1]["seq"], len(events)
            except (ValueError, KeyError, IndexError, TypeError):
                pass
        with self._lock:
            fault = None
            if self.match(scope["method"], scope["path"]):
                fault = self.script.pop(0) if self.script else self.always
            self.seen.append(seen)
            hold = self.hold_if is not None and self.hold_if(seen)
            if hold:
                self.held.append(seen)
        if hold:  # polled on the loop (no thread), so stopping the server cancels the held request
            for _ in range(6000):  # bounded: 60 s
                if self.release.is_set():
                    break
                await asyncio.sleep(0.01)

        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        if fault is None:

            async def record(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    seen.status = message["status"]
                await send(message)

            await self.app(scope, replay, record)
            return
        seen.fault = fault.name
        if fault.after_app:

            async def swallow(message: dict[str, Any]) -> None:
                return None

            await self.app(scope, replay, swallow)
            seen.applied = True
        if fault.stall:
            await asyncio.sleep(fault.stall)
        headers = list(fault.headers) + (fault.headers_fn() if fault.headers_fn else [])
        headers.append((b"content-length", str(len(fault.body)).encode()))
        seen.status = fault.status
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": fault.body})


# --------------------------------------------------------------------------- sync clients
def follow(session: Session, sync: Any) -> None:
    """Kick the sync client after every committed step, as `play` and the TUI do."""
    session.listeners.append(lambda _session, _events: sync.kick(_session.id))


def scripted_server(
    app_server: Callable[..., AppServer], tokens: list[str] = TOKENS, **kw: Any
) -> tuple[AppServer, Scripted]:
    """A real server behind a `Scripted` wrapper; returns both. The same wrapper (script and
    record) stays in front across `stop()`/`start()` of the server."""
    scripted = Scripted(None, **kw)

    def wrap(app: Any) -> Scripted:
        scripted.app = app
        return scripted

    return app_server(wrap=wrap, tokens=tokens), scripted


def add_messages(store: Store, sid: str, count: int, text: str = "imported", chunk: int = 500) -> int:
    """Append `count` bot messages to session `sid` (an imported long history); returns last seq."""
    from tui.steps import StoredEvent

    last = store.last_seq(sid)
    end = last + count
    while last < end:  # bounded: +chunk per round
        upto = min(last + chunk, end)
        store.append_events(
            sid,
            [
                StoredEvent(
                    seq=seq,
                    type="message",
                    ts="2026-01-01T00:00:00.000Z",
                    data={"kind": "text", "text": f"{text} {seq}"},
                )
                for seq in range(last + 1, upto + 1)
            ],
        )
        last = upto
    return last
