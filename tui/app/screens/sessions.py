"""The sessions screen: every session in the store, newest first; resume, start or export one.

With a sync server, the server's sessions this store does not hold are listed after them, marked
"on server only"; Enter pulls one (in a worker thread) and opens it. A session in conflict shows
`conflict`, and `f` forks it (`steadychat resolve SID --fork`): your version becomes a new session
that syncs as such, and the session follows the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui.app.widgets.top_bar import TopBar
from tui.errors import SteadyChatError

if TYPE_CHECKING:
    from tui.app.app import SteadyChatApp
    from tui.resolve import ResolveResult
    from tui.sync.protocol import ListedSession
    from tui.sync.remote import ServerApi

COLUMNS = ("", "ID", "Flow", "Status", "Events", "Queued", "Created")
SERVER_ONLY = "on server only"


class SessionsScreen(Screen[None]):
    """A table of sessions: id, flow, status, events, queued."""

    app: SteadyChatApp  # type: ignore[assignment]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="sessions_back"),
        Binding("enter", "resume", "Resume", id="sessions_resume"),
        Binding("n", "new", "New", id="sessions_new"),
        Binding("e", "export", "Export", id="sessions_export"),
        Binding("f", "fork", "Fork conflict", id="sessions_fork"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.server_only: dict[str, ListedSession] = {}

    def compose(self) -> ComposeResult:
        app = self.app
        yield TopBar("Sessions", app.sync_status, monotonic=app.settings.monotonic)
        yield Static("Enter resumes · n starts the selected flow again · e exports Markdown", id="sessions-hint")
        yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name or "mark")
        self.refresh_rows()
        current = self.app.session.id
        if current in table.rows:
            table.move_cursor(row=table.get_row_index(current))
        table.focus()
        self.load_server_sessions()

    def _server_api(self) -> ServerApi | None:
        make = getattr(self.app.sync_client, "server_api", None)
        return make() if make is not None else None

    @work(thread=True, exclusive=True, group="server-sessions", exit_on_error=False)
    def load_server_sessions(self) -> None:
        """List the server's sessions (network: a worker thread) and show those not held here."""
        api = self._server_api()
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
        local = set(self.app.store.session_ids())
        self.server_only = {item.id: item for item in listed if item.id not in local}
        self.refresh_rows()
        table = self.query_one(DataTable)
        self.call_after_refresh(table.refresh, layout=True)  # new widths show without waiting for a key

    def refresh_rows(self) -> None:
        """Reload the rows from the store, keeping the cursor on the same session."""
        table = self.query_one(DataTable)
        store = self.app.store
        selected = self.selected_id
        table.clear()
        records = store.session_page(limit=None)  # newest first, from the session index
        current = self.app.session.id
        conflicts = store.conflicts()
        for record in records:
            steps = max(record.last_seq, store.last_seq(record.id))
            queued = max(0, steps - store.acked_seq(record.id))
            table.add_row(
                "▶" if record.id == current else "",
                record.id[:8],
                record.flow_name[:28],
                "conflict" if record.id in conflicts else record.status,
                str(steps),
                str(queued) if queued else "·",
                record.created_at.replace("T", " ")[:16],
                key=record.id,
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
            return bool(self.app.store.conflicts())
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

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        await self.action_resume()

    async def action_resume(self) -> None:
        sid = self.selected_id
        if sid is None:
            return
        if sid == self.app.session.id:
            self.app.pop_screen()
            return
        if sid in self.server_only:
            self.notify(f"Pulling session {sid[:8]} from the server…", timeout=3)
            self.pull_and_open(sid)
            return
        session = self.app.open_session(sid)
        if session is not None:
            await self.app.switch_session(session)

    async def action_new(self) -> None:
        sid = self.selected_id
        flow = self.app.flow_of(sid) if sid else None
        session = self.app.new_session(flow)
        if session is not None:
            await self.app.switch_session(session)

    def action_export(self) -> None:
        sid = self.selected_id
        if sid is not None:
            self.app.export_transcript(sid)

    @work(thread=True, exclusive=True, group="pull", exit_on_error=False)
    def pull_and_open(self, sid: str) -> None:
        """`steadychat pull` in a worker; the flow shown now supplies the session's if it is the same."""
        from tui.pull import pull_session

        item = self.server_only[sid]
        flow = self.app.session.flow
        api = self._server_api()
        if api is None:
            return
        try:
            with api:
                pull_session(self.app.store, api, sid, flow=flow if flow.content_hash() == item.flow_hash else None)
        except SteadyChatError as exc:
            self.app.call_from_thread(self.notify, f"Pull failed: {exc}", severity="error", markup=False)
            return
        self.app.call_from_thread(self._open_pulled, sid)  # type: ignore[arg-type]

    async def _open_pulled(self, sid: str) -> None:
        self.server_only.pop(sid, None)
        self.refresh_rows()
        record = self.app.store.get_session(sid)
        if record is not None and self.app.store.get_flow(record.flow_hash) is None:
            self.notify(
                f"Pulled session {sid[:8]}, but this store lacks the flow it runs: open it with "
                f"`steadychat run FLOW --session {sid[:8]}` and the file it started with.",
                severity="warning",
                timeout=12,
                markup=False,
            )
            return
        session = self.app.open_session(sid)
        if session is not None:
            await self.app.switch_session(session)

    def action_fork(self) -> None:
        sid = self.selected_id
        if sid is None or self.app.store.conflict(sid) is None:
            self.notify("Only a session in conflict can be forked.", timeout=3)
            return
        if sid == self.app.session.id:  # let resolve take the session's lock; nothing is typed meanwhile
            self.app.session.read_only = True
            self.app.session.close()
        self.fork_session(sid)

    @work(thread=True, exclusive=True, group="fork", exit_on_error=False)
    def fork_session(self, sid: str) -> None:
        """`steadychat resolve SID --fork` in a worker, then open the fork."""
        from tui.resolve import resolve_session

        api = self._server_api()
        outcome: ResolveResult | SteadyChatError | None = None
        if api is not None:
            try:
                with api:
                    store = self.app.store
                    outcome = resolve_session(store, api, sid, "fork", export_dir=store.path.parent)
            except SteadyChatError as exc:
                outcome = exc
        self.app.call_from_thread(self._after_fork, sid, outcome)  # type: ignore[arg-type]

    async def _after_fork(self, sid: str, outcome: Any) -> None:
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
        if sid == self.app.session.id or target != sid:
            try:
                session = self.app.settings.sessions.resume(target)
            except SteadyChatError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            await self.app.switch_session(session)
        else:
            self.refresh_rows()

    def action_back(self) -> None:
        self.app.pop_screen()
