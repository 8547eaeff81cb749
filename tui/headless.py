"""`steadychat play`: the same Session as the TUI, driven line by line.

Each bot message and answer is printed only after it is committed, and flushed at once, so a
script (or a test that SIGKILLs us) sees exactly what is durable.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

from tui.errors import AnswerError, SessionBusyError, UsageError
from tui.events import data_of
from tui.flow.loader import load_flow
from tui.flow.model import Flow
from tui.session import Session, latest_active_session
from tui.steps import StoredEvent
from tui.store import Store
from tui.transcript import headless_lines

if TYPE_CHECKING:
    from tui.sync.background import BackgroundSync
    from tui.sync.status import SyncStatus


class Printer:
    """Writes committed events to stdout, as text lines or JSON objects, flushed per event."""

    def __init__(self, out: TextIO, *, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json

    def __call__(self, events: Iterable[StoredEvent]) -> None:
        for event in events:
            if self.as_json:
                self.out.write(event.json_text() + "\n")  # the bytes the store holds, encoded once
            else:
                for line in headless_lines(event):
                    self.out.write(line + "\n")
            self.out.flush()


def open_session(
    store: Store,
    flow_path: Path,
    *,
    new: bool,
    session_id: str | None,
    err: TextIO,
    read_only_if_busy: bool = False,
    flow: Flow | None = None,
) -> tuple[Session, bool]:
    """The session to drive: `--session`, else the flow's latest active one, else a new one.

    A session another process drives raises SessionBusyError, or with `read_only_if_busy` (the
    TUI) opens read-only with a line on `err`. Returns (session, resumed).
    """
    flow = flow if flow is not None else load_flow(flow_path)
    if session_id:
        session_id = store.resolve_id(session_id)
        _supply_flow(store, session_id, flow, flow_path)
        session = _resume(store, session_id, err, read_only_if_busy)
        if session.flow.id != flow.id:
            session.close()
            raise UsageError(f"session {session_id} runs flow {session.flow.id!r}, not {flow.id!r} from {flow_path}")
        _warn_if_changed(session, flow.content_hash(), flow_path, err)
        return session, True
    if not new:
        record = latest_active_session(store, flow.id)
        if record is not None:
            session = _resume(store, record.id, err, read_only_if_busy)
            _warn_if_changed(session, flow.content_hash(), flow_path, err)
            return session, True
    return Session.start(store, flow), False


def _supply_flow(store: Store, session_id: str, flow: Flow, flow_path: Path) -> None:
    """A pulled session whose flow this store lacks takes it from FLOW if it is the same version."""
    record = store.get_session(session_id)
    if record is None or store.get_flow(record.flow_hash) is not None:
        return
    if flow.content_hash() != record.flow_hash:
        raise UsageError(
            f"{flow_path}: not the version of the flow session {session_id[:8]} started with "
            f"(file {flow.content_hash()[:12]}, session {record.flow_hash[:12]}); give the file it started with"
        )
    store.put_flow(record.flow_hash, flow.canonical_json())


def _resume(store: Store, session_id: str, err: TextIO, read_only_if_busy: bool) -> Session:
    try:
        return Session.resume(store, session_id)
    except SessionBusyError:
        if not read_only_if_busy:
            raise
    err.write(
        f"Session {session_id[:8]} is open in another SteadyChat process: shown read-only. "
        "ctrl+n starts a new one (or run with --new).\n"
    )
    return Session.resume(store, session_id, read_only=True)


def _warn_if_changed(session: Session, file_hash: str, flow_path: Path, err: TextIO) -> None:
    if session.record.flow_hash != file_hash:
        err.write(
            f"steadychat: {flow_path} changed since session {session.id[:8]} started; "
            "continuing with the flow it started with (use --new to start over with the edited flow)\n"
        )
        err.flush()


class AnswerReader:
    """Answers one per line from a file or stdin, read as bytes and decoded strictly as UTF-8.

    A line is read at most `limit` (+ line end) bytes at a time, so a 5 MB line costs 64 KiB of
    memory before it is refused; a line that is not UTF-8 is refused by number. Either refusal
    is an AnswerError (one line, exit 2) and nothing is saved for that line.
    """

    def __init__(self, stream: IO[bytes] | TextIO) -> None:
        self.stream: IO[bytes] | TextIO = getattr(stream, "buffer", stream)
        name = getattr(stream, "name", None)
        self.name = f"--answers {name}" if isinstance(name, str) and not name.startswith("<") else "standard input"
        self.line_no = 0
        self.interactive = stream.isatty()

    def where(self) -> str:
        return f"{self.name} line {self.line_no}"

    def next_answer(self, limit: int) -> str | None:
        """The next answer, without its line end; None at the end of the answers."""
        raw = self.stream.readline(limit + 3)  # the answer, "\r\n", and one byte to see it is over
        if not raw:
            return None
        self.line_no += 1
        if isinstance(raw, str):  # a text stream handed in by a caller (tests, the corpus runner)
            return raw.removesuffix("\n").removesuffix("\r")
        body = raw.removesuffix(b"\n").removesuffix(b"\r")
        if len(body) > limit:
            raise AnswerError(
                f"{self.where()}: the answer is longer than this flow accepts ({limit:,} bytes, its "
                "max_answer_bytes); nothing was saved for it"
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AnswerError(
                f"{self.where()}: not valid UTF-8 (byte {exc.start + 1}); nothing was saved for it: "
                "save the answers as UTF-8 text"
            ) from None
        return text.removeprefix("\ufeff") if self.line_no == 1 else text


def play_flow(
    flow_path: Path,
    *,
    store_path: Path,
    answers: IO[bytes] | TextIO,
    as_json: bool,
    new: bool,
    session_id: str | None,
    server: str | None,
    token: str | None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the conversation until the answers run out or the flow ends. Returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    printer = Printer(out, as_json=as_json)
    flow = load_flow(flow_path)  # before the store: a flow we refuse leaves no store behind
    store = Store.open(store_path)
    background = None
    session: Session | None = None
    try:
        session, resumed = open_session(store, flow_path, new=new, session_id=session_id, err=err, flow=flow)
        printer(session.latest_turn() if resumed else session.events())
        if server:
            background = _start_sync(store, server, token or "", session, err)
        _answer_all(session, AnswerReader(answers), printer, err)
        return _report_end(session, err, as_json=as_json)
    finally:
        if session is not None:
            session.close()
        if background is not None:
            _stop_sync(background, store, session, err)
        store.close()


def _answer_all(session: Session, reader: AnswerReader, printer: Printer, err: TextIO) -> None:
    """Answer line by line until the answers run out or the flow stops waiting."""
    while session.status == "active":
        if reader.interactive:
            spec = session.waiting_input
            hint = f"({spec.placeholder}) " if spec is not None and spec.placeholder else ""
            err.write(f"{hint}> ")
            err.flush()
        line = reader.next_answer(session.flow.max_answer_bytes)
        if line is None:
            return
        try:
            events = session.answer(line)
        except AnswerError as exc:
            raise AnswerError(f"{reader.where()}: {exc}") from None
        printer(events)


def _report_end(session: Session, err: TextIO, *, as_json: bool) -> int:
    """Name an error that stopped the flow (exit 1), or say the conversation is complete (0)."""
    errors = [e for e in session.latest_turn() if e.type == "error"]
    failed = bool(errors)
    for event in errors:  # e.g. the step limit: one line naming the group
        err.write(f"steadychat: {data_of(event, 'error').get('text', 'stopped')}\n")
    if session.status != "active" and not as_json:
        err.write("steadychat: conversation complete\n" if not failed else "")
    return 1 if failed else 0


def _stop_sync(background: BackgroundSync, store: Store, session: Session | None, err: TextIO) -> None:
    """Give the background sync a moment to drain, then say what is left or conflicting."""
    left = background.close(drain_timeout=3.0)
    if session is not None and store.conflict(session.id) is not None:
        sid = session.id[:8]
        err.write(
            f"steadychat: conflict: session {session.id} diverged from the server; keep yours with "
            f"`steadychat resolve {sid} --fork` or take the server's with `steadychat resolve {sid} --take-server`\n"
        )
    elif left:
        err.write(f"steadychat: {left} events queued; they will be sent next time (or run `steadychat sync`)\n")


def _start_sync(store: Store, server: str, token: str, session: Session, err: TextIO) -> BackgroundSync:
    """Sync in the background; status changes go to stderr, one line each."""
    from tui.sync.background import BackgroundSync  # loaded only when a server is given

    last_state: list[object] = [None]

    def on_status(status: SyncStatus) -> None:
        if status.state != last_state[0]:  # one line per state change, not per count
            last_state[0] = status.state
            err.write(f"sync: {status.words()}\n")
            err.flush()

    background = BackgroundSync(store, server, token, on_status=on_status)
    background.start()
    session.listeners.append(lambda _session, _events: background.kick())
    background.kick()
    return background
