"""The one place a step happens: engine → commit events → (cache) → only then show.

`play` and the TUI both drive a `Session`; neither talks to the engine or the store directly.
Durable before visible: `answer()` returns the step's events only after they are committed, and
listeners (the sync kick, a UI) are told after the commit too.

The session cache (`sessions` table) rides in the same transaction as every `CACHE_EVERY`-th
step and at close; on open, a cache that is behind its events is brought up to date by replaying
the missing answers through the engine (deterministic: the step's time is the answer's `ts`,
randomness comes from the session seed).
"""

from __future__ import annotations

import fcntl
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import msgspec

from tui import engine
from tui.errors import AnswerError, SessionBusyError, StoreError
from tui.flow.model import Flow
from tui.steps import Emitted, EngineState, InputSpec, StoredEvent, copy_with
from tui.store import SessionRecord, SessionSummary, Store

CACHE_EVERY = 8
Clock = Callable[[], datetime]
Listener = Callable[["Session", list[StoredEvent]], None]


@dataclass(frozen=True)
class InputRef:
    """Names one waiting input: its `input` event's block id and seq.

    A UI shows an input with its ref and answers with it, so an answer typed for one question
    can never land on another: `Session` records nothing for a ref that is not the one waiting.
    """

    block_id: str
    seq: int


@dataclass(frozen=True)
class Submission:
    """What became of an answer a UI submitted (one engine run decides all three)."""

    events: list[StoredEvent] = field(default_factory=list)
    """The committed step; empty when nothing was recorded."""
    refusal: str | None = None
    """The flow's retry message when it refused the answer; nothing was recorded."""
    stale: bool = False
    """The answer named an input that is not the one waiting; nothing was recorded."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z, as events carry it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _truncate_ms(moment: datetime) -> datetime:
    """The engine sees the same instant live and on replay: events keep milliseconds only."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class SessionLock:
    """An advisory lock so only one process drives a session; released by the OS on SIGKILL."""

    def __init__(self, store_path: Path, session_id: str) -> None:
        folder = store_path.with_name(store_path.name + ".locks")
        folder.mkdir(mode=0o700, exist_ok=True)
        self.path = folder / f"{session_id}.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


