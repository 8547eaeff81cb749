"""Run `steadychat` as a user would, under resource limits, and check what a hostile input left.

Every case runs the real command in a subprocess whose memory (RLIMIT_AS) and CPU time
(RLIMIT_CPU) are capped by the kernel: a case that blows up is killed and fails, so nothing here
asserts on speed. The subprocess timeout is only a guard against a hang.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "hostile"
MEMORY_LIMIT = 200 * 1024 * 1024  # the bound for any flow file up to 1 MB
CPU_LIMIT_S = 5  # the bound, in CPU seconds (a loaded machine does not inflate it)
GUARD_TIMEOUT_S = 60


def _limits(memory: int, cpu_s: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))

    return apply


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def steadychat(
    *args: str | Path,
    stdin: bytes = b"",
    memory: int = MEMORY_LIMIT,
    cpu_s: int = CPU_LIMIT_S,
    env: dict[str, str] | None = None,
) -> Result:
    """`python -m tui ARGS` from the repo, capped in memory and CPU time."""
    done = subprocess.run(
        [sys.executable, "-m", "tui", *map(str, args)],
        input=stdin,
        capture_output=True,
        timeout=GUARD_TIMEOUT_S,
        preexec_fn=_limits(memory, cpu_s),
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    return Result(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


def assert_one_line(result: Result, *, code: int = 2, mentions: str = "") -> str:
    """Exit `code`, exactly one line on stderr (no traceback), naming what it should."""
    assert result.code == code, f"exit {result.code}, expected {code}; stderr:\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(result.err_lines) == 1, f"expected one line on stderr, got:\n{result.stderr[-2000:]}"
    line = result.err_lines[0]
    assert mentions in line, f"{mentions!r} not in {line!r}"
    return line


class Untouched:
    """The bytes of every file in the given folders, to check that nothing changed or appeared
    (no -wal/-shm beside a file we refused, no store created)."""

    def __init__(self, *folders: Path) -> None:
        self.folders = folders
        self.before = self._snapshot()

    def _snapshot(self) -> dict[Path, bytes]:
        files: dict[Path, bytes] = {}
        for folder in self.folders:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    files[path] = path.read_bytes()
        return files

    def check(self) -> None:
        after = self._snapshot()
        assert sorted(after) == sorted(self.before), f"files appeared or vanished: {set(after) ^ set(self.before)}"
        changed = [str(path) for path, data in after.items() if self.before[path] != data]
        assert not changed, f"files changed: {changed}"
