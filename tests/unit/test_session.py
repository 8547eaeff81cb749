"""Session: durable before visible, resume from cache or by replay, one driver per session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from tui.errors import SessionBusyError, StoreError
from tui.flow.model import Flow
from tui.flow.typebot import import_typebot
from tui.flow.yaml_format import flow_from_text
from tui.session import CACHE_EVERY, Session, latest_active_session, stored_flow
from tui.steps import InputSpec, copy_with
from tui.store import Store

FLOW_YAML = """
name: Loop
id: loop
groups:
  Ask:
    - say: "Tell me something ({{count}})"
    - ask: thing
    - set: {count: "{{count}} + 1"}
    - if: "{{count}} >= 30"
      then: Done
      else: Ask
  Done:
    - say: "Bye after {{count}}"
variables: {count: "0"}
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def flow():
    return flow_from_text(FLOW_YAML, path="loop.yaml")


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.db") as opened:
        yield opened


def test_start_commits_before_returning(store: Store, flow) -> None:
    session = Session.start(store, flow, clock=Clock(), seed=7)
    events = store.events(session.id)
    assert events[0].type == "start" and events[0].data["flow_hash"] == flow.content_hash()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "input" and session.waiting_input is not None
    record = store.get_session(session.id)
    assert record is not None and record.last_seq == len(events)
    session.close()


def test_answer_returns_only_committed_events(store: Store, flow) -> None:
    session = Session.start(store, flow, clock=Clock(), seed=7)
    seen: list[int] = []
    session.listeners.append(lambda s, evs: seen.extend(e.seq for e in evs))
    shown = session.answer("hello")
    assert shown[0].type == "answer" and shown[0].data["text"] == "hello"
    stored = {e.seq: e for e in store.events(session.id)}
    assert all(stored[e.seq] == e for e in shown)
    assert seen == [e.seq for e in shown]
    session.close()


def test_resume_from_cache_waits_at_same_input(store: Store, flow) -> None:
    session = Session.start(store, flow, clock=Clock(), seed=7)
    for i in range(3):
        session.answer(f"a{i}")
    waiting = session.waiting_input
    session.close()
    again = Session.resume(store, session.id, clock=Clock())
    assert again.waiting_input == waiting and again.last_seq == session.last_seq
    assert again.state.variables == session.state.variables
    again.close()


def test_cache_lag_is_replayed_from_events(store: Store, flow) -> None:
    """Crash between the event commit and the cache write: simulate by never closing."""
    session = Session.start(store, flow, clock=Clock(), seed=7)
    for i in range(CACHE_EVERY + 3):
        session.answer(f"a{i}")
    cached = store.get_session(session.id)
    assert cached is not None and session._lock is not None
    assert cached.last_seq < session.last_seq  # the cache lags, as designed
    expected_state, expected_seq = session.state, session.last_seq
    session._lock.release()  # the process "died": the OS drops its lock, nothing else happens
    resumed = Session.resume(store, session.id, clock=Clock())
    assert resumed.last_seq == expected_seq
    assert resumed.state == expected_state
    resumed.close()


def test_only_the_event_written_then_crash(store: Store, flow) -> None:
    """The truth is written, the cache never: resume replays the answer and waits correctly."""
    session = Session.start(store, flow, clock=Clock(), seed=7)
    session.answer("first")
    cache_before = store.get_session(session.id)
    assert cache_before is not None and session._lock is not None
    store.put_session(copy_with(cache_before, {"last_seq": 2, "state": _initial_state(store, session)}))
    session._lock.release()
    resumed = Session.resume(store, session.id, clock=Clock())
    assert resumed.state.variables["count"] == "1"
    assert resumed.waiting_input is not None
    resumed.close()


def _initial_state(store: Store, session: Session):
    from tui import engine

    start = store.events(session.id)[0]
    return engine.start(
        session.flow, now=datetime.fromisoformat(start.ts.replace("Z", "+00:00")), seed=start.data["seed"]
    ).state


def test_second_driver_is_refused_and_read_only_works(store: Store, flow) -> None:
    session = Session.start(store, flow, clock=Clock(), seed=7)
    with pytest.raises(SessionBusyError, match="already open"):
        Session.resume(store, session.id)
    viewer = Session.resume(store, session.id, read_only=True)
    with pytest.raises(SessionBusyError, match="read-only"):
        viewer.answer("nope")
    session.close()
    Session.resume(store, session.id).close()


def test_resume_uses_the_stored_flow_not_the_edited_file(store: Store, flow) -> None:
    session = Session.start(store, flow, clock=Clock(), seed=7)
    session.close()
    edited = flow_from_text(FLOW_YAML.replace("Tell me something", "CHANGED"), path="loop.yaml")
    assert edited.content_hash() != flow.content_hash()
    resumed = Session.resume(store, session.id)
    events = resumed.answer("x")
    assert all("CHANGED" not in str(e.data) for e in events)
    resumed.close()


