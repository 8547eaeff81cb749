"""The bundled flows ship inside the package: `flows/` is their single source, the wheel build copies
them into `tui/flows/`, and a bare name on the command line finds them from any folder.

`.ci/wheel` checks the built wheel itself in a fresh venv; these tests check the parts a checkout has.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tui.paths import bundled_flows_dir, flow_argument

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_carries_every_flow_of_flows_but_not_their_tests() -> None:
    selected = runpy.run_path(str(ROOT / "setup.py"), run_name="setup_under_test")["bundled_flow_files"]()
    names = {path.name for path in selected}
    assert names == {
        "demo.yaml",
        "onboarding.yaml",
        "support.yaml",
        "survey.yaml",
        "steadychat-flow.schema.json",
        "steadychat-chat.schema.json",
    }
    assert all(path.parent == ROOT / "flows" for path in selected)


def test_a_checkout_reads_the_repository_flows_folder() -> None:
    assert bundled_flows_dir() == ROOT / "flows"
    assert not (ROOT / "tui" / "flows").exists(), "flows/ is the single source; the wheel build makes tui/flows/"


def test_a_bare_name_is_a_bundled_flow_and_a_path_stays_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert flow_argument(Path("demo")) == ROOT / "flows" / "demo.yaml"
    assert flow_argument(Path("survey.yaml")) == ROOT / "flows" / "survey.yaml"
    assert flow_argument(Path("sub/demo")) == Path("sub/demo")
    (tmp_path / "demo").write_text("name: Mine\ngroups:\n  A:\n    - say: mine\n", encoding="utf-8")
    assert flow_argument(Path("demo")) == Path("demo"), "the author's own file wins"


def test_play_demo_runs_from_a_folder_without_flows(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui", "play", "demo", "--store", str(tmp_path / "s.db")],
        input="Ada\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2:4] == ["> Ada", "Nice to meet you, Ada!"]
