"""`steadychat test [PATH…] [--update] [--junit FILE]`: run flow tests in this process.

Exit codes: 0 every case passed, 1 a case failed (its transcript diff is printed), 2 a test file
(or the flow it names) is broken — one line each on stderr: file, line, what and how to fix it.
Cases of intact files still run when another file is broken, so one typo does not hide the rest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tui.chattest.cases import SUFFIX, ChatCase, find_chat_files, load_cases, shown
from tui.chattest.junit import JunitCase, write_junit
from tui.chattest.runner import CaseResult, ChatRunner
from tui.chattest.update import record
from tui.errors import ChatFileError, FlowError


def run_chat_tests(paths: Sequence[Path], *, update: bool, junit: Path | None, out: TextIO, err: TextIO) -> int:
    """Find, run and report; returns the exit code."""
    began = time.perf_counter()
    files = _chat_files(paths, err)
    if not files:
        return 2
    tally = _Tally(err)
    cases: list[ChatCase] = []
    for path in files:
        try:
            cases.extend(load_cases(path))
        except ChatFileError as exc:
            tally.broke(str(exc), str(path))
    edited: set[Path] = set()
    with ChatRunner() as runner:
        for case in cases:
            started = time.perf_counter()
            try:
                case, result = _run_case(runner, case, update=update, edited=edited)
            except (FlowError, ChatFileError) as exc:
                tally.broke(str(exc) if isinstance(exc, ChatFileError) else f"{case.where}: flow: {exc}", case.name)
                continue
            tally.ran(case, result, time.perf_counter() - started)
            _print_result(result, out)
    out.write(f"{tally.summary()} ({len(files)} files, {time.perf_counter() - began:.2f} s)\n")
    if junit is not None:
        write_junit(junit, tally.junit_cases)
    return 2 if tally.broken else 1 if tally.failed else 0


def _chat_files(paths: Sequence[Path], err: TextIO) -> list[Path]:
    """The `*.chat.yaml` files under `paths`; none (and one line on `err`) when there are none."""
    try:
        files = find_chat_files(paths or [Path(".")])
    except ChatFileError as exc:
        err.write(f"{exc}\n")
        return []
    if not files:
        where = ", ".join(str(p) for p in paths) or "."
        err.write(f"{where}: no *{SUFFIX} files found; name your flow tests like greeting{SUFFIX}\n")
    return files


def _run_case(runner: ChatRunner, case: ChatCase, *, update: bool, edited: set[Path]) -> tuple[ChatCase, CaseResult]:
    """Run one case (re-read if an update moved its lines); with `update`, record a differing
    transcript and run the case again."""
    if case.file in edited:  # an earlier update moved its lines
        case = load_cases(case.file)[case.index]
    result = runner.run_case(case)
    if update and result.transcript_differs and result.run is not None:
        record(case, result.run.lines)
        edited.add(case.file)
        result = runner.run_case(load_cases(case.file)[case.index])
        result.updated = True
    return case, result


@dataclass
class _Tally:
    """What the run found so far: results, broken files or cases (already on `err`), JUnit rows."""

    err: TextIO
    results: list[CaseResult] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    junit_cases: list[JunitCase] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(not r.passed for r in self.results)

    def ran(self, case: ChatCase, result: CaseResult, seconds: float) -> None:
        self.results.append(result)
        self.junit_cases.append(JunitCase(case, seconds, None if result.passed else result.report()))

    def broke(self, line: str, name: str) -> None:
        self.broken.append(line)
        self.junit_cases.append(JunitCase(None, 0.0, line, error_name=name))
        self.err.write(f"{line}\n")
        self.err.flush()

    def summary(self) -> str:
        failed = self.failed
        summary = f"{len(self.results) - failed} passed, {failed} failed"
        if self.broken:
            summary += f", {len(self.broken)} broken"
        updated = sum(r.updated for r in self.results)
        if updated:
            summary += f", {updated} transcripts updated"
        return summary


def _print_result(result: CaseResult, out: TextIO) -> None:
    case = result.case
    if result.updated:
        out.write(f"updated {shown(case.golden) if case.golden is not None else case.where}: {case.name}\n")
    if not result.passed:
        out.write(f"FAIL {case.where}: {case.name}\n{result.report()}\n\n")
    out.flush()
