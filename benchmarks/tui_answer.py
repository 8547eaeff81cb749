"""One answer in the TUI: Enter → the next input focused, in CPU time, in a headless pilot.

Ours: the real app (local-only, no typing pause) on the looping bench flow; each answer commits
a step, appends the user's bubble and the bot's messages and shows the next input. The floor: a
minimal Textual app in the same run that does the least a chat UI can do per answer (mount two
Static bubbles, scroll to the end, clear its Input). CPU time (`time.process_time`), so a loaded
machine slows both alike; `tui_answer_vs_textual_floor` is ours / the floor, goal ≤ 2.0.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import Sizes, p50, ratio

WARMUP = 3
ANSWERS = {"tiny": (3, 1), "quick": (30, 3), "full": (60, 5)}
"""Per size mode: (answers timed per run, runs of each app)."""


async def _until(pilot: Any, condition: Callable[[], bool], limit: int = 2000) -> None:
    """Let the app run until `condition()` holds (bounded: a benchmark never hangs)."""
    for _ in range(limit):
        if condition():
            return
        await pilot.pause(0)
    raise RuntimeError("the app did not reach the expected state")


async def _timed_answers(pilot: Any, answers: int, mark: Callable[[], Any], done: Callable[[Any], bool]) -> list[float]:
    """Fill in an answer (untimed), then time Enter until `done(mark before Enter)` holds and the
    app is idle again.

    The answer goes into the focused Input as its value, not key by key: typing is not timed,
    and the pilot waits for the app to go idle twice per key (at least 40 ms of sleeping each),
    which made typing most of this benchmark's wall time. One idle wait after it still lets the
    Input's Changed message settle before the clock starts."""
    from textual.widgets import Input

    timings: list[float] = []
    for i in range(WARMUP + answers):
        field = pilot.app.focused
        assert isinstance(field, Input), f"no focused input before answer {i}"
        field.value = str(i)
        await pilot.pause()
        before = mark()
        started = time.process_time()
        await pilot.press("enter")
        await _until(pilot, partial(done, before))
        await pilot.pause()
        if i >= WARMUP:
            timings.append((time.process_time() - started) * 1000)
    return timings


async def _ours(folder: Path, flow_path: Path, answers: int) -> list[float]:
    from textual.widgets import Input

    from tui.app.testing import build_app
    from tui.store import Store

    store = Store.open(folder / "tui-answer.db")
    app = build_app(store, flow_path)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await _until(pilot, lambda: isinstance(app.focused, Input))
            session = app.session

            area = app.chat.answer_area

            def mark() -> Any:
                return area.ref

            def done(before: Any) -> bool:
                # the next input is shown with its own ref and has the focus
                return area.ref != before and area.ref == session.waiting_ref and app.focused is area.live

            return await _timed_answers(pilot, answers, mark, done)
    finally:
        app.session.close()
        store.close()


def _floor_app() -> Any:
    from textual.app import App, ComposeResult
    from textual.containers import VerticalScroll
    from textual.widgets import Input, Static

    class Floor(App[None]):
        """Mounts two Static bubbles, scrolls to the end and clears its Input per answer."""

        AUTO_FOCUS = "#answer"
        answers = 0

        def compose(self) -> ComposeResult:
            yield VerticalScroll(id="log")
            yield Input(id="answer")

        def on_input_submitted(self, event: Input.Submitted) -> None:
            log = self.query_one("#log", VerticalScroll)
            log.mount(Static(event.value), Static(f"You said: {event.value}. Thanks, noted."))
            log.scroll_end(animate=False)
            event.input.clear()
            self.answers += 1

    return Floor()


async def _floor(answers: int) -> list[float]:
    from textual.widgets import Input

    app = _floor_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await _until(pilot, lambda: isinstance(app.focused, Input))
        return await _timed_answers(
            pilot, answers, lambda: app.answers, lambda before: app.answers > before and app.focused.value == ""
        )


def measure_tui_answer(sizes: Sizes, folder: Path, flow_path: Path) -> dict[str, Any]:
    """`tui_answer_ms_p50` and `tui_answer_vs_textual_floor` (interleaved runs, best p50 each)."""
    answers, reps = ANSWERS.get(sizes.name, ANSWERS["quick"])
    ours: list[float] = []
    floor: list[float] = []
    for rep in range(reps):
        run_dir = folder / f"rep{rep}"
        run_dir.mkdir()
        floor.append(p50(asyncio.run(_floor(answers))))
        ours.append(p50(asyncio.run(_ours(run_dir, flow_path, answers))))
    ours_ms, floor_ms = min(ours), min(floor)
    return {
        "tui_answer_ms_p50": ours_ms,
        "tui_answer_vs_textual_floor": ratio(ours_ms, floor_ms),
        "tui_floor_answer_ms_p50": floor_ms,
    }
