"""SteadyChatApp: settings, global bindings, the sync worker and session switching.

Everything the app depends on is injected through `AppSettings` (the session catalog over the
store, the sync client factory, clocks), so tests build it with a tmp store, a
fixed clock and fixed ids, and the launcher builds it with the real ones.

Steps are local SQLite commits, done directly on the UI thread (milliseconds). The network only
ever runs in the `sync` worker; its status reaches the app as `SyncStatusChanged` messages and
becomes the app's `sync_status` reactive, so keys keep answering whatever the server does.

Attributes down, messages up: screens get what they show in `__init__` and `dismiss()` a result
(or post a message from `messages.py`); widgets that follow the sync state watch the app's
reactives (`sync_status`, `sync_log_added`, `sync_log_visible`) with `self.watch(self.app, ...)`.
Nothing below this module imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any, ClassVar, Protocol

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen

from tui.app.catalog import SessionCatalog
from tui.app.commands import SteadyChatCommands
from tui.app.messages import ExportRequested, SyncLogged, SyncStatusChanged
from tui.app.screens.chat import ChatScreen
from tui.app.screens.sessions import SessionsScreen
from tui.app.widgets.sync_log import SyncLogBook
from tui.errors import SteadyChatError
from tui.session import Session, utc_now
from tui.sync.status import ConnState, SyncStatus

WIDGETS = Path(__file__).parent / "widgets"
SCREENS = Path(__file__).parent / "screens"

LONG_OUTAGE_S = 10.0
"""An outage this long earns a 'back online' toast even with nothing queued."""


class SyncClientLike(Protocol):
    """What the app needs of `tui.sync.client.SyncClient`."""

    async def run(self) -> None: ...
    def kick(self, sid: str | None = None) -> None: ...
    def stop(self) -> None: ...


SyncFactory = Callable[[Callable[[SyncStatus], None], Callable[[str], None]], SyncClientLike]
"""Builds the sync client given its `on_status` and `on_log` callbacks."""


class DemoControls(Protocol):
    """The demo's network switches (the fault proxy), for F2/F3."""

    def toggle_network(self) -> str: ...
    def toggle_flaky(self) -> str: ...
    def attach_log(self, sink: Callable[[str], None]) -> None: ...


@dataclass
class AppSettings:
    """What the app is built with."""

    session: Session
    """The session shown first (started or resumed by the launcher)."""
    sessions: SessionCatalog
    """Lists, starts and resumes the stored sessions (ctrl+n, the sessions screen)."""
    sync: SyncFactory | None = None
    """Builds the sync client; None means local-only."""
    clock: Callable[[], datetime] = utc_now
    """Wall clock for the sync log's timestamps."""
    monotonic: Callable[[], float] = time.monotonic
    """Clock for the retry countdown."""
    typing_delay: float = 0.35
    """Seconds between revealed bot messages (0 in tests: everything shows at once)."""
    cursor_blink: bool = True
    """Blinking cursors (off in tests and snapshots)."""
    demo: DemoControls | None = None
    """The demo's network switches; None outside the demo (F2/F3 are hidden)."""
    show_sync_log: bool = False
    """Whether the sync log starts open."""
    notices: list[str] = field(default_factory=list)
    """Lines to toast once at start (e.g. 'opened read-only')."""
    export_dir: Path | None = None
    """Where transcripts are exported (default: next to the store)."""
    animation_level: str | None = None
    """Textual's animation level ("none" in tests and screenshots); None keeps the default."""


