"""The sessions screen: every session in the store, newest first; resume, start or export one.

With a sync server, the server's sessions this store does not hold are listed after them, marked
"on server only"; Enter pulls one (in a worker thread) and opens it. A session in conflict shows
`conflict`, and `f` forks it (`steadychat resolve SID --fork`): your version becomes a new session
that syncs as such, and the session follows the server.

Like harlequin's history screen, it gets what it shows in `__init__` (the catalog, the session
shown now, how to reach the server) and `dismiss()`es with the session to show next, or None.
Export is asked of the app with a message; the rows follow the app's `sync_status`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui.app.catalog import SessionCatalog
from tui.app.messages import ExportRequested
from tui.app.widgets.top_bar import TopBar
from tui.errors import SteadyChatError
from tui.session import Session

if TYPE_CHECKING:
    from tui.resolve import ResolveResult
    from tui.sync.protocol import ListedSession
    from tui.sync.remote import ServerApi

COLUMNS = ("", "ID", "Flow", "Status", "Events", "Queued", "Created")
SERVER_ONLY = "on server only"


class SessionsScreen(Screen[Session | None]):
    """A table of sessions: id, flow, status, events, queued."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="sessions_back"),
        Binding("enter", "resume", "Resume", id="sessions_resume"),
        Binding("n", "new", "New", id="sessions_new"),
        Binding("e", "export", "Export", id="sessions_export"),
        Binding("f", "fork", "Fork conflict", id="sessions_fork"),
    ]

    def __init__(
        self,
        catalog: SessionCatalog,
        current: Session,
        *,
        server_api: Callable[[], ServerApi] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.catalog = catalog
        self.current = current
        """The session shown now (marked ▶; `n` with no row starts its flow again)."""
        self._server_api = server_api
        self._monotonic = monotonic
        self.server_only: dict[str, ListedSession] = {}

    def compose(self) -> ComposeResult:
        yield TopBar("Sessions", monotonic=self._monotonic)
        yield Static("Enter resumes · n starts the selected flow again · e exports Markdown", id="sessions-hint")
        yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name or "mark")
        self.refresh_rows()
        current = self.current.id
        if current in table.rows:
            table.move_cursor(row=table.get_row_index(current))
        table.focus()
        # Queued counts change as the sync client delivers: the rows follow the app's status.
        self.watch(self.app, "sync_status", self.refresh_rows, init=False)
        self.load_server_sessions()

    def _api(self) -> ServerApi | None:
        return self._server_api() if self._server_api is not None else None

    @work(thread=True, exclusive=True, group="server-sessions", exit_on_error=False)
    def load_server_sessions(self) -> None:
        """List the server's sessions (network: a worker thread) and show those not held here."""
        api = self._api()
        if api is None:
            return
        try:
            with api:
                listed = api.list_all()
        except SteadyChatError as exc:
            self.app.call_from_thread(self.notify, f"Server sessions not listed: {exc}", markup=False)
            return
        self.app.call_from_thread(self._show_server_sessions, listed)

    def _show_server_sessions(self, listed: list[ListedSession]) -> None:
        local = self.catalog.ids()
        self.server_only = {item.id: item for item in listed if item.id not in local}
        self.refresh_rows()
        table = self.query_one(DataTable)
        self.call_after_refresh(table.refresh, layout=True)  # new widths show without waiting for a key

    def refresh_rows(self) -> None:
        """Reload the rows from the catalog, keeping the cursor on the same session."""
        table = self.query_one(DataTable)
        selected = self.selected_id
        table.clear()
        current = self.current.id
        for row in self.catalog.local_rows():
            table.add_row(
                "▶" if row.id == current else "",
                row.id[:8],
                row.flow_name[:28],
                row.status,
                str(row.steps),
                str(row.queued) if row.queued else "·",
                row.created_at.replace("T", " ")[:16],
                key=row.id,
            )
        for item in self.server_only.values():
            if item.id in table.rows:
                continue
            created = item.created_at.replace("T", " ")[:16]
            table.add_row(
                "", item.id[:8], item.flow_id[:28], SERVER_ONLY, str(item.last_seq), "·", created, key=item.id
            )
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fork":  # shown only while some session is in conflict
            return self.catalog.any_conflict()
        return True

    @property
    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return str(key.value) if key.value is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_resume()

    # ------------------------------------------------------------------ actions
    def action_resume(self) -> None:
        sid = self.selected_id
        if sid is None:
            return
        if sid == self.current.id:
            self.dismiss(None)
            return
        if sid in self.server_only:
            self.notify(f"Pulling session {sid[:8]} from the server…", timeout=3)
            self.pull_and_open(sid)
            return
        self._open(sid)

    def _open(self, sid: str) -> None:
        """Resume `sid` and close the screen with it; on failure say why and stay."""
        try:
            session = self.catalog.open(sid, warn=lambda text: self.notify(text, severity="warning"))
        except SteadyChatError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.dismiss(session)

    def action_new(self) -> None:
        sid = self.selected_id
        flow = (self.catalog.flow_of(sid) if sid else None) or self.current.flow
        try:
            session = self.catalog.start(flow)
        except SteadyChatError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.dismiss(session)

    def action_export(self) -> None:
        sid = self.selected_id
        if sid is not None:
            self.post_message(ExportRequested(sid))

    @work(thread=True, exclusive=True, group="pull", exit_on_error=False)
    def pull_and_open(self, sid: str) -> None:
        """`steadychat pull` in a worker; the flow shown now supplies the session's if it is the same."""
        item = self.server_only[sid]
        flow = self.current.flow
        api = self._api()
        if api is None:
            return
        try:
            with api:
                self.catalog.pull(api, sid, flow if flow.content_hash() == item.flow_hash else None)
        except SteadyChatError as exc:
            self.app.call_from_thread(self.notify, f"Pull failed: {exc}", severity="error", markup=False)
            return
        self.app.call_from_thread(self._open_pulled, sid)

    def _open_pulled(self, sid: str) -> None:
        self.server_only.pop(sid, None)
        self.refresh_rows()
        if not self.catalog.holds_flow_of(sid):
            self.notify(
                f"Pulled session {sid[:8]}, but this store lacks the flow it runs: open it with "
                f"`steadychat run FLOW --session {sid[:8]}` and the file it started with.",
                severity="warning",
                timeout=12,
                markup=False,
            )
            return
        self._open(sid)

    def action_fork(self) -> None:
        sid = self.selected_id
        if sid is None or not self.catalog.in_conflict(sid):
            self.notify("Only a session in conflict can be forked.", timeout=3)
            return
        if sid == self.current.id:  # let resolve take the session's lock; nothing is typed meanwhile
            self.current.read_only = True
            self.current.close()
        self.fork_session(sid)

    @work(thread=True, exclusive=True, group="fork", exit_on_error=False)
    def fork_session(self, sid: str) -> None:
        """`steadychat resolve SID --fork` in a worker, then open the fork."""
        api = self._api()
        outcome: ResolveResult | SteadyChatError | None = None
        if api is not None:
            try:
                with api:
                    outcome = self.catalog.fork(api, sid)
            except SteadyChatError as exc:
                outcome = exc
        self.app.call_from_thread(self._after_fork, sid, outcome)

    def _after_fork(self, sid: str, outcome: Any) -> None:
        from tui.resolve import ResolveResult

        if isinstance(outcome, ResolveResult) and outcome.fork_id:
            self.notify(
                f"Your {outcome.mine} steps are now session {outcome.fork_id[:8]}; {sid[:8]} follows the server.",
                title="Forked",
                timeout=8,
            )
            target = outcome.fork_id
        else:
            if outcome is not None:
                self.notify(f"Fork failed: {outcome}", severity="error", markup=False)
            target = sid
        if sid == self.current.id or target != sid:
            try:
                session = self.catalog.resume(target)
            except SteadyChatError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            self.dismiss(session)
        else:
            self.refresh_rows()

    def action_back(self) -> None:
        self.dismiss(None)
