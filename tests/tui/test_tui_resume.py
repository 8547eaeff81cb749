"""Resume: the transcript comes back and the answer area waits at the right input."""

from __future__ import annotations

from textual.widgets import Input, OptionList

from tests.tui.helpers import answer_area, bubble_texts, static_text, transcript, wait_for
from tui.app.widgets.transcript import EarlierMarker

FLOW = """
name: Resume
id: resume
groups:
  Start:
    - say: Welcome back test
    - ask: name
    - say: "Hi {{name}}"
    - choice: [Alpha, Beta]
      into: pick
    - say: "Picked {{pick}}"
"""

LOOP = """
name: Loop
id: loop
groups:
  Loop:
    - ask: x
    - say: "echo {{x}}"
    - goto: Loop
"""


async def test_resume_shows_transcript_and_waits_at_input(make_app, flow_file) -> None:
    path = flow_file(FLOW)
    first = make_app(path)
    async with first.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press(*"Ada", "enter")
        await wait_for(
            pilot, lambda: first.session.waiting_input is not None and first.session.waiting_input.kind == "choice"
        )
    sid = first.session.id
    first.session.close()

    session = first.settings.sessions.resume(sid)
    second = make_app(session=session)
    async with second.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        texts = bubble_texts(second)
        assert texts[1:] == ["Welcome back test", "Ada", "Hi Ada"]
        assert isinstance(second.focused, OptionList)
        await pilot.press("2")
        await wait_for(pilot, lambda: second.session.status == "completed")
        assert "Picked Beta" in bubble_texts(second)


async def test_resume_after_refused_answer_shows_retry(make_app, flow_file) -> None:
    path = flow_file("""
        name: Mail
        groups:
          Start:
            - ask: email
            - say: ok
    """)
    first = make_app(path)
    async with first.run_test(size=(100, 30)):
        first.session.answer("not-an-email")
    first.session.close()
    second = make_app(session=first.settings.sessions.resume(first.session.id))
    async with second.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        error = answer_area(second).query_one("#answer-error")
        assert error.display
        assert isinstance(second.focused, Input)


async def test_lazy_transcript_mounts_one_page(make_app, flow_file) -> None:
    path = flow_file(LOOP)
    builder = make_app(path)
    session = builder.session
    while session.last_seq < 2000:
        session.answer(f"n{session.last_seq}")
    session.close()

    app = make_app(session=builder.settings.sessions.resume(session.id))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        view = transcript(app)
        mounted = len(list(view.query("*")))
        assert mounted <= 100, mounted
        assert view.first_seq > 1900
        assert view.query(EarlierMarker)
        first_before = view.first_seq
        await view.action_load_earlier()
        await pilot.pause()
        assert view.first_seq < first_before
        assert len(list(view.query("*"))) > mounted
        # still answering at the bottom
        await pilot.press(*"last", "enter")
        await wait_for(pilot, lambda: "echo last" in bubble_texts(app))


def test_a_session_driven_elsewhere_opens_read_only_with_a_notice(store, flow_file) -> None:
    from tui.app.launch import _open
    from tui.flow.loader import load_flow
    from tui.session import Session

    path = flow_file("""
        name: Busy
        groups:
          A:
            - ask: name
    """)
    driver = Session.start(store, load_flow(path))  # holds the session's lock, like another process
    try:
        session, notices = _open(store, path, new=False, session_id=None)
        assert session.id == driver.id and session.read_only
        assert any("shown read-only" in line for line in notices)
        session.close()
    finally:
        driver.close()


async def test_a_session_finished_before_a_kill_reopens_completed(make_app, store, flow_file) -> None:
    from tui.app.launch import _open
    from tui.flow.loader import load_flow
    from tui.session import Session

    path = flow_file("""
        name: Short
        groups:
          A:
            - ask: name
            - say: Bye {{name}}
    """)
    finished = Session.start(store, load_flow(path))
    finished.answer("Ada")
    assert finished.status == "completed"
    assert finished._lock is not None
    finished._lock.release()  # killed: no close(), the OS dropped the lock
    session, notices = _open(store, path, new=False, session_id=None)
    app = make_app(session=session)  # make_app closes the session shown last (ctrl+n closes this one)
    assert session.id == finished.id and session.status == "completed"
    assert any("is complete: ctrl+n starts a new one" in line for line in notices)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "Bye Ada" in bubble_texts(app))
        assert "ctrl+n" in static_text(answer_area(app).query_one("#answer-done"))
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.session.id != finished.id and app.session.status == "active")
    fresh, _ = _open(store, path, new=True, session_id=None)
    assert fresh.id != finished.id and fresh.status == "active"
    fresh.close()


async def test_a_long_conversation_keeps_a_bounded_number_of_bubbles(make_app, flow_file) -> None:
    from tui.app.widgets.transcript import MAX_MOUNTED, PRUNE_BATCH

    app = make_app(flow_file("name: L\ngroups:\n  Loop:\n    - ask: x\n    - say: 'echo {{x}}'\n    - goto: Loop\n"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.focused is answer_area(app).live)
        for n in range(60):
            await pilot.press(*f"a{n}", "enter")
        await wait_for(pilot, lambda: "echo a59" in bubble_texts(app))
        view = transcript(app)
        assert len(view.children) <= MAX_MOUNTED + PRUNE_BATCH + 1
        assert view.query(EarlierMarker) and view.has_earlier
        # the unmounted bubbles come back like any earlier page
        for _ in range(100):  # bounded: a page per call, far fewer than 100 pages here
            if not view.has_earlier:
                break
            await view.action_load_earlier()
            await pilot.pause()
        assert not view.has_earlier
        texts = bubble_texts(app)
        assert [f"echo a{n}" for n in range(60)] == [t for t in texts if t.startswith("echo ")]
