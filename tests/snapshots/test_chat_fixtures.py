"""The pytest plugin's fixtures as a flow author uses them, in a pytest run of its own (pytester).

`chat_snapshot` is the three-line screen test of the issue: write the picture once with
`--snapshot-update`, then it is checked, and a changed bot message fails it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = ("-p", "pytest_steadychat", "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")


@pytest.fixture
def author(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A team's project: their flow beside their tests. Every run is a process of its own, as
    pytest-textual-snapshot keeps one report folder per process."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    # Under pytest-xdist the author's run would take itself for one of our workers and report its
    # snapshots into our session's report folder: it is a session of its own.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "TEXTUAL_SNAPSHOT_TEMPDIR"):
        monkeypatch.delenv(name, raising=False)
    shutil.copy(REPO / "flows" / "demo.yaml", pytester.path / "bot.yaml")
    return pytester


def test_chat_transcript_plays_a_flow_relative_to_the_test_file(author: pytest.Pytester) -> None:
    author.makepyfile(
        test_bot="""
        def test_greets_by_name(chat_transcript):
            run = chat_transcript("bot.yaml", ["Ada", "not-an-email"])
            assert run.lines[2:4] == ["> Ada", "Nice to meet you, Ada!"]
            assert run.variables["name"] == "Ada" and run.status == "active"
            assert [r.answer for r in run.refusals] == ["not-an-email"]

        def test_fails_on_a_wrong_expectation(chat_transcript):
            assert "Goodbye" in chat_transcript("bot.yaml", ["Ada"]).text
        """
    )
    result = author.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1, failed=1)


def test_chat_snapshot_in_three_lines(author: pytest.Pytester) -> None:
    author.makepyfile(
        test_screens="""
        def test_after_the_name(chat_snapshot):
            assert chat_snapshot("bot.yaml", ["Ada"])
        """
    )
    author.runpytest_subprocess(*PLUGIN, "--snapshot-update").assert_outcomes(passed=1)
    pictures = list((author.path / "__snapshots__").rglob("*.svg"))
    assert [p.name for p in pictures] == ["test_after_the_name.svg"]
    assert "Nice&#160;to&#160;meet&#160;you,&#160;" in pictures[0].read_text(encoding="utf-8")
    author.runpytest_subprocess(*PLUGIN).assert_outcomes(passed=1)

    bot = author.path / "bot.yaml"
    bot.write_text(bot.read_text(encoding="utf-8").replace("Nice to meet you", "Welcome"), encoding="utf-8")
    author.runpytest_subprocess(*PLUGIN).assert_outcomes(failed=1)
