"""Every real Typebot export in the corpus starts under `play`; a few run end to end.

Skipped cleanly when the corpus folder (../shared/corpus/typebot) is absent.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.corpus import corpus_dir
from tui.headless import play_flow
from tui.store import Store

CORPUS = corpus_dir()
pytestmark = pytest.mark.skipif(CORPUS is None, reason="Typebot corpus folder not present")
EXPORTS = sorted(p.name for p in CORPUS.glob("*.json")) if CORPUS else []


def play(tmp_path: Path, name: str, answers: list[str], *, new: bool = True) -> tuple[int, list[str], str]:
    assert CORPUS is not None
    out, err = io.StringIO(), io.StringIO()
    code = play_flow(
        CORPUS / name,
        store_path=tmp_path / "s.db",
        answers=io.StringIO("".join(a + "\n" for a in answers)),
        as_json=False,
        new=new,
        session_id=None,
        server=None,
        token=None,
        out=out,
        err=err,
    )
    return code, out.getvalue().splitlines(), err.getvalue()


@pytest.mark.parametrize("name", EXPORTS)
def test_every_export_starts(tmp_path: Path, name: str) -> None:
    code, _lines, err = play(tmp_path, name, [])
    assert code == 0, err
    with Store.open(tmp_path / "s.db") as store:
        (record,) = store.sessions()
        events = store.events(record.id)
    assert events[0].type == "start"
    assert events[-1].type in ("input", "end"), f"{name} stopped with {events[-1]}"


def test_at_least_38_exports_reach_an_input_or_say_something(tmp_path: Path) -> None:
    started = 0
    for index, name in enumerate(EXPORTS):
        code, lines, _ = play(tmp_path / str(index), name, [])
        started += code == 0 and bool(lines)
    assert started >= 38


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["15"], ["How old are you?", "> 15", "You are younger than 20"]),
        (
            ["abc", "70"],
            ["How old are you?", "> abc", "Invalid message. Please, try again.", "> 70", "You are older than 20"],
        ),
    ],
)
def test_condition_bot(tmp_path: Path, answers: list[str], expected: list[str]) -> None:
    assert play(tmp_path, "condition.json", answers)[1] == expected


def test_linked_bots_run_through_three_exports(tmp_path: Path) -> None:
    _code, lines, _ = play(tmp_path, "linkTypebots-1.json", ["hello", "world"])
    assert lines == [
        "Hey!",
        "> hello",
        "First test message",
        "[note: client script failed (Set variable URL): ReferenceError: location is not defined; its text is stored]",
        "> world",
        "Cheers!",
        "test 3",
        "end 3",
        "End",
    ]


def test_faq_choice_follows_the_item_edge(tmp_path: Path) -> None:
    lines = play(tmp_path, "faq.json", ["What's Analyzr?"])[1]
    assert lines[4:6] == [
        "> What's Analyzr?",
        "Analyzr is a simple and privacy-friendly analytics tool for your website",
    ]
    assert lines[-1] == "[choices: Sounds good!]"


def test_payment_is_skipped_with_a_note(tmp_path: Path) -> None:
    lines = play(tmp_path, "payment.json", [])[1]
    assert lines == [
        "Welcome to AA (Awesome Agency)",
        "[note: skipped payment input: payments are not supported in a terminal]",
        "Thank you!",
    ]


def test_v5_and_v6_exports_say_the_same(tmp_path: Path) -> None:
    v5 = play(tmp_path / "a", "v5-startingWithInput.json", ["hi"])[1]
    v6 = play(tmp_path / "b", "startingWithInput.json", ["hi"])[1]
    assert v5 == v6 and "> hi" in v5
