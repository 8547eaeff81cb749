"""Build the app deterministically, for tests, snapshots and the screenshot script.

A fixed clock, fixed session ids and seed, no typing pause, no cursor blink, no animation:
the same app gives the same picture on every machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tui.app.app import AppSettings, SteadyChatApp
from tui.app.catalog import SessionCatalog
from tui.flow.loader import load_flow
from tui.flow.model import Flow
from tui.session import Session
from tui.store import Store

FIXED_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FIXED_MONOTONIC = 1000.0
SEED = 7


def fixed_clock() -> datetime:
    return FIXED_NOW


def session_ids(prefix: str = "5e55") -> Iterator[str]:
    """`5e550001…`, `5e550002…`, …: uuid-hex-shaped ids, distinct in their first 8 characters."""
    n = 0
    while True:
        n += 1
        yield f"{prefix}{n:04x}".ljust(32, "0")


def build_app(
    store: Store,
    flow: Flow | Path | str | None = None,
    *,
    session: Session | None = None,
    sessions: SessionCatalog | None = None,
    **settings: Any,
) -> SteadyChatApp:
    """An app on `store`, showing `session` or a new session of `flow`, deterministic."""
    sessions = sessions or SessionCatalog(store, clock=fixed_clock, seed=SEED, ids=session_ids())
    if session is None:
        if flow is None:
            raise ValueError("build_app needs a flow or a session")
        loaded = flow if isinstance(flow, Flow) else load_flow(Path(flow))
        session = sessions.start(loaded)
    defaults: dict[str, Any] = {
        "clock": fixed_clock,
        "monotonic": lambda: FIXED_MONOTONIC,
        "typing_delay": 0.0,
        "cursor_blink": False,
        "animation_level": "none",
    }
    defaults.update(settings)
    return SteadyChatApp(AppSettings(session=session, sessions=sessions, **defaults))


class FakeSync:
    """A stand-in sync client: statuses and log lines are fed by the test, nothing is sent."""

    def __init__(self, on_status: Any, on_log: Any) -> None:
        import asyncio

        self.on_status = on_status
        self.on_log = on_log
        self.kicks: list[str | None] = []
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        await self._stopped.wait()

    def kick(self, sid: str | None = None) -> None:
        self.kicks.append(sid)

    def stop(self) -> None:
        self._stopped.set()


class FakeNetwork:
    """A stand-in for the demo's fault proxy switches."""

    def __init__(self) -> None:
        self.down = False
        self.flaky = False

    def attach_log(self, sink: Any) -> None:
        pass

    def toggle_network(self) -> str:
        self.down = not self.down
        return "network cut (F2): answers queue locally" if self.down else "network restored (F2)"

    def toggle_flaky(self) -> str:
        self.flaky = not self.flaky
        return "network flaky (F3): some requests fail" if self.flaky else "network steady again (F3)"
