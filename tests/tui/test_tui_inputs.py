"""Every input kind, driven by keys: the answer is committed, then shown, then the next input."""

from __future__ import annotations

from textual.widgets import Button, Input, OptionList, SelectionList, TextArea

from tests.tui.helpers import answer_area, bubble_texts, static_text, wait_for
from tui.app.widgets.choice_list import ChoiceList
from tui.app.widgets.rating_row import RatingRow

ALL_KINDS = """
name: Kinds
id: kinds
groups:
  Start:
    - say: Hello there
    - ask: name
    - ask: bio
      long: true
    - ask: age
      type: number
      min: 1
      max: 120
    - ask: email
    - ask: website
      type: url
    - ask: phone
    - ask: birthday
      type: date
    - ask: alarm
      type: time
    - say: Pick one
    - choice: [Red, Green, Blue]
      into: colour
    - choice: [Tea, Coffee, Water]
      into: drinks
      multiple: true
    - rating: stars
      from: 1
      length: 5
    - ask: photo
      type: file
      required: false
    - say: Bye {{name}}
"""


def kind(app) -> str | None:
    spec = app.session.waiting_input
    return spec.kind if spec else None


async def test_every_kind_by_keyboard(make_app, flow_file) -> None:
    app = make_app(flow_file(ALL_KINDS))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "Hello there" in bubble_texts(app)
        assert kind(app) == "text"
        assert isinstance(app.focused, Input)
        await pilot.press(*"Ada", "enter")
        await wait_for(pilot, lambda: kind(app) == "text" and app.session.waiting_input.long)

        # long text: a TextArea, Enter adds a line, ctrl+j sends
        await wait_for(pilot, lambda: isinstance(app.focused, TextArea))
        await pilot.press(*"line one", "enter", *"line two", "ctrl+j")
        await wait_for(pilot, lambda: kind(app) == "number")
        assert any("line one\nline two" in text for text in bubble_texts(app))

        await pilot.press(*"42", "enter")
        await wait_for(pilot, lambda: kind(app) == "email")
        await pilot.press(*"ada@example.com", "enter")
        await wait_for(pilot, lambda: kind(app) == "url")
        await pilot.press(*"https://example.com", "enter")
        await wait_for(pilot, lambda: kind(app) == "phone")
        await pilot.press(*"+44 20 7946 0958", "enter")
        await wait_for(pilot, lambda: kind(app) == "date")
        await pilot.press(*"2000-01-31", "enter")
        await wait_for(pilot, lambda: kind(app) == "time")
        await pilot.press(*"14:30", "enter")
        await wait_for(pilot, lambda: kind(app) == "choice" and not app.session.waiting_input.multiple)

        # single choice: a digit picks at once
        await wait_for(pilot, lambda: isinstance(app.focused, ChoiceList))
        await pilot.press("2")
        await wait_for(pilot, lambda: kind(app) == "choice" and app.session.waiting_input.multiple)
        assert "Green" in bubble_texts(app)

        # multiple choice: space toggles, ctrl+j sends, labels comma-separated
        await wait_for(pilot, lambda: isinstance(app.focused, SelectionList))
        await pilot.press("space", "down", "down", "space", "ctrl+j")
        await wait_for(pilot, lambda: kind(app) == "rating")
        assert "Tea, Water" in bubble_texts(app)

        # rating: a row of numbers; a digit picks
        row = answer_area(app).query_one(RatingRow)
        assert [str(b.label) for b in row.query(Button)] == ["1", "2", "3", "4", "5"]
        await pilot.press("4")
        await wait_for(pilot, lambda: kind(app) == "file")

        # optional file: Skip sends nothing
        await pilot.click("#skip-button")
        await wait_for(pilot, lambda: app.session.status == "completed")
        texts = bubble_texts(app)
        assert "Bye Ada" in texts
        assert "✓ Conversation complete" in texts
        done = static_text(answer_area(app).query_one("#answer-done"))
        assert "Conversation complete" in done and "ctrl+n" in done

    # durable before visible: everything shown is in the store
    stored = [e.data.get("text") for e in app.session.events() if e.type == "answer"]
    assert stored == [
        "Ada", "line one\nline two", "42", "ada@example.com", "https://example.com", "+44 20 7946 0958",
        "2000-01-31", "14:30", "Green", "Tea, Water", "4", "",
    ]  # fmt: skip


async def test_choice_by_arrows_and_enter(make_app, flow_file) -> None:
    app = make_app(
        flow_file("""
        name: C
        groups:
          Start:
            - choice: [One, Two, Three]
              into: pick
            - say: "You picked {{pick}}"
    """)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        options = answer_area(app).query_one(OptionList)
        assert options.option_count == 3
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: app.session.status == "completed")
        assert "You picked Three" in bubble_texts(app)


async def test_client_side_check_keeps_text(make_app, flow_file) -> None:
    app = make_app(
        flow_file("""
        name: N
        groups:
          Start:
            - ask: age
              type: number
            - say: ok
    """)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        before = app.session.last_seq
        await pilot.press(*"abc", "enter")
        await pilot.pause()
        error = answer_area(app).query_one("#answer-error")
        assert error.display and "Invalid message. Please, try again." in static_text(error)  # Typebot's default
        assert answer_area(app).query_one(Input).value == "abc"
        assert app.session.last_seq == before  # nothing sent
        await pilot.press("enter")  # still refused, still kept
        await pilot.press(*["backspace"] * 3, *"7", "enter")
        await wait_for(pilot, lambda: app.session.status == "completed")


async def test_engine_retry_shown_inline(make_app, flow_file) -> None:
    app = make_app(
        flow_file("""
        name: R
        groups:
          Start:
            - ask: age
              type: number
              min: 1
              max: 120
              retry: Please type a number between 1 and 120.
            - say: thanks
    """)
    )
    # the flow's own rule and retry message apply before sending; nothing is recorded
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        before = app.session.last_seq
        area = answer_area(app)
        await pilot.press(*"500", "enter")
        await wait_for(pilot, lambda: bool(area.query("#answer-error")) and area.query_one("#answer-error").display)
        assert "between 1 and 120" in static_text(area.query_one("#answer-error"))
        assert app.session.last_seq == before
        assert app.session.waiting_input is not None and app.session.waiting_input.kind == "number"
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        # the refused answer stays in the field, to be corrected rather than retyped
        assert app.focused.value == "500"
        await pilot.press("ctrl+u", *"30", "enter")
        await wait_for(pilot, lambda: app.session.status == "completed")


async def test_answer_that_raises_keeps_typed_text(make_app, flow_file, monkeypatch) -> None:
    from tui.errors import StoreError

    app = make_app(
        flow_file("""
        name: F
        groups:
          Start:
            - ask: name
            - say: hi
    """)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()

        def broken(text: str, **_: object) -> None:
            raise StoreError("/tmp/x.db: the disk is full; nothing was saved")

        monkeypatch.setattr(app.session, "submit", broken)
        await pilot.press(*"Grace", "enter")
        await pilot.pause()
        area = answer_area(app)
        assert area.query_one(Input).value == "Grace"
        assert "disk is full" in static_text(area.query_one("#answer-error"))
        monkeypatch.undo()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session.status == "completed")
        assert "Grace" in bubble_texts(app)