def test_the_stored_flow_comes_back_with_its_hash(store: Store, flow) -> None:
    Session.start(store, flow, clock=Clock(), seed=7).close()
    loaded = stored_flow(store, flow.content_hash())
    assert loaded.content_hash() == flow.content_hash()
    assert loaded.canonical_json() == flow.canonical_json()


@pytest.mark.parametrize("text", ['{"id": "f"', '{"id": "f", "name": 3}', '{"id": "f", "name": "F", "extra": 1}'])
def test_a_damaged_stored_flow_is_one_store_error_line(store: Store, text: str) -> None:
    store.put_flow("h", text)
    with pytest.raises(StoreError, match="the stored flow of this session is damaged") as info:
        stored_flow(store, "h")
    assert "\n" not in str(info.value)


def test_latest_active_session_and_latest_turn(store: Store, flow) -> None:
    clock = Clock()
    first = Session.start(store, flow, clock=clock, seed=1)
    first.close()
    second = Session.start(store, flow, clock=clock, seed=2)
    second.answer("hi")
    latest = latest_active_session(store, "loop")
    assert latest is not None and latest.id == second.id
    turn = second.latest_turn()
    assert turn[0].type != "answer" and turn[-1].type == "input"
    second.close()


def test_completed_session_is_cached_at_once(store: Store, flow) -> None:
    session = Session.start(store, flow, clock=Clock(), seed=3)
    for i in range(30):
        session.answer(f"a{i}")
    assert session.status == "completed"
    record = store.get_session(session.id)
    assert record is not None and record.status == "completed"
    session.close()


def test_answer_after_completion_records_nothing(store: Store, flow) -> None:
    session = Session.start(store, flow, clock=Clock(), seed=3)
    for i in range(30):
        session.answer(f"a{i}")
    last = session.last_seq
    assert session.answer("too late") == []
    assert store.last_seq(session.id) == last
    session.close()


def test_a_refusal_with_a_retry_message_records_nothing_and_comes_from_one_run(store: Store, tmp_path: Path) -> None:
    flow = flow_from_text(
        "name: N\ngroups:\n  A:\n    - ask: age\n      type: number\n      max: 10\n      retry: Ten at most.\n",
        path="n.yaml",
    )
    session = Session.start(store, flow, clock=Clock(), seed=1)
    before = session.last_seq
    ref = session.waiting_ref
    assert ref is not None
    refused = session.submit("99", to=ref)
    assert refused.refusal == "Ten at most." and refused.events == [] and not refused.stale
    assert store.last_seq(session.id) == before
    accepted = session.submit("7", to=ref)
    assert accepted.refusal is None
    assert accepted.events[0].type == "answer"
    assert accepted.events[0].data["text"] == "7"
    session.close()


def test_a_stale_answer_records_nothing(store: Store, flow) -> None:
    session = Session.start(store, flow, clock=Clock(), seed=3)
    first = session.waiting_ref
    assert first is not None
    assert session.events()[-1].type == "input" and session.events()[-1].seq == first.seq
    session.submit("one", to=first)
    second = session.waiting_ref
    assert second is not None and second != first  # the same block asks again: a new input event
    last = session.last_seq
    # An answer typed for the first question arrives late: it must not answer the second.
    late = session.submit("meant for the first", to=first)
    assert late.stale and late.events == []
    assert session.answer("also late", to=first) == []
    assert store.last_seq(session.id) == last
    assert session.waiting_ref == second
    # the waiting input is found again after a resume (the ref survives a restart)
    session.close()
    resumed = Session.resume(store, session.id, clock=Clock())
    assert resumed.waiting_ref == second
    assert resumed.submit("two", to=second).events[0].data["text"] == "two"
    resumed.close()


def test_a_stale_answer_after_completion_records_nothing(store: Store, flow) -> None:
    session = Session.start(store, flow, clock=Clock(), seed=3)
    for i in range(29):
        session.answer(f"a{i}")
    ref = session.waiting_ref
    assert ref is not None
    session.submit("last", to=ref)
    assert session.status == "completed" and session.waiting_ref is None
    last = session.last_seq
    assert session.submit("again", to=ref).stale
    assert store.last_seq(session.id) == last
    session.close()


def test_a_script_object_value_is_committed_and_read_back(tmp_path: Path) -> None:
    """A Custom expression returning an object stores its JSON text (a `str` subclass inside the
    engine): the step commits, and the store gives back the same events and cached value."""
    flow = flow_from_text(
        'name: Obj\nid: obj\ngroups:\n  A:\n    - ask: thing\n    - set: {profile: "({a: 1, b: [2]})"}\n'
        '    - say: "Got {{profile}}"\n    - ask: more\n',
        path="obj.yaml",
    )
    with Store.open(tmp_path / "s.db") as store:
        session = Session.start(store, flow, clock=Clock(), seed=7)
        made = session.answer("hi")
        session.close()
    assert {"kind": "text", "text": 'Got {"a":1,"b":[2]}', "markdown": 'Got {"a":1,"b":[2]}'} in [
        e.data for e in made if e.type == "message"
    ]
    with Store.open(tmp_path / "s.db") as store:
        assert store.events(session.id, after=made[0].seq - 1) == made
        record = store.get_session(session.id)
        assert record is not None and '{"a":1,"b":[2]}' in record.state.variables.values()