class Session:
    """A conversation on a flow, durable in a store. Create with `start` or `resume`."""

    def __init__(
        self,
        store: Store,
        flow: Flow,
        record: SessionRecord,
        *,
        clock: Clock = utc_now,
        lock: SessionLock | None = None,
        read_only: bool = False,
    ) -> None:
        self.store = store
        self.flow = flow
        self.record = record
        self.clock = clock
        self.read_only = read_only
        self._lock = lock
        self._steps_since_cache = 0
        self._input_seq: int | None = None  # seq of the waiting input's event, found lazily
        self.listeners: list[Listener] = []

    # ----------------------------------------------------------------- creation
    @classmethod
    def start(
        cls,
        store: Store,
        flow: Flow,
        *,
        clock: Clock = utc_now,
        seed: int | None = None,
        session_id: str | None = None,
        prefilled: dict[str, str] | None = None,
    ) -> Session:
        """Start a new session: its first step (the bot's opening) is committed at once."""
        sid = session_id or uuid.uuid4().hex
        seed = secrets.randbits(48) if seed is None else seed
        now = _truncate_ms(clock())
        flow_hash = flow.content_hash()
        store.put_flow(flow_hash, flow.canonical_json())
        lock = _acquire(store, sid)
        try:
            result = engine.start(flow, now=now, seed=seed, prefilled=prefilled)
        except BaseException:
            lock.release()
            raise
        created = format_ts(now)
        start_event = Emitted(
            type="start",
            data={
                "flow_id": flow.id,
                "flow_name": flow.name,
                "flow_hash": flow_hash,
                "seed": seed,
                "device_id": store.device_id,
                "created_at": created,
            },
        )
        record = SessionRecord(
            id=sid,
            flow_id=flow.id,
            flow_name=flow.name,
            flow_hash=flow_hash,
            device_id=store.device_id,
            created_at=created,
        )
        session = cls(store, flow, record, clock=clock, lock=lock)
        try:
            session._commit([start_event, *result.events], result.state, now, force_cache=True)
        except BaseException:
            lock.release()
            raise
        return session

    @classmethod
    def resume(
        cls,
        store: Store,
        session_id: str,
        *,
        clock: Clock = utc_now,
        read_only: bool = False,
    ) -> Session:
        """Reopen a session with the flow it started with, replaying events the cache lacks."""
        record = store.get_session(session_id)
        if record is None:
            raise StoreError(f"{store.path}: no session {session_id}; see `steadychat sessions`")
        lock = None if read_only else _acquire(store, session_id)
        try:
            flow = stored_flow(store, record.flow_hash)
            if record.last_seq == 0:  # pulled before its flow was here: rebuild from every event
                rebuilt = rebuild_record(flow, session_id, store.events(session_id))
                record = copy_with(rebuilt, {"forked_from": record.forked_from})
                if not read_only:
                    store.put_session(record)
            session = cls(store, flow, record, clock=clock, lock=lock, read_only=read_only)
            session._catch_up()
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return session

    # ----------------------------------------------------------------- what a UI reads
    @property
    def id(self) -> str:
        return self.record.id

    @property
    def state(self) -> EngineState:
        return self.record.state

    @property
    def status(self) -> str:
        return self.record.state.status

    @property
    def last_seq(self) -> int:
        return self.record.last_seq

    @property
    def waiting_input(self) -> InputSpec | None:
        return self.record.state.input if self.record.state.status == "active" else None

    def events(self, after: int = 0, limit: int | None = None) -> list[StoredEvent]:
        return self.store.events(self.id, after=after, limit=limit)

    def page_before(self, before_seq: int, limit: int) -> list[StoredEvent]:
        """A page of earlier events, for a transcript that loads lazily."""
        return self.store.events_before(self.id, before_seq, limit)

    def latest_turn(self) -> list[StoredEvent]:
        """The events since the user's last answer: what leads up to the waiting input."""
        page = self.page_before(self.last_seq + 1, 200)
        for index in range(len(page) - 1, -1, -1):
            if page[index].type in ("answer", "command"):
                return page[index + 1 :]
        return page

    # ----------------------------------------------------------------- steps
    @property
    def waiting_ref(self) -> InputRef | None:
        """The ref of the input waiting now (what a UI shows and answers with), or None."""
        spec = self.waiting_input
        if spec is None:
            return None
        if self._input_seq is None:
            self._input_seq = self._find_input_seq()
        return InputRef(spec.block_id, self._input_seq)

    def answer(self, text: str, *, to: InputRef | None = None) -> list[StoredEvent]:
        """Give the waiting input a reply; returns the step's events once they are durable.

        A refused answer is recorded (`answer.valid` false, then the flow's retry), as `play`
        shows it. With `to`, an answer for another input than the one waiting records nothing.
        An answer over the flow's `max_answer_bytes`, or that is not valid text, raises
        AnswerError and records nothing (`submit` returns the same words to a UI instead).
        """
        return self._step(text, to, keep_refusal=False).events

    def submit(self, text: str, *, to: InputRef) -> Submission:
        """A UI's answer to the input `to`, decided by one engine run.

        Accepted: committed. Refused with a retry message (or unfit: too long, not valid
        text): nothing recorded, the message is returned so the UI shows it inline and keeps
        what was typed. Refused without one (a Typebot `invalidReply` event leads elsewhere):
        recorded, like `answer`. For an input that is no longer waiting (`stale`): nothing.
        """
        return self._step(text, to, keep_refusal=True)

    def _step(self, text: str, to: InputRef | None, *, keep_refusal: bool) -> Submission:
        self._check_writable()
        if self.waiting_input is None:
            return Submission(stale=to is not None)  # completed: nothing waits for an answer
        if to is not None and to != self.waiting_ref:
            return Submission(stale=True)
        problem = self.unfit_answer(text)
        if problem is not None:
            if keep_refusal:
                return Submission(refusal=f"{problem[0].upper()}{problem[1:]}.")
            raise AnswerError(f"{problem}; nothing was saved for it")
        now = _truncate_ms(self.clock())
        result = engine.answer(self.flow, self.record.state, text, now=now)
        events = result.events
        if not events:
            return Submission()
        if events[0].type != "answer":
            retries = [e for e in events if e.type == "message" and e.data.get("retry")]
            if keep_refusal and retries:
                return Submission(refusal=str(retries[0].data.get("text", "")))
            spec = self.record.state.input
            block_id = spec.block_id if spec else None
            events = [
                Emitted(type="answer", data={"block_id": block_id, "text": text, "content": None, "valid": False}),
                *events,
            ]
        return Submission(events=self._commit(events, result.state, now))

    def refusal(self, text: str) -> str | None:
        """The retry message the flow would answer `text` with, without recording anything.

        A dry run; UIs use `submit`, which decides in the run that records. None when the
        answer would be accepted, or when a refusal would lead somewhere else.
        """
        if self.waiting_input is None:
            return None
        problem = self.unfit_answer(text)
        if problem is not None:
            return f"{problem[0].upper()}{problem[1:]}."
        result = engine.answer(self.flow, self.record.state, text, now=_truncate_ms(self.clock()))
        if not result.events or result.events[0].type == "answer":
            return None
        retries = [e for e in result.events if e.type == "message" and e.data.get("retry")]
        return str(retries[0].data.get("text", "")) if retries else None

    def unfit_answer(self, text: str, *, size: int | None = None) -> str | None:
        """Why `text` cannot be an answer at all, whatever the input: over the flow's
        `max_answer_bytes` (the store and the server must not swallow a pasted file: such an
        event could never sync), or not encodable as UTF-8 (an unpaired surrogate). None if fit.
        `size` is the byte count when the caller knows the answer is at least that long."""
        limit = self.flow.max_answer_bytes
        try:
            encoded = size if size is not None else len(text.encode("utf-8"))
        except UnicodeEncodeError:
            return "the answer is not valid text (it holds an unpaired surrogate)"
        if encoded > limit:
            return (
                f"the answer is too long ({_size(encoded)}; this flow accepts at most {_size(limit)}, "
                "its max_answer_bytes)"
            )
        return None

    def command(self, name: str) -> list[StoredEvent]:
        """Trigger a command event of the flow (Typebot command events, as slash commands)."""
        self._check_writable()
        now = _truncate_ms(self.clock())
        result = engine.command(self.flow, self.record.state, name, now=now)
        if not result.events:
            return []
        return self._commit([Emitted(type="command", data={"name": name}), *result.events], result.state, now)

    def close(self) -> None:
        """Write the cache if it lags, then let another process drive this session."""
        try:
            if self._steps_since_cache and not self.read_only:
                self.store.put_session(self.record)
                self._steps_since_cache = 0
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    # ----------------------------------------------------------------- internals
    def _check_writable(self) -> None:
        if self.read_only:
            raise SessionBusyError(
                f"session {self.id} is open read-only (another process drives it); use --new to start another"
            )

    def _commit(
        self, emitted: list[Emitted], state: EngineState, now: datetime, *, force_cache: bool = False
    ) -> list[StoredEvent]:
        ts = format_ts(now)
        first = self.record.last_seq + 1
        stored = StoredEvent.committed(first, ts, emitted)
        record = copy_with(
            self.record,
            {"state": state, "status": state.status, "last_seq": first + len(stored) - 1, "updated_at": ts},
        )
        self._steps_since_cache += 1
        write_cache = force_cache or self._steps_since_cache >= CACHE_EVERY or state.status != "active"
        self.store.append_events(self.id, stored, session=record if write_cache else None)
        if write_cache:
            self._steps_since_cache = 0
        self.record = record
        inputs = [e.seq for e in stored if e.type == "input"]
        if inputs:
            self._input_seq = inputs[-1]
        for listener in list(self.listeners):
            listener(self, stored)
        return stored

    def _find_input_seq(self) -> int:
        """The seq of the newest `input` event (every step that ends at an input emits one)."""
        before = self.last_seq + 1
        while before > 1:
            page = self.page_before(before, 64)
            if not page:
                break
            for event in reversed(page):
                if event.type == "input":
                    return event.seq
            before = page[0].seq
        return 0  # a store without the event (never written by us): still one stable ref

    def _catch_up(self) -> None:
        """Replay answers and commands committed after the cache was last written."""
        missing = self.store.events(self.id, after=self.record.last_seq)
        if not missing:
            return
        state = self.record.state
        for event in missing:
            now = parse_ts(event.ts)
            if event.type == "answer":
                state = engine.answer(self.flow, state, event.data.get("text", ""), now=now).state
            elif event.type == "command":
                state = engine.command(self.flow, state, event.data.get("name", ""), now=now).state
        self.record = copy_with(
            self.record,
            {
                "state": state,
                "status": state.status,
                "last_seq": missing[-1].seq,
                "updated_at": missing[-1].ts,
            },
        )
        if not self.read_only:
            self.store.put_session(self.record)


