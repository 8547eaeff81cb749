"""Write the README's screenshots (SVG + PNG) from the real app at 100x30.

    python scripts/screenshots.py [--out screenshots]

Scenes: the start of the demo flow, a choice, offline with queued steps (a real sync server
behind the fault proxy, cut as F2 does), back online, and the sessions screen. The clock and
session ids are fixed so the pictures only change when the UI does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cairosvg
from textual.pilot import Pilot

from tui.app.app import SteadyChatApp
from tui.app.catalog import SessionCatalog
from tui.app.launch import DemoNetwork
from tui.app.testing import SEED, build_app, fixed_clock, session_ids
from tui.app.widgets.connection_indicator import ConnectionIndicator
from tui.faultproxy import ProxyThread
from tui.flow.loader import load_flow
from tui.paths import bundled_flows_dir
from tui.server.run import ServerThread
from tui.store import Store
from tui.sync.client import SyncClient

SIZE = (100, 30)
DEMO = bundled_flows_dir() / "demo.yaml"
TOKEN = "screenshots-token"
# Answers up to the single choice "Pick a topic" of flows/demo.yaml.
TO_THE_CHOICE = ["Ada", "ada@example.com", "36", "https://example.com", "+44 20 7946 0958", "1990-07-14"]


def for_cairosvg(svg: str) -> str:
    """The SVG as cairosvg can draw it: a monospace font it can find.

    cairosvg takes only the first family of `font-family: Fira Code, monospace`; without Fira
    Code installed, fontconfig falls back to a proportional font, so every run of text gets
    narrower than its cell grid and bold words look followed by odd gaps. Asking for the
    generic `monospace` family (DejaVu Sans Mono on most Linux machines), spaced to the cell
    width, keeps the grid.
    The SVG itself keeps Fira Code with the web-font fallback, for browsers.
    """
    # DejaVu Sans Mono advances 0.602 em (12.04 px at 20 px); the grid is 12.2 px a cell.
    return svg.replace("font-family: Fira Code, monospace;", "font-family: monospace;\n        letter-spacing: 0.16px;")


def save(app: SteadyChatApp, out: Path, name: str) -> None:
    svg = app.export_screenshot(title="SteadyChat")
    (out / f"{name}.svg").write_text(svg, encoding="utf-8")
    cairosvg.svg2png(bytestring=for_cairosvg(svg).encode(), write_to=str(out / f"{name}.png"))
    print(f"wrote {out / name}.svg and .png")


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            app = pilot.app
            words = [w.words for w in app.screen.query(ConnectionIndicator)]
            raise SystemExit(f"screenshots: the app did not reach the expected state in time ({words})")
        await pilot.pause(0.05)


async def type_answer(pilot: Pilot, app: SteadyChatApp, text: str) -> None:
    before = app.session.last_seq
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: app.session.last_seq > before)
    await pilot.pause(0.2)


async def scene_start_and_choice(tmp: Path, out: Path) -> None:
    store = Store.open(tmp / "local.db")
    app = build_app(store, DEMO)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.pause(0.3)
            save(app, out, "start")
            session = app.session
            for text in TO_THE_CHOICE:
                session.answer(text)
            session.answer("Tea, Coffee")  # the multiple choice
            await app.chat.show_session(session)
            await wait_for(
                pilot, lambda: app.session.waiting_input is not None and app.session.waiting_input.kind == "choice"
            )
            await pilot.pause(0.3)
            await pilot.press("down")
            await pilot.pause(0.2)
            save(app, out, "choice")
    finally:
        app.session.close()
        store.close()


async def scene_offline_online_sessions(tmp: Path, out: Path) -> None:
    store = Store.open(tmp / "sync.db")
    earlier = SessionCatalog(store, clock=fixed_clock, seed=SEED, ids=session_ids("a11c"))
    for name in ("onboarding.yaml", "support.yaml"):
        earlier.start(load_flow(bundled_flows_dir() / name)).close()
    server = ServerThread(tmp / "server.db", [TOKEN]).start()
    proxy = ProxyThread("127.0.0.1", server.port).start()
    network = DemoNetwork(proxy)
    proxy.proxy.on_event = network.proxy_event

    def client(on_status, on_log):
        return SyncClient(store, proxy.url, TOKEN, heartbeat=1.0, on_status=on_status, on_log=on_log)

    app = build_app(store, DEMO, sync=client, demo=network, show_sync_log=True, monotonic=time.monotonic)
    indicator = lambda: app.chat.query_one(ConnectionIndicator)  # noqa: E731
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await wait_for(pilot, lambda: indicator().has_class("-online"))
            await pilot.pause(0.3)
            await type_answer(pilot, app, "Ada")
            await wait_for(pilot, lambda: store.total_pending() == 0)
            await pilot.press("f2")
            await wait_for(pilot, lambda: indicator().has_class("-offline"))
            for text in ("ada@example.com", "36"):
                await type_answer(pilot, app, text)
            await wait_for(pilot, lambda: f"{store.total_pending()} queued" in indicator().words)
            app.clear_notifications()
            await pilot.pause(0.3)
            save(app, out, "offline")

            await pilot.press("f2")
            await wait_for(pilot, lambda: indicator().has_class("-online") and store.total_pending() == 0)
            await pilot.pause(0.5)
            save(app, out, "online")

            app.clear_notifications()
            await pilot.press("ctrl+s")
            await pilot.pause(0.5)
            save(app, out, "sessions")
    finally:
        app.session.close()
        proxy.stop()
        server.stop()
        store.close()


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        await scene_start_and_choice(tmp, out)
        await scene_offline_online_sessions(tmp, out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "screenshots")
    asyncio.run(main(parser.parse_args().out))