class SteadyChatApp(App[None]):
    """The SteadyChat terminal UI."""

    TITLE = "SteadyChat"
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        WIDGETS / "top_bar.tcss",
        WIDGETS / "connection_indicator.tcss",
        WIDGETS / "transcript.tcss",
        WIDGETS / "bubble.tcss",
        WIDGETS / "answer_area.tcss",
        WIDGETS / "sync_log.tcss",
        SCREENS / "chat.tcss",
        SCREENS / "sessions.tcss",
    ]
    COMMANDS = App.COMMANDS | {SteadyChatCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("ctrl+s", "sessions", "Sessions", id="sessions"),
        Binding("ctrl+n", "new_session", "New", id="new_session"),
        Binding("ctrl+o", "export", "Export", id="export", tooltip="Export the transcript as Markdown"),
        Binding("ctrl+r", "sync_now", "Sync now", id="sync_now", show=False),
        Binding("f2", "toggle_network", "Network", id="toggle_network", tooltip="Demo: cut or restore the network"),
        Binding("f3", "toggle_flaky", "Flaky", id="toggle_flaky", tooltip="Demo: make the network flaky"),
        Binding("f4", "toggle_sync_log", "Log", id="toggle_sync_log", tooltip="Show or hide the sync log"),
    ]

    sync_status: reactive[SyncStatus] = reactive(SyncStatus(ConnState.LOCAL_ONLY), init=False)
    """What the sync client last reported; connection indicators and the sessions rows watch it."""
    sync_log_added: reactive[int] = reactive(0, init=False)
    """Lines added to the sync log so far; the sync log widgets watch it to show the new ones."""
    sync_log_visible: reactive[bool] = reactive(False, init=False)
    """Whether the sync log is shown (F4); the sync log widgets watch it."""

    def __init__(self, settings: AppSettings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if settings.animation_level is not None:
            self.animation_level = settings.animation_level  # type: ignore[assignment]
        self.settings = settings
        self.catalog = settings.sessions
        self.session = settings.session
        self.sync_client: SyncClientLike | None = None
        self.set_reactive(
            SteadyChatApp.sync_status, SyncStatus(ConnState.CONNECTING if settings.sync else ConnState.LOCAL_ONLY)
        )
        self.set_reactive(SteadyChatApp.sync_log_visible, settings.show_sync_log)
        self.sync_log = SyncLogBook(settings.clock)
        self._outage_peak: int | None = None
        self._outage_since: float | None = None
        self._conflict_toasted = ""  # the conflict detail already toasted: one toast per conflict
        self._kick_listener = self._kick
        self.session.listeners.append(self._kick_listener)
        self._chat: ChatScreen | None = None

    # ------------------------------------------------------------------ lifecycle
    def get_default_screen(self) -> Screen[Any]:
        settings = self.settings
        self._chat = ChatScreen(
            self.session,
            sync_log=self.sync_log,
            monotonic=settings.monotonic,
            typing_delay=settings.typing_delay,
            cursor_blink=settings.cursor_blink,
        )
        return self._chat

    def on_mount(self) -> None:
        for notice in self.settings.notices:
            self.notify(notice, severity="warning", timeout=8, markup=False)
        if self.settings.sync is not None:
            self.sync_client = self.settings.sync(self._status_from_client, self._log_from_client)
            self.run_sync()
        if self.settings.demo is not None:
            self.settings.demo.attach_log(self._log_from_client)

    def on_unmount(self) -> None:
        if self.sync_client is not None:
            self.sync_client.stop()

    @work(exclusive=True, exit_on_error=False, group="sync", name="sync")
    async def run_sync(self) -> None:
        """The sync client's long-lived loop, on the app's event loop (it is asyncio)."""
        assert self.sync_client is not None
        await self.sync_client.run()

    # ------------------------------------------------------------------ sync status and log
    def _status_from_client(self, status: SyncStatus) -> None:
        self.post_message(SyncStatusChanged(status))

    def _log_from_client(self, line: str) -> None:
        self.post_message(SyncLogged(line))

    def _kick(self, session: Session, _events: list[Any]) -> None:
        if self.sync_client is not None:
            self.sync_client.kick(session.id)

    def on_sync_status_changed(self, message: SyncStatusChanged) -> None:
        self.sync_status = message.status

    def watch_sync_status(self, previous: SyncStatus, status: SyncStatus) -> None:
        """Toast the transitions that need the user (the indicators show every status)."""
        self._toast_transition(previous, status)

    def _toast_transition(self, previous: SyncStatus, status: SyncStatus) -> None:
        state = status.state
        if state is ConnState.OFFLINE:
            if self._outage_peak is None:
                self._outage_peak = status.pending
                self._outage_since = self.settings.monotonic()
            self._outage_peak = max(self._outage_peak, status.pending)
        if state is previous.state:
            return
        if state is ConnState.UNAUTHORIZED:
            self.notify(
                "The sync server refused our token: answers stay queued here. Check --token.",
                title="Unauthorized",
                severity="error",
                timeout=12,
            )
        elif state is ConnState.CONFLICT and status.detail != self._conflict_toasted:
            self._conflict_toasted = status.detail
            self.notify(
                f"A session diverged from the server's copy; its steps stay safe here. {status.detail}. "
                "ctrl+s, then f forks it (or `steadychat resolve`).",
                title="Sync conflict",
                severity="warning",
                timeout=12,
                markup=False,
            )
        elif state is ConnState.ONLINE and self._outage_peak is not None:
            delivered = self._outage_peak
            long_outage = (self.settings.monotonic() - (self._outage_since or 0.0)) >= LONG_OUTAGE_S
            if delivered or long_outage:
                synced = (
                    f"{delivered} queued event{'s' if delivered != 1 else ''} delivered" if delivered else "all synced"
                )
                self.notify(f"Back online · {synced}", title="Online", timeout=6)
            self._outage_peak = None
            self._outage_since = None

    def on_sync_logged(self, message: SyncLogged) -> None:
        self.sync_log.add(message.line)
        self.sync_log_added += 1

    # ------------------------------------------------------------------ sessions
    @property
    def chat(self) -> ChatScreen:
        """The chat screen (the default screen, under any other)."""
        if self._chat is None:
            raise RuntimeError("no chat screen")
        return self._chat

    async def switch_session(self, session: Session) -> None:
        """Show another session; the one shown before is closed (its lock released)."""
        old = self.session
        if session is old:
            return
        if self._kick_listener in old.listeners:
            old.listeners.remove(self._kick_listener)
        old.close()
        self.session = session
        session.listeners.append(self._kick_listener)
        while not isinstance(self.screen, ChatScreen):
            self.pop_screen()
        await self.chat.show_session(session)
        if self.sync_client is not None:
            self.sync_client.kick(session.id)

    async def _show_chosen(self, session: Session | None) -> None:
        """The sessions screen closed: show the session it chose, if any."""
        if session is not None:
            await self.switch_session(session)

    def export_transcript(self, session_id: str | None = None) -> Path | None:
        """Write a session's transcript as Markdown next to the store; toast the path."""
        sid = session_id or self.session.id
        try:
            path = self.catalog.export(sid, self.settings.export_dir)
        except (OSError, SteadyChatError) as exc:
            self.notify(f"Export failed: {exc}", severity="error", markup=False)
            return None
        self.notify(f"Transcript saved to {path}", title="Exported", markup=False)
        return path

    def on_export_requested(self, message: ExportRequested) -> None:
        self.export_transcript(message.session_id)

    # ------------------------------------------------------------------ actions
    def action_sessions(self) -> None:
        if not isinstance(self.screen, SessionsScreen):
            server_api = getattr(self.sync_client, "server_api", None)
            screen = SessionsScreen(
                self.catalog, self.session, server_api=server_api, monotonic=self.settings.monotonic
            )
            self.push_screen(screen, self._show_chosen)

    async def action_new_session(self) -> None:
        try:
            session = self.catalog.start(self.session.flow)
        except SteadyChatError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        await self.switch_session(session)

    def action_export(self) -> None:
        if isinstance(self.screen, SessionsScreen):
            self.screen.action_export()
        else:
            self.export_transcript()

    def action_sync_now(self) -> None:
        if self.sync_client is not None:
            self.sync_client.kick()
            self.notify("Sync requested", timeout=2)

    def action_toggle_network(self) -> None:
        if self.settings.demo is not None:
            self._demo_note(self.settings.demo.toggle_network())

    def action_toggle_flaky(self) -> None:
        if self.settings.demo is not None:
            self._demo_note(self.settings.demo.toggle_flaky())

    def _demo_note(self, text: str) -> None:
        """Say what F2/F3 did: in the sync log, or as a toast when the log is hidden."""
        self._log_from_client(text)
        if not self.sync_log_visible:
            self.notify(text, timeout=3, markup=False)

    def action_toggle_sync_log(self) -> None:
        self.sync_log_visible = not self.sync_log_visible

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_network", "toggle_flaky"):
            return self.settings.demo is not None
        if action == "toggle_sync_log":
            return self.settings.sync is not None
        if action == "sync_now":
            return True if self.sync_client is not None else None
        if action in ("new_session", "export") and isinstance(self.screen, SessionsScreen):
            return False  # the sessions screen has its own n / e
        return True
