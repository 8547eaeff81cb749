"""`*.chat.yaml` files: what a case reads as, and one line (file:line: what; fix) for each mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from tui.chattest.cases import CASE_KEYS, Refusal, find_chat_files, load_cases
from tui.chattest.schema import ChatCaseModel, ChatFile, schema_text
from tui.errors import ChatFileError

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"


def _write(folder: Path, text: str, name: str = "t.chat.yaml") -> Path:
    (folder / "bot.yaml").write_text("name: Bot\ngroups:\n  A:\n    - say: Hi\n    - ask: name\n", encoding="utf-8")
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_case_reads_with_paths_relative_to_its_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        # a comment
        - name: greets
          flow: bot.yaml
          answers: [Ada, 36, true]
          transcript: |
            Hi
            > Ada
          variables: {name: Ada, tags: [a, null], gone: null}
          refusals: [x, {answer: 0, message: "Again?"}]
        - flow: bot.yaml
          golden: golden/second.txt
        """,
    )
    first, second = load_cases(path)
    assert (first.name, first.line, first.flow) == ("greets", 2, (tmp_path / "bot.yaml").resolve())
    assert first.answers == ("Ada", "36", "true")
    assert first.transcript == ("Hi", "> Ada")
    assert first.variables == {"name": "Ada", "tags": ["a", None], "gone": None}
    assert first.refusals == (Refusal("x"), Refusal("0", "Again?"))
    assert (second.name, second.line, second.answers, second.transcript) == ("case 2", 10, (), None)
    assert second.golden == (tmp_path / "golden" / "second.txt").resolve()
    assert second.expected_lines() is None  # not recorded yet


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("flow: bot.yaml\n", "t.chat.yaml:1: expected a list of cases; start each case with `- flow: ...`"),
        ("- flow: bot.yaml\n  answers: {a: 1}\n", "t.chat.yaml:2: answers: expected a list, got a mapping;"),
        ("- flow: bot.yaml\n  transcipt: x\n", "t.chat.yaml:2: transcipt: unknown key (known: name, flow,"),
        ("- answers: [a]\n", "t.chat.yaml:1: case 1: add `flow:` (the flow file, relative to this test file)"),
        ("- flow: nope.yaml\n", "t.chat.yaml:1: flow: nope.yaml not found next to this test file"),
        ("- flow: bot.yaml\n  transcript: x\n  golden: g.txt\n", "t.chat.yaml:3: golden: give the expected"),
        ("- flow: bot.yaml\n- flow: bot.yaml\n  name: case 1\n", "t.chat.yaml:2: name: 'case 1' is already used"),
        ("- flow: bot.yaml\n  answers: [a\n", "t.chat.yaml:3: invalid YAML: "),
        ("- flow: bot.yaml\n  refusals: [{text: a}]\n", "t.chat.yaml:2: refusals: each item is an answer, or a"),
        ("- flow: bot.yaml\n  variables: {a: {b: c}}\n", "t.chat.yaml:2: variables: a: expected text, a list or"),
        ("", "t.chat.yaml:1: empty test file; add a list of cases"),
    ],
)
def test_a_broken_file_is_one_line_naming_file_line_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, text)
    with pytest.raises(ChatFileError) as caught:
        load_cases(path)
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_files_are_found_recursively_skipping_hidden_folders_and_venvs(tmp_path: Path) -> None:
    for relative in ("a.chat.yaml", "sub/deeper/b.chat.yaml", ".git/c.chat.yaml", "venv/d.chat.yaml", "e.yaml"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("[]\n", encoding="utf-8")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("", encoding="utf-8")
    found = find_chat_files([tmp_path, tmp_path / "a.chat.yaml"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.chat.yaml", "sub/deeper/b.chat.yaml"]
    with pytest.raises(ChatFileError, match="no such file or folder"):
        find_chat_files([tmp_path / "missing"])


# --- the JSON Schema and the bundled flows' tests -------------------------------------------


def test_committed_schema_is_up_to_date() -> None:
    committed = (FLOWS / "steadychat-chat.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "flows/steadychat-chat.schema.json is stale; regenerate it with: "
        "python -m tui.chattest.schema > flows/steadychat-chat.schema.json"
    )


def test_schema_keys_are_the_readers_keys() -> None:
    assert set(ChatCaseModel.model_fields) == set(CASE_KEYS)


def test_every_bundled_flow_has_flow_tests_that_match_the_schema() -> None:
    chat_files = sorted(FLOWS.rglob("*.chat.yaml"))
    tested = {case.flow.name for path in chat_files for case in load_cases(path)}
    bundled = {p.name for p in FLOWS.glob("*.yaml") if not p.name.endswith(".chat.yaml")}
    assert bundled <= tested
    assert any(name.endswith(".json") for name in tested), "a Typebot export is tested the same way"
    for path in chat_files:
        ChatFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=")
