"""The chat screen: top bar, transcript, answer area, sync log and footer.

A step: the answer area posts `Submitted`; `session.answer()` commits the step and returns its
events (durable before visible); only then are they shown. If answering raises, nothing is
shown and the typed text stays in the input.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from tui.app.widgets.answer_area import AnswerArea
from tui.app.widgets.sync_log import SyncLog
from tui.app.widgets.top_bar import TopBar
from tui.app.widgets.transcript import Transcript
from tui.errors import SteadyChatError
from tui.session import Session
from tui.steps import StoredEvent

if TYPE_CHECKING:
    from tui.app.app import SteadyChatApp

log = logging.getLogger(__name__)
MAX_WAIT_S = 2.0


def session_title(session: Session) -> str:
    title = f"{session.flow.name} · session {session.id[:8]}"
    return title + " · read-only" if session.read_only else title


def retry_text(events: list[StoredEvent]) -> str:
    """The engine's retry message in a step, if it refused the answer."""
    for event in reversed(events):
        if event.type == "message" and event.data.get("retry"):
            return str(event.data.get("text") or "")
        if event.type == "answer":
            break
    return ""


def refused_text(events: list[StoredEvent]) -> str:
    """The answer the engine refused in a step (to put back in the field), if it refused one."""
    for event in reversed(events):
        if event.type == "answer":
            return str(event.data.get("text") or "") if event.data.get("valid", True) is False else ""
    return ""


class ChatScreen(Screen[None]):
    """One conversation."""

    app: SteadyChatApp  # type: ignore[assignment]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        app = self.app
        yield TopBar(session_title(self.session), app.sync_status, monotonic=app.settings.monotonic, id="top-bar")
        with Horizontal(id="body"):
            with Vertical(id="conversation"):
                yield Transcript(id="transcript")
                yield AnswerArea(cursor_blink=app.settings.cursor_blink, id="answer-area")
            sync_log = SyncLog(app.sync_log, id="sync-log")
            sync_log.display = app.sync_log_visible
            yield sync_log
        yield Footer()

    async def on_mount(self) -> None:
        await self.show_session(self.session)

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def answer_area(self) -> AnswerArea:
        return self.query_one(AnswerArea)

    async def show_session(self, session: Session) -> None:
        """Show a session: its latest page of events, and the input it waits at."""
        self.session = session
        self.query_one(TopBar).title = session_title(session)
        await self.transcript.show(session.page_before, session.last_seq)
        # A refused answer's turn is short (answer, retry message, input): the last few events hold it.
        recent = session.page_before(session.last_seq + 1, 10) if session.waiting_input else []
        self._show_input(recent)

    def _show_input(self, events: list[StoredEvent] | None = None) -> None:
        """Show the input the session waits at; after a refused answer, the retry and that answer."""
        session = self.session
        error = retry_text(events) if events else ""
        self.answer_area.set_input(
            session.waiting_input,
            completed=session.status != "active",
            read_only=session.read_only,
            error=error,
            draft=refused_text(events) if error and events else "",
        )

    async def on_answer_area_submitted(self, event: AnswerArea.Submitted) -> None:
        event.stop()
        session = self.session
        if session.waiting_input is None or session.read_only:
            return
        try:
            problem = session.refusal(event.text)
            if problem is not None:
                event.area.show_error(problem)  # the flow's own retry message; the text stays
                return
            events = session.answer(event.text)
        except SteadyChatError as exc:
            event.area.show_error(f"Not saved: {exc}")
            return
        except Exception as exc:  # an engine or store bug: keep the text, say so, carry on
            log.exception("answering failed")
            event.area.show_error(f"Not saved ({type(exc).__name__}): {exc}")
            return
        delay = self.app.settings.typing_delay
        if delay > 0:
            self.answer_area.set_input(None, typing=True)
            self.run_worker(self._reveal(events, delay), group="reveal")
        else:
            self.transcript.add_events(events)
            self._show_input(events)

    async def _reveal(self, events: list[StoredEvent], delay: float) -> None:
        """Show a committed step's bot messages one by one, like someone typing."""
        for event in events:
            if event.type == "message":
                await asyncio.sleep(delay)
            elif event.type == "wait":
                await asyncio.sleep(min(float(event.data.get("seconds") or 0), MAX_WAIT_S))
            self.transcript.add_events([event])
        self._show_input(events)

    def on_screen_resume(self, _event: Any) -> None:
        self.answer_area.focus_input()
