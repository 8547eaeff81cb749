"""The chat screen: top bar, transcript, answer area, sync log and footer.

A step: the answer area calls `answer(ref, text)` in the turn of the Enter key; `session.submit`
runs the engine once, commits the step (durable before visible) or returns the flow's refusal
(nothing recorded, shown inline), and the next input is shown at once, so keys typed behind
Enter land in it. The bot's messages then appear one by one (the typing pause); the first key
typed shows the rest at once. If answering raises, nothing is shown and the typed text stays.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from tui.app.widgets.answer_area import AnswerArea
from tui.app.widgets.sync_log import SyncLog, SyncLogBook
from tui.app.widgets.top_bar import TopBar
from tui.app.widgets.transcript import Transcript
from tui.errors import SteadyChatError
from tui.session import InputRef, Session
from tui.steps import StoredEvent

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


class ChatFooter(Footer):
    """The footer, recomposed only when the keys it shows change (not on every focus change)."""

    _shown: tuple[tuple[str, str, bool], ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        shown = tuple(
            (binding.key, binding.description, enabled)
            for (_, binding, enabled, _tooltip) in screen.active_bindings.values()
            if binding.show
        )
        if shown == self._shown:
            return
        self._shown = shown
        super().bindings_changed(screen)


class ChatScreen(Screen[None]):
    """One conversation."""

    def __init__(
        self,
        session: Session,
        *,
        sync_log: SyncLogBook,
        monotonic: Callable[[], float] = time.monotonic,
        typing_delay: float = 0.0,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        self.sync_log = sync_log
        self._monotonic = monotonic
        self.typing_delay = typing_delay
        """Seconds between revealed bot messages (0: everything shows at once)."""
        self._cursor_blink = cursor_blink
        self._unshown: list[StoredEvent] = []  # committed, waiting for the typing pause
        self._keys_here: deque[events.Key] = deque()  # keys handed to the screen, not handled yet

    def compose(self) -> ComposeResult:
        yield TopBar(session_title(self.session), monotonic=self._monotonic, id="top-bar")
        with Horizontal(id="body"):
            with Vertical(id="conversation"):
                yield Transcript(id="transcript")
                yield AnswerArea(
                    answer=self.answer,
                    typed=self.show_unshown,
                    cursor_blink=self._cursor_blink,
                    id="answer-area",
                )
            yield SyncLog(self.sync_log, id="sync-log")
        yield ChatFooter(compact=True)

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
        self.workers.cancel_group(self, "reveal")
        self._unshown = []
        self.session = session
        self.query_one(TopBar).title = session_title(session)
        await self.transcript.show(session.page_before, session.last_seq)
        # A refused answer's turn is short (answer, retry message, input): the last few events hold it.
        recent = session.page_before(session.last_seq + 1, 10) if session.waiting_input else []
        self._show_input(recent)

    def _show_input(self, events: list[StoredEvent] | None = None, *, typing: bool = False) -> None:
        """Show the input the session waits at; after a refused answer, the retry and that answer."""
        session = self.session
        error = retry_text(events) if events else ""
        self.answer_area.set_input(
            session.waiting_input,
            session.waiting_ref,
            completed=session.status != "active",
            read_only=session.read_only,
            error=error,
            draft=refused_text(events) if error and events else "",
            typing=typing,
        )

    def answer(self, ref: InputRef, text: str) -> None:
        """Answer the input `ref` names, in the turn of the key that sent it."""
        session = self.session
        area = self.answer_area
        if session.read_only:
            return
        self.show_unshown()  # the previous step's messages come first
        try:
            outcome = session.submit(text, to=ref)
        except SteadyChatError as exc:
            area.show_error(f"Not saved: {exc}")
            return
        except Exception as exc:  # an engine or store bug: keep the text, say so, carry on
            log.exception("answering failed")
            area.show_error(f"Not saved ({type(exc).__name__}): {exc}")
            return
        if outcome.stale:
            return  # typed for a question that is no longer waiting: nothing recorded
        if outcome.refusal is not None:
            area.show_error(outcome.refusal)  # the flow's own retry message; the text stays
            return
        events = outcome.events
        delay = self.typing_delay
        paused = [i for i, e in enumerate(events) if e.type in ("message", "wait")]
        if delay > 0 and paused:
            self.transcript.add_events(events[: paused[0]])
            self._unshown = events[paused[0] :]
            self._show_input(events, typing=True)
            self.run_worker(partial(self._reveal, delay), group="reveal", exclusive=True)  # type: ignore[arg-type]
        else:
            self.transcript.add_events(events)
            self._show_input(events)

    def show_unshown(self) -> None:
        """Show every committed event the typing pause still holds back (on a key, or an answer)."""
        if self._unshown:
            unshown, self._unshown = self._unshown, []
            self.transcript.add_events(unshown)
        self.answer_area.set_typing(False)

    async def _reveal(self, delay: float) -> None:
        """Show a committed step's bot messages one by one, like someone typing."""
        while self._unshown:
            event = self._unshown[0]
            if event.type == "message":
                await asyncio.sleep(delay)
            elif event.type == "wait":
                await asyncio.sleep(min(float(event.data.get("seconds") or 0), MAX_WAIT_S))
            if not self._unshown or self._unshown[0] is not event:
                return  # a key showed them all meanwhile
            self._unshown.pop(0)
            self.transcript.add_events([event])
        self.answer_area.set_typing(False)

    def on_screen_resume(self, _event: Any) -> None:
        self.answer_area.focus_input()

    # Keys typed while no answer widget has the focus (at start, before the screen is ready; or
    # with the transcript focused) are typed into the input, in order: none is dropped.
    def _forward_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._keys_here.append(event)  # the app hands keys here while nothing has the focus
        super()._forward_event(event)

    def on_key(self, event: events.Key) -> None:
        if self._keys_here and self._keys_here[0] is event:
            self._keys_here.popleft()
        if not self.is_mounted:
            return
        area = self.answer_area
        live = area.live
        if live is None or id(event) in area.handled or not (event.is_printable or event.key == "enter"):
            return  # an answer widget saw it already (it bubbled on): not typed twice
        event.stop()
        event.prevent_default()
        live.post_message(events.Key(event.key, event.character))
        if not self._keys_here:  # focus moves once no earlier key waits here (keeps the order)
            area.focus_input()
