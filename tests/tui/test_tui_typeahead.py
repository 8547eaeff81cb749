"""A fast typist: whole answer sequences typed in one burst, with no pause between Enter and the
next keys. Every key lands on the question the user sees, in order; none is lost.

Keys are queued the way a terminal delivers them (`burst`), not pressed one by one with the app
going idle in between, which is what hid the lost answers of issue 10.
"""

from __future__ import annotations

import pytest

from tests.tui.helpers import Paste, answer_area, bubble_texts, burst, wait_for
from tui.app.widgets.rating_row import RatingRow

FIVE = """
name: Five
id: five
groups:
  Start:
    - say: Hi! What is your name?
    - ask: name
    - say: Where do you live, {{name}}?
    - ask: city
    - ask: age
      type: number
    - say: How likely are you to recommend us?
    - rating: nps
      from: 0
      length: 10
    - say: Anything else?
    - ask: comment
    - say: Thanks {{name}} from {{city}}!
"""

MIXED = """
name: Mixed
id: mixed
groups:
  Start:
    - ask: name
    - rating: nps
      from: 0
      length: 10
    - choice: [Red, Green, Blue]
      into: colour
    - choice: [Tea, Coffee, Water]
      into: drinks
      multiple: true
    - ask: bio
      long: true
    - rating: stars
      from: 1
      length: 5
    - ask: email
    - say: Bye {{name}}
"""


def answers(app) -> list[tuple[str, str]]:
    """(question block, answer text) of every recorded answer, in order."""
    return [(e.data["block_id"], e.data["text"]) for e in app.session.events() if e.type == "answer"]


def input_blocks(app) -> list[str]:
    return [e.data["block_id"] for e in app.session.events() if e.type == "input"]


@pytest.mark.parametrize("typing_delay", [0.0, 0.3])
async def test_five_answers_typed_without_a_pause_each_land_on_their_question(
    make_app, flow_file, typing_delay
) -> None:
    app = make_app(flow_file(FIVE), typing_delay=typing_delay)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.focused is answer_area(app).live)
        burst(
            app,
            *"Ada",
            "enter",
            Paste("Paris"),  # a paste in the middle of the burst
            "enter",
            *"7",
            "enter",
            *"10",  # two digits build the rating; Enter sends it
            "enter",
            *"Great app",
            "enter",
        )
        await wait_for(pilot, lambda: "Thanks Ada from Paris!" in bubble_texts(app))
    blocks = input_blocks(app)
    assert answers(app) == list(zip(blocks, ["Ada", "Paris", "7", "10", "Great app"], strict=True))


async def test_every_kind_typed_ahead_in_one_burst(make_app, flow_file) -> None:
    app = make_app(flow_file(MIXED), typing_delay=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.focused is answer_area(app).live)
        burst(
            app,
            *"Grace",
            "enter",
            *"10",
            "enter",  # rating 0-10: typed digits, then Enter
            "2",  # single choice: a digit picks at once
            "1",
            "3",
            "ctrl+j",  # multiple choice: digits toggle, ctrl+j sends
            *"line one",
            "enter",
            *"line two",
            "ctrl+j",  # long text: Enter adds a line, ctrl+j sends
            "4",  # rating 1-5: one digit sends at once
            *"grace@example.com",
            "enter",
        )
        await wait_for(pilot, lambda: "Bye Grace" in bubble_texts(app))
    texts = [text for _, text in answers(app)]
    assert texts == ["Grace", "10", "Green", "Tea, Water", "line one\nline two", "4", "grace@example.com"]
    assert [block for block, _ in answers(app)] == input_blocks(app)


async def test_a_digit_never_answers_a_question_that_was_not_shown(make_app, flow_file) -> None:
    # Issue 10: on a 0-10 rating, "1" then "0" stored 1 and the 0 answered the next question.
    app = make_app(flow_file(FIVE))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.focused is answer_area(app).live)
        burst(app, *"Ada", "enter", *"Paris", "enter", "7", "enter", "1", "0")
        await wait_for(
            pilot, lambda: isinstance(answer_area(app).live, RatingRow) and app.focused is answer_area(app).live
        )
        await wait_for(pilot, lambda: answer_area(app).query_one(RatingRow).picked == 10)
        assert [text for _, text in answers(app)] == ["Ada", "Paris", "7"]  # the rating waits for Enter
        burst(app, "backspace", "enter")  # backspace: the typed 10 becomes 1
        await wait_for(pilot, lambda: len(answers(app)) == 4)
        assert answers(app)[-1][1] == "1"
        assert app.session.waiting_input is not None and app.session.waiting_input.kind == "text"


async def test_a_refused_answer_keeps_the_keys_typed_after_it(make_app, flow_file) -> None:
    app = make_app(
        flow_file("""
        name: R
        groups:
          Start:
            - ask: age
              type: number
              max: 120
              retry: Please type a number up to 120.
            - ask: city
    """)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.focused is answer_area(app).live)
        before = app.session.last_seq
        burst(app, *"500", "enter", "backspace", "backspace", "enter", *"Oslo", "enter")
        await wait_for(pilot, lambda: app.session.status == "completed")
    assert [text for _, text in answers(app)] == ["5", "Oslo"]
    assert all(e.data.get("valid", True) for e in app.session.events(after=before) if e.type == "answer")


async def test_keys_typed_with_the_transcript_focused_go_to_the_input(make_app, flow_file) -> None:
    app = make_app(flow_file(FIVE))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.focused is answer_area(app).live)
        transcript = app.chat.transcript
        transcript.focus()
        await wait_for(pilot, lambda: app.focused is transcript)
        burst(app, *"Ada", "enter", *"Oslo", "enter")
        await wait_for(pilot, lambda: len(answers(app)) == 2)
    assert [text for _, text in answers(app)] == ["Ada", "Oslo"]


async def test_answers_neither_rebuild_the_input_nor_the_footer(make_app, flow_file, monkeypatch) -> None:
    from textual.widgets import Footer

    recomposed: list[str] = []
    original = Footer.recompose

    async def counting(self) -> None:
        recomposed.append("footer")
        await original(self)

    monkeypatch.setattr(Footer, "recompose", counting)
    app = make_app(flow_file(FIVE))
    async with app.run_test(size=(100, 30)) as pilot:
        area = answer_area(app)
        await wait_for(pilot, lambda: app.focused is area.live)
        await pilot.pause()
        field = area.live
        recomposed.clear()
        burst(app, *"Ada", "enter", *"Paris", "enter")
        await wait_for(pilot, lambda: len(answers(app)) == 2 and app.session.waiting_input.kind == "number")
        await pilot.pause()
        assert area.live is field  # the same field, updated in place, kept the focus
        burst(app, "7", "enter")  # the next input is a rating: another widget takes the focus
        await wait_for(pilot, lambda: isinstance(area.live, RatingRow) and app.focused is area.live)
        await pilot.pause()
        assert recomposed == []  # the footer's keys did not change, so it was not rebuilt
