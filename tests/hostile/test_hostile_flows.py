"""Crafted flow files: one line naming file and line, exit 2, bounded memory and CPU, file untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.hostile.harness import FIXTURES, Untouched, assert_one_line, steadychat


def copy_fixture(tmp_path: Path, name: str) -> Path:
    """A private copy, so that the folder holds only files that are not ours."""
    folder = tmp_path / "theirs"
    folder.mkdir(exist_ok=True)
    return Path(shutil.copy(FIXTURES / name, folder / name))


@pytest.mark.parametrize("command", ["validate", "play"])
def test_alias_amplification_is_refused_at_the_alias(tmp_path: Path, command: str) -> None:
    """2.4 KB whose aliases expand to 240,000 choices: refused at the alias over the budget."""
    flow = copy_fixture(tmp_path, "alias_bomb.yaml")
    theirs = Untouched(flow.parent)
    args: list[str | Path] = [command, flow]
    if command == "play":
        args += ["--store", tmp_path / "s.db"]
    line = assert_one_line(steadychat(*args), mentions="aliases")
    assert f"{flow}:" in line
    theirs.check()
    assert not (tmp_path / "s.db").exists()  # a flow we refuse starts no session


def test_alias_cycle_is_refused(tmp_path: Path) -> None:
    flow = copy_fixture(tmp_path, "alias_cycle.yaml")
    assert_one_line(steadychat("validate", flow), mentions=f"{flow}:4: an alias refers to its own anchor")


@pytest.mark.parametrize("name", ["deep_400.yaml", "deep_400.json", "deep_400_typebot.json"])
def test_deep_nesting_is_one_line(tmp_path: Path, name: str) -> None:
    flow = copy_fixture(tmp_path, name)
    theirs = Untouched(flow.parent)
    line = assert_one_line(steadychat("validate", flow), mentions="nested more than 100 levels deep")
    assert f"{flow}:" in line
    theirs.check()


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_nesting_a_hundred_thousand_levels_is_one_line(tmp_path: Path, suffix: str) -> None:
    """200 KB of brackets: no parser may recurse into it."""
    flow = tmp_path / f"deeper{suffix}"
    flow.write_text(
        '{"name": "D", "groups": {"G": [{"say": "hi"}]}, "variables": {"v": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    )
    assert_one_line(steadychat("validate", flow), mentions="nested more than 100 levels deep")


def test_json_flow_of_a_megabyte_is_parsed_as_json(tmp_path: Path) -> None:
    """1 MB of JSON validates within the CPU and memory caps (PyYAML took seconds per MB)."""
    flow = tmp_path / "big.json"
    groups = {f"G{i}": [{"say": f"message {i} " + "x" * 40}, {"ask": f"v{i}"}] for i in range(9_000)}
    flow.write_text(json.dumps({"name": "Big", "groups": groups}, indent=1))
    assert flow.stat().st_size > 1_000_000
    result = steadychat("validate", flow)
    assert result.code == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"{flow}: ok (Big: 9000 groups)"


def test_yaml_flow_of_a_megabyte_validates_within_the_caps(tmp_path: Path) -> None:
    """27,000 blocks in 1 MB of plain YAML: libyaml's event parser, bounded composition.
    3.6 CPU-seconds on a quiet machine (9.1 before); capped at 7 because CPU time inflates when
    the two cores are shared."""
    flow = tmp_path / "big.yaml"
    lines = ["name: Big", "groups:"]
    for group in range(2_500):
        lines.append(f"  G{group}:")
        lines += [f"    - say: hello number {n} of {{{{name}}}}" for n in range(10)]
        lines.append(f"    - ask: v{group}")
    flow.write_text("\n".join(lines) + "\n")
    assert flow.stat().st_size > 1_000_000
    result = steadychat("validate", flow, cpu_s=7)
    assert result.code == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"{flow}: ok (Big: 2500 groups)"


def test_json_flow_errors_keep_their_line_without_yaml(tmp_path: Path) -> None:
    """Tab indentation is JSON but not YAML: the line used to be lost."""
    flow = copy_fixture(tmp_path, "tabs.json")
    assert_one_line(steadychat("validate", flow), mentions=f"{flow}:4: goto: no group named 'Nowhere'")


def test_catastrophic_regex_condition_is_an_unusable_pattern(tmp_path: Path) -> None:
    """`/^(a|a)+$/` on 34 a's and a b: the match runs out of time (0.1 s) and counts as no match,
    as an invalid pattern does; the conversation goes on (documented in docs/flow-format.md)."""
    flow = copy_fixture(tmp_path, "redos.yaml")
    answers = copy_fixture(tmp_path, "redos_answers.txt")
    theirs = Untouched(flow.parent)
    result = steadychat("play", flow, "--answers", answers, "--store", tmp_path / "s.db")
    assert result.code == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == "no match"
    assert "Traceback" not in result.stderr
    theirs.check()
