"""`steadychat test [PATH…] [--update] [--junit FILE]`: run flow tests in this process.

Exit codes: 0 every case passed, 1 a case failed (its transcript diff is printed), 2 a test file
(or the flow it names) is broken — one line each on stderr: file, line, what and how to fix it.
Cases of intact files still run when another file is broken, so one typo does not hide the rest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
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
    broken: list[str] = []
    junit_cases: list[JunitCase] = []
    try:
        files = find_chat_files(paths or [Path(".")])
    except ChatFileError as exc:
        err.write(f"{exc}\n")
        return 2
    if not files:
        where = ", ".join(str(p) for p in paths) or "."
        err.write(f"{where}: no *{SUFFIX} files found; name your flow tests like greeting{SUFFIX}\n")
        return 2
    cases: list[ChatCase] = []
    for path in files:
        try:
            cases.extend(load_cases(path))
        except ChatFileError as exc:
            _broken(str(exc), str(path), broken, junit_cases, err)
    results: list[CaseResult] = []
    edited: set[Path] = set()
    with ChatRunner() as runner:
        for case in cases:
            started = time.perf_counter()
            try:
                if case.file in edited:  # an earlier update moved its lines
                    case = load_cases(case.file)[case.index]
                result = runner.run_case(case)
                if update and result.transcript_differs and result.run is not None:
                    record(case, result.run.lines)
                    edited.add(case.file)
                    result = runner.run_case(load_cases(case.file)[case.index])
                    result.updated = True
            except (FlowError, ChatFileError) as exc:
                line = str(exc) if isinstance(exc, ChatFileError) else f"{case.where}: flow: {exc}"
                _broken(line, case.name, broken, junit_cases, err)
                continue
            results.append(result)
            junit_cases.append(
                JunitCase(case, time.perf_counter() - started, None if result.passed else result.report())
            )
            _print_result(result, out)
    failed = [r for r in results if not r.passed]
    updated = sum(r.updated for r in results)
    summary = f"{len(results) - len(failed)} passed, {len(failed)} failed"
    if broken:
        summary += f", {len(broken)} broken"
    if updated:
        summary += f", {updated} transcripts updated"
    out.write(f"{summary} ({len(files)} files, {time.perf_counter() - began:.2f} s)\n")
    if junit is not None:
        write_junit(junit, junit_cases)
    return 2 if broken else 1 if failed else 0


def _broken(line: str, name: str, broken: list[str], junit_cases: list[JunitCase], err: TextIO) -> None:
    broken.append(line)
    junit_cases.append(JunitCase(None, 0.0, line, error_name=name))
    err.write(f"{line}\n")
    err.flush()


def _print_result(result: CaseResult, out: TextIO) -> None:
    case = result.case
    if result.updated:
        out.write(f"updated {shown(case.golden) if case.golden is not None else case.where}: {case.name}\n")
    if not result.passed:
        out.write(f"FAIL {case.where}: {case.name}\n{result.report()}\n\n")
    out.flush()
