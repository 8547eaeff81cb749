"""The sessions screen: every session in the store, newest first; resume, start or export one."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui.app.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from tui.app.app import SteadyChatApp

COLUMNS = ("", "ID", "Flow", "Status", "Steps", "Queued", "Created")


class SessionsScreen(Screen[None]):
    """A table of sessions: id, flow, status, steps, queued."""

    app: SteadyChatApp  # type: ignore[assignment]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="sessions_back"),
        Binding("enter", "resume", "Resume", id="sessions_resume"),
        Binding("n", "new", "New", id="sessions_new"),
        Binding("e", "export", "Export", id="sessions_export"),
    ]

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

    def refresh_rows(self) -> None:
        """Reload the rows from the store, keeping the cursor on the same session."""
        table = self.query_one(DataTable)
        store = self.app.store
        selected = self.selected_id
        table.clear()
        records = sorted(store.sessions(), key=lambda r: (r.created_at, r.id), reverse=True)
        current = self.app.session.id
        for record in records:
            steps = max(record.last_seq, store.last_seq(record.id))
            queued = max(0, steps - store.acked_seq(record.id))
            table.add_row(
                "▶" if record.id == current else "",
                record.id[:8],
                record.flow_name[:28],
                record.status,
                str(steps),
                str(queued) if queued else "·",
                record.created_at.replace("T", " ")[:16],
                key=record.id,
            )
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))

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

    def action_back(self) -> None:
        self.app.pop_screen()
