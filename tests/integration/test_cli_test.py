"""`steadychat test` and `pytest` on flow tests as an author runs them: real processes on a copy of flows/."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GREETING = "Nice to meet you, **{{name}}**!"


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, *command], capture_output=True, text=True, timeout=180, cwd=cwd, env=env, check=False
    )


def steadychat_test(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run("-m", "tui", "test", *args, cwd=cwd)


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run("-m", "pytest", "-p", "pytest_steadychat", "-p", "no:cacheprovider", "-q", *args, cwd=cwd)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    """An author's copy of the repository's flows/ and their tests."""
    return Path(shutil.copytree(REPO / "flows", tmp_path / "flows"))


def test_the_bundled_flows_pass_and_a_junit_report_lists_every_case(flows: Path) -> None:
    result = steadychat_test("flows", "--junit", "report.xml", cwd=flows.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("12 passed, 0 failed (5 files, ")
    suite = ET.parse(flows.parent / "report.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("12", "0", "0")
    names = {(case.get("classname"), case.get("name")) for case in suite.iter("testcase")}
    assert ("flows.typebot.colors", "a favourite colour is remembered") in names


def test_a_changed_bot_message_fails_both_runners_with_the_diff_and_update_fixes_it(flows: Path) -> None:
    demo = flows / "demo.yaml"
    demo.write_text(demo.read_text(encoding="utf-8").replace(GREETING, "Welcome, **{{name}}**!"), encoding="utf-8")

    failed = steadychat_test("flows", "--junit", "report.xml", cwd=flows.parent)
    assert failed.returncode == 1
    assert "FAIL flows/demo.chat.yaml:5: five stars after the offline topic" in failed.stdout
    assert "--- expected flows/golden/demo-low-rating.txt\n+++ actual\n" in failed.stdout
    assert "-Nice to meet you, Ada!\n+Welcome, Ada!\n" in failed.stdout
    assert failed.stdout.splitlines()[-1].startswith("9 passed, 3 failed (5 files, ")
    report = ET.parse(flows.parent / "report.xml").getroot()
    assert [f.text.splitlines()[:1] for f in report.iter("failure")] == [["transcript differs:"]] * 3  # type: ignore[union-attr]

    pytest_failed = pytest_run("flows", cwd=flows.parent)
    assert pytest_failed.returncode == 1
    assert "-Nice to meet you, Ada!\n+Welcome, Ada!\n" in pytest_failed.stdout
    assert "3 failed, 9 passed" in pytest_failed.stdout

    updated = steadychat_test("flows", "--update", cwd=flows.parent)
    assert updated.returncode == 0, updated.stdout
    assert "updated flows/golden/demo-low-rating.txt: a low rating asks what to improve" in updated.stdout
    assert "Welcome, Linus!" in (flows / "golden" / "demo-low-rating.txt").read_text(encoding="utf-8")
    chat = (flows / "demo.chat.yaml").read_text(encoding="utf-8")
    assert "    Welcome, Ada!\n" in chat and "# Format reference: docs/flow-tests.md." in chat

    assert steadychat_test("flows", cwd=flows.parent).returncode == 0
    assert pytest_run("flows", cwd=flows.parent).returncode == 0


def test_pytest_chat_update_records_transcripts_too(flows: Path) -> None:
    demo = flows / "demo.yaml"
    demo.write_text(demo.read_text(encoding="utf-8").replace(GREETING, "Hello **{{name}}**."), encoding="utf-8")
    assert pytest_run("flows/demo.chat.yaml", "--chat-update", cwd=flows.parent).returncode == 0
    assert steadychat_test("flows", cwd=flows.parent).returncode == 0


def test_a_broken_test_file_is_exit_2_with_one_line_and_the_rest_still_runs(flows: Path) -> None:
    (flows / "broken.chat.yaml").write_text("- flow: demo.yaml\n  answer: [Ada]\n", encoding="utf-8")
    result = steadychat_test("flows", cwd=flows.parent)
    assert result.returncode == 2
    assert result.stderr == (
        "flows/broken.chat.yaml:2: answer: unknown key (known: name, flow, answers, transcript, golden, "
        "variables, refusals)\n"
    )
    assert result.stdout.splitlines()[-1].startswith("12 passed, 0 failed, 1 broken")
    collected = pytest_run("flows", cwd=flows.parent)
    assert collected.returncode == 2 and "flows/broken.chat.yaml:2: answer: unknown key" in collected.stdout


def test_no_tests_or_a_missing_path_is_exit_2(tmp_path: Path) -> None:
    empty = steadychat_test(cwd=tmp_path)
    assert (empty.returncode, empty.stderr) == (
        2,
        ".: no *.chat.yaml files found; name your flow tests like greeting.chat.yaml\n",
    )
    missing = steadychat_test("nowhere", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr == "nowhere: no such file or folder; give a *.chat.yaml file or a folder holding some\n"


def test_a_broken_flow_named_by_a_case_is_exit_2_naming_both_files(flows: Path) -> None:
    (flows / "demo.yaml").write_text("name: Demo\ngroups:\n  A:\n    - sya: hi\n", encoding="utf-8")
    result = steadychat_test("flows/demo.chat.yaml", cwd=flows.parent)
    assert result.returncode == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("flows/demo.chat.yaml:5: flow: ") and "demo.yaml:4: unknown block 'sya'" in first
    assert "Traceback" not in result.stderr
