"""Hostile answers: bytes that are not UTF-8 and answers far over the size cap, from a file or stdin.

Each is one line naming where it came from, exit 2, nothing saved for it, and the answers before
it kept; memory stays capped (a 5 MB line is refused after reading 64 KiB of it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.hostile.harness import FIXTURES, Untouched, assert_one_line, steadychat

DEMO = "flows/demo.yaml"


def export(store: Path) -> dict:
    sessions = json.loads(steadychat("sessions", "--json", "--store", store).stdout)
    (session,) = sessions
    return json.loads(steadychat("export", session["id"], "--store", store).stdout)


def answers_of(store: Path) -> list[str]:
    return [e["data"]["text"] for e in export(store)["events"] if e["type"] == "answer"]


def test_answers_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "theirs").mkdir()
    answers = Path(shutil.copy(FIXTURES / "not_utf8_answers.txt", tmp_path / "theirs" / "answers.txt"))
    theirs = Untouched(answers.parent)
    store = tmp_path / "s.db"
    result = steadychat("play", DEMO, "--answers", answers, "--store", store)
    assert_one_line(result, mentions=f"--answers {answers} line 2: not valid UTF-8")
    theirs.check()
    assert answers_of(store) == ["Ada"]  # the line before is kept, nothing saved for line 2


def test_stdin_that_is_not_utf8(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    result = steadychat("play", DEMO, "--store", store, stdin=b"Ada\n\xff\xfe\xfd\n")
    assert_one_line(result, mentions="standard input line 2: not valid UTF-8")
    assert answers_of(store) == ["Ada"]


def test_five_megabyte_answer_is_refused_before_it_is_stored(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    result = steadychat("play", DEMO, "--store", store, stdin=b"Ada\n" + b"x" * 5_000_000 + b"\nmore\n")
    assert_one_line(result, mentions="standard input line 2: the answer is longer than this flow accepts (65,536 bytes")
    assert answers_of(store) == ["Ada"]
    assert store.stat().st_size < 1_000_000  # it grew to 31 MB before


def test_answer_cap_is_set_by_the_flow(tmp_path: Path) -> None:
    flow = Path(shutil.copy(FIXTURES / "small_answers.yaml", tmp_path / "small.yaml"))
    store = tmp_path / "s.db"
    result = steadychat("play", flow, "--store", store, stdin=b"0123456789\n01234567890\n")
    assert_one_line(result, mentions="line 2: the answer is longer than this flow accepts (10 bytes")
    assert "got 0123456789" in result.stdout
    assert answers_of(store) == ["0123456789"]


def test_cap_counts_bytes_not_characters(tmp_path: Path) -> None:
    """Ten characters of two bytes each are 20 bytes: over a 10-byte cap."""
    flow = Path(shutil.copy(FIXTURES / "small_answers.yaml", tmp_path / "small.yaml"))
    result = steadychat("play", flow, "--store", tmp_path / "s.db", stdin="éééééééééé\n".encode())
    assert_one_line(result, mentions="line 1: the answer is longer than this flow accepts")
