"""Running a case: the transcript `play` would print, its diff, variables, refusals, and `--update`."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.chattest.cases import load_cases
from tui.chattest.runner import ChatRunner
from tui.chattest.update import record

BOT = """\
name: Bot
groups:
  A:
    - say: Hi! What is your name?
    - ask: name
    - ask: age
      type: number
      min: 1
      retry: A number from 1, please.
    - say: Thanks {{name}}, {{age}} it is.
    - set: ticket
      op: random id
    - say: "Ticket {{ticket}}"
"""


@pytest.fixture
def runner() -> Iterator[ChatRunner]:
    with ChatRunner() as opened:
        yield opened


def _chat(folder: Path, text: str) -> Path:
    (folder / "bot.yaml").write_text(BOT, encoding="utf-8")
    path = folder / "bot.chat.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_transcript_is_what_play_prints_and_is_the_same_every_run(runner: ChatRunner, tmp_path: Path) -> None:
    _chat(tmp_path, "[]\n")
    first = runner.play(tmp_path / "bot.yaml", ["Ada", "0", "36"])
    again = runner.play(tmp_path / "bot.yaml", ["Ada", "0", "36"])
    assert first.lines[:7] == [
        "Hi! What is your name?",
        "> Ada",
        "> 0",
        "A number from 1, please.",
        "> 36",
        "Thanks Ada, 36 it is.",
        first.lines[6],
    ]
    assert first.lines[6].startswith("Ticket ")
    assert again.lines == first.lines, "fixed seed: the random id is the same in every run"
    assert (first.status, first.variables["name"], first.variables["age"]) == ("completed", "Ada", "36")
    assert [(r.answer, r.message) for r in first.refusals] == [("0", "A number from 1, please.")]


def test_a_changed_message_fails_with_a_unified_diff(runner: ChatRunner, tmp_path: Path) -> None:
    path = _chat(
        tmp_path,
        """\
        - name: greets
          flow: bot.yaml
          answers: [Ada]
          transcript: |
            Hello! What is your name?
            > Ada
        """,
    )
    result = runner.run_case(load_cases(path)[0])
    assert not result.passed and result.transcript_differs
    report = result.report()
    assert "--- expected" in report and "+++ actual" in report
    assert "-Hello! What is your name?\n+Hi! What is your name?\n > Ada" in report


def test_variables_and_refusals_are_checked(runner: ChatRunner, tmp_path: Path) -> None:
    path = _chat(
        tmp_path,
        """\
        - name: right
          flow: bot.yaml
          answers: [Ada, "0", "36"]
          transcript: ""
          variables: {name: Ada, age: 36}
          refusals: [{answer: "0", message: "A number from 1, please."}]
        - name: wrong
          flow: bot.yaml
          answers: [Ada, "36"]
          variables: {name: Bob, nickname: x}
          refusals: ["0"]
        """,
    )
    right, wrong = (runner.run_case(case) for case in load_cases(path))
    assert right.problems == [right.problems[0]] and right.transcript_differs  # only the empty transcript
    assert wrong.problems[1:] == [
        "variable 'name': expected 'Bob', got 'Ada'",
        "variable 'nickname': the flow has no such variable (variables: age, name, ticket)",
        "refusals differ:\n  expected: '0'\n  actual:   none",
    ]


def test_update_rewrites_only_the_transcript_keeping_comments(runner: ChatRunner, tmp_path: Path) -> None:
    path = _chat(
        tmp_path,
        """\
        # my comment stays
        - name: stale
          flow: bot.yaml   # and this one
          transcript: |
            old line

        - name: new
          flow: bot.yaml
          answers:
            - Ada
          # trailing comment

        - name: empty
          flow: bot.yaml
          transcript:
          answers: [Ada]
        """,
    )
    for index in range(3):
        case = load_cases(path)[index]
        run = runner.play(case.flow, case.answers)
        record(case, run.lines)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# my comment stays\n- name: stale\n  flow: bot.yaml   # and this one\n")
    assert "  transcript: |\n    Hi! What is your name?\n\n- name: new" in text
    assert "    - Ada\n  transcript: |\n    Hi! What is your name?\n    > Ada\n  # trailing comment\n" in text
    assert "  transcript: |\n    Hi! What is your name?\n    > Ada\n  answers: [Ada]\n" in text
    assert all(runner.run_case(case).passed for case in load_cases(path))


def test_update_writes_golden_files_and_keeps_odd_lines_exact(runner: ChatRunner, tmp_path: Path) -> None:
    path = _chat(tmp_path, "- {flow: bot.yaml, golden: golden/g.txt, answers: [Ada]}\n- flow: bot.yaml\n")
    golden_case, inline_case = load_cases(path)
    record(golden_case, ["  indented", "", "# not a comment", "trailing  "])
    assert (tmp_path / "golden" / "g.txt").read_text(encoding="utf-8") == "  indented\n\n# not a comment\ntrailing  \n"
    record(inline_case, ["  indented", "", "# not a comment", "x: y", "- z", ""])
    assert load_cases(path)[1].transcript == ("  indented", "", "# not a comment", "x: y", "- z", "")


def test_an_answer_the_session_cannot_take_fails_the_case_not_the_run(runner: ChatRunner, tmp_path: Path) -> None:
    path = _chat(tmp_path, '- flow: bot.yaml\n  answers: ["\\ud800"]\n  transcript: ""\n')
    result = runner.run_case(load_cases(path)[0])
    assert result.run is None
    assert result.problems[0].startswith("an answer cannot be given: ")