def _one_input_flow(block: dict[str, object]) -> Flow:
    return import_typebot(
        {
            "version": "6",
            "id": "one",
            "name": "One",
            "events": [{"id": "ev", "type": "start", "outgoingEdgeId": "e0"}],
            "groups": [{"id": "g", "title": "G", "blocks": [{"id": "b", **block}]}],
            "edges": [{"id": "e0", "from": {"eventId": "ev"}, "to": {"groupId": "g"}}],
        },
        path="one.json",
    )


def _stored_input(tmp_path: Path, flow: Flow) -> InputSpec:
    """The waiting input as the store gives it back after a start (and its event agrees)."""
    with Store.open(tmp_path / "s.db") as store:
        session = Session.start(store, flow, clock=Clock(), seed=7)
        session.close()
    with Store.open(tmp_path / "s.db") as store:
        record = store.get_session(session.id)
        assert record is not None and record.state.input is not None
        assert store.events(session.id)[-1].data == msgspec.to_builtins(record.state.input)
        return record.state.input


@pytest.mark.parametrize(
    "item",
    [
        {"id": "i1", "title": 7, "description": 5, "pictureSrc": 9.5},
        {"id": "i1", "title": "A", "description": ["x"], "pictureSrc": {"u": 1}},
    ],
)
def test_an_item_text_of_another_type_still_gives_a_readable_session(tmp_path: Path, item: dict[str, object]) -> None:
    """A Choice is stored as built (a Struct's constructor checks nothing): an item's description
    or picture that is not text must not be stored as is, or the session could not be read back."""
    spec = _stored_input(tmp_path, _one_input_flow({"type": "picture choice input", "items": [item]}))
    (choice,) = spec.choices
    assert all(value is None or isinstance(value, str) for value in (choice.description, choice.picture))


@pytest.mark.parametrize(
    ("block", "field", "expected"),
    [
        ({"type": "file input", "options": {"labels": {"button": [1, 2]}}}, "button", "Upload"),
        ({"type": "text input", "options": {"labels": {"placeholder": {"a": 1}, "button": 5}}}, "button", "5"),
        ({"type": "text input", "options": {"labels": ["x"]}}, "placeholder", "Type your answer..."),
        ({"type": "date input", "options": {"format": ["d"], "min": [1]}}, "date_format", "dd/MM/yyyy"),
        ({"type": "time input", "options": {"format": 5}}, "date_format", "5"),
        ({"type": "rating input", "options": {"labels": {"left": [1], "right": 10}}}, "rating_right", "10"),
        (
            {"type": "choice input", "options": {"buttonLabel": {"a": 1}}, "items": [{"id": "i", "content": "A"}]},
            "button",
            "Send",
        ),
    ],
)
def test_an_input_label_of_another_type_still_gives_a_readable_session(
    tmp_path: Path, block: dict[str, object], field: str, expected: str
) -> None:
    """An InputSpec is stored as built: a Typebot label or format that is not text takes its
    default (a number its text) instead of making the session unreadable."""
    spec = _stored_input(tmp_path, _one_input_flow(block))
    assert getattr(spec, field) == expected
    for name in ("placeholder", "button", "date_format", "min", "max", "rating_left", "rating_right"):
        value = getattr(spec, name)
        assert value is None or isinstance(value, (str, float)), name


@pytest.mark.parametrize(
    ("item", "label", "description", "picture"),
    [
        ({"id": "i1", "title": {"a": 1}, "imageUrl": [1], "description": 5}, "", "5", None),
        ({"id": "i1", "title": 7, "imageUrl": {"u": "x"}, "description": ["d"]}, "7", None, None),
        ({"id": "i1", "title": "{{x}}", "imageUrl": "http://i", "description": "d"}, "", "d", "http://i"),
    ],
)
def test_a_single_card_whose_fields_are_not_text_still_gives_a_readable_session(
    tmp_path: Path, item: dict[str, object], label: str, description: str | None, picture: str | None
) -> None:
    """One card whose image, title or description might name a list variable: a field that is
    not text names none (it raised: `find_unique_variable` called `.startswith` on it)."""
    block: dict[str, object] = {"type": "cards", "items": [{**item, "paths": [{"id": "p", "text": "Go"}]}]}
    (choice,) = _stored_input(tmp_path, _one_input_flow(block)).choices
    assert (choice.label, choice.description, choice.picture) == (label, description, picture)