def _size(count: int) -> str:
    """A byte count as people read it: 900 bytes, 64 KiB, 5.0 MiB."""
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KiB" if count % 1024 == 0 else f"{count / 1024:.1f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"


def rebuild_record(flow: Flow, session_id: str, events: list[StoredEvent]) -> SessionRecord:
    """A session's cache rebuilt from all its events (seq 1 first), as a fresh device needs it
    after `pull`: the start event gives the seed and the clock, then every answer and command is
    replayed through the pure engine, exactly as `_catch_up` does."""
    if not events or events[0].seq != 1 or events[0].type != "start":
        raise StoreError(f"session {session_id}: its events do not begin with a start event")
    start = events[0]
    data = start.data
    if data.get("flow_hash") != flow.content_hash():
        raise StoreError(f"session {session_id}: started with flow {data.get('flow_hash')}, not {flow.content_hash()}")
    state = engine.start(flow, now=parse_ts(start.ts), seed=int(data.get("seed", 0))).state
    for event in events[1:]:
        now = parse_ts(event.ts)
        if event.type == "answer":
            state = engine.answer(flow, state, event.data.get("text", ""), now=now).state
        elif event.type == "command":
            state = engine.command(flow, state, event.data.get("name", ""), now=now).state
    return SessionRecord(
        id=session_id,
        flow_id=str(data.get("flow_id", flow.id)),
        flow_name=str(data.get("flow_name", flow.name)),
        flow_hash=flow.content_hash(),
        device_id=str(data.get("device_id", "")),
        created_at=str(data.get("created_at", start.ts)),
        status=state.status,
        last_seq=events[-1].seq,
        updated_at=events[-1].ts,
        state=state,
    )


def stored_flow(store: Store, flow_hash: str) -> Flow:
    """The canonical flow a session started with (editing the file never corrupts a session)."""
    text = store.get_flow(flow_hash)
    if text is None:
        raise StoreError(f"{store.path}: the flow of this session is missing from the store")
    try:
        return msgspec.json.decode(text, type=Flow)
    except msgspec.DecodeError as exc:  # not JSON, or not a flow (ValidationError is a DecodeError)
        raise StoreError(f"{store.path}: the stored flow of this session is damaged ({exc})") from None


def lock_session(store: Store, session_id: str) -> SessionLock:
    """Hold the session's lock (pull and resolve rewrite it): SessionBusyError if a `run` or
    `play` drives it now. Release it with `.release()`."""
    return _acquire(store, session_id)


def _acquire(store: Store, session_id: str) -> SessionLock:
    lock = SessionLock(store.path, session_id)
    if not lock.acquire():
        raise SessionBusyError(
            f"session {session_id} is already open in another process; close it there, open it read-only, or use --new"
        )
    return lock


def latest_active_session(store: Store, flow_id: str) -> SessionSummary | None:
    """The newest active session on a flow: what `run`/`play` resume by default (one indexed
    lookup, whatever the number of sessions)."""
    return store.latest_active(flow_id)
