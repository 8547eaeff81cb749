"""Replay a case's answers through a real `Session` and compare what it said with what was expected.

Deterministic by construction: a fixed clock, a fixed seed, fixed session ids, and no sync (so no
network). One runner keeps one throw-away store for all its cases, and each flow file is compiled
once, so a hundred cases run in one process in well under a second each.
"""

from __future__ import annotations

import difflib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tui.chattest.cases import ChatCase, Refusal, shown
from tui.errors import AnswerError, EngineError
from tui.events import data_of
from tui.flow.loader import load_flow
from tui.flow.model import Flow, VariableValue
from tui.session import Session
from tui.steps import StoredEvent
from tui.store import Store
from tui.transcript import headless_lines

FIXED_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
"""The same instant the TUI test factory (tui/app/testing.py) uses."""
SEED = 7


def fixed_clock() -> datetime:
    return FIXED_NOW


def transcript_lines(event: StoredEvent) -> list[str]:
    """A transcript is what `steadychat play` prints, plus a line where the flow stopped on an error."""
    if event.type == "error":
        return [f"[error: {data_of(event, 'error').get('text', '')}]"]
    return headless_lines(event)


@dataclass
class ChatRun:
    """What one conversation produced: its transcript lines, final variables (by name) and refusals."""

    lines: list[str]
    variables: dict[str, VariableValue]
    refusals: list[Refusal]
    status: str
    unused_answers: int = 0

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n" if self.lines else ""

    def __str__(self) -> str:
        return self.text


@dataclass
class CaseResult:
    """A case's outcome: passed, or the reasons it failed (diff first)."""

    case: ChatCase
    run: ChatRun | None
    expected: list[str] | None
    problems: list[str] = field(default_factory=list)
    transcript_differs: bool = False
    updated: bool = False

    @property
    def passed(self) -> bool:
        return not self.problems

    def report(self) -> str:
        """The failure as the author reads it: a unified diff of the transcript, then other mismatches."""
        return "\n".join(self.problems)


class ChatRunner:
    """Runs cases in this process on a private store; `close()` removes it."""

    def __init__(self, workdir: Path | None = None) -> None:
        self._tmp = None if workdir is not None else tempfile.TemporaryDirectory(prefix="steadychat-test-")
        folder = workdir if workdir is not None else Path(self._tmp.name)  # type: ignore[union-attr]
        self.store = Store.open(folder / "chat-tests.db")
        self._flows: dict[Path, Flow] = {}
        self._ids = _session_ids()

    def close(self) -> None:
        self.store.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> ChatRunner:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def flow(self, path: Path) -> Flow:
        """The flow at `path`, compiled once per run (FlowError names its file and line)."""
        key = path.resolve()
        if key not in self._flows:
            self._flows[key] = load_flow(key)
        return self._flows[key]

    def play(self, flow_path: Path, answers: Sequence[str]) -> ChatRun:
        """Start the flow and give it the answers, one per waiting input, until they or the flow run out."""
        flow = self.flow(flow_path)
        session = Session.start(self.store, flow, clock=fixed_clock, seed=SEED, session_id=next(self._ids))
        try:
            events = session.events()
            given = 0
            for answer in answers:
                if session.status != "active":
                    break
                events.extend(session.answer(str(answer)))
                given += 1
            return ChatRun(
                lines=[line for event in events for line in transcript_lines(event)],
                variables=_by_name(flow, session.state.variables),
                refusals=_refusals(events),
                status=session.status,
                unused_answers=len(answers) - given,
            )
        finally:
            session.close()

    def run_case(self, case: ChatCase) -> CaseResult:
        """Play the case and compare. A broken flow file raises FlowError: the test cannot run."""
        expected = case.expected_lines()
        try:
            run = self.play(case.flow, case.answers)
        except EngineError as exc:
            return CaseResult(case, None, expected, [f"the flow stopped: {exc}"])
        except AnswerError as exc:  # over the flow's answer cap, or not text: nothing was recorded
            return CaseResult(case, None, expected, [f"an answer cannot be given: {exc}"])
        result = CaseResult(case, run, expected)
        if expected is None:
            where = (
                f"golden file {shown(case.golden)} is missing" if case.golden is not None else "no expected transcript"
            )
            result.problems.append(f"{where}; record it with `steadychat test --update` (or pytest --chat-update)")
            result.transcript_differs = True
        elif expected != run.lines:
            result.transcript_differs = True
            result.problems.append(transcript_diff(case, expected, run.lines))
        if case.variables is not None:
            result.problems.extend(_variable_problems(case.variables, run.variables))
        if case.refusals is not None and list(case.refusals) != _comparable(case.refusals, run.refusals):
            result.problems.append(
                "refusals differ:\n"
                f"  expected: {', '.join(r.describe() for r in case.refusals) or 'none'}\n"
                f"  actual:   {', '.join(r.describe() for r in run.refusals) or 'none'}"
            )
        return result


def transcript_diff(case: ChatCase, expected: Sequence[str], actual: Sequence[str]) -> str:
    """A unified diff, expected → actual, labelled with where the expectation lives."""
    source = shown(case.golden) if case.golden is not None else f"{case.where} ({case.name})"
    lines = difflib.unified_diff(list(expected), list(actual), f"expected {source}", "actual", lineterm="")
    return "transcript differs:\n" + "\n".join(lines)


def _comparable(expected: Sequence[Refusal], actual: Sequence[Refusal]) -> list[Refusal]:
    """The actual refusals, without their messages where the expectation names none."""
    result = []
    for index, refusal in enumerate(actual):
        wanted = expected[index] if index < len(expected) else None
        result.append(Refusal(refusal.answer) if wanted is not None and wanted.message is None else refusal)
    return result


def _variable_problems(expected: dict[str, VariableValue], actual: dict[str, VariableValue]) -> list[str]:
    problems = []
    for name, value in expected.items():
        if name not in actual:
            known = ", ".join(sorted(actual)) or "none"
            problems.append(f"variable {name!r}: the flow has no such variable (variables: {known})")
        elif actual[name] != value:
            problems.append(f"variable {name!r}: expected {value!r}, got {actual[name]!r}")
    return problems


def _by_name(flow: Flow, values: dict[str, VariableValue]) -> dict[str, VariableValue]:
    """Variables are keyed by id in the engine (Typebot ids like `vabc…`); authors name them."""
    names = {variable.id: variable.name for variable in flow.variables}
    return {names.get(key, key): value for key, value in values.items()}


def _refusals(events: list[StoredEvent]) -> list[Refusal]:
    """Refused answers (`answer.valid` false) and the retry message that follows each, if any."""
    refusals: list[Refusal] = []
    for event, following in zip(events, [*events[1:], None], strict=True):
        if event.type != "answer" or data_of(event, "answer").get("valid", True):
            continue
        retry = data_of(following, "message") if following is not None and following.type == "message" else None
        message = str(retry.get("text", "")) if retry is not None and retry.get("retry") else None
        refusals.append(Refusal(str(data_of(event, "answer").get("text", "")), message))
    return refusals


def _session_ids() -> Iterator[str]:
    """`c4a70001…`, `c4a70002…`: fixed, uuid-hex-shaped ids, one per case."""
    n = 0
    while True:
        n += 1
        yield f"c4a7{n:04x}".ljust(32, "0")
