"""SteadyChat's pytest plugin (entry point `pytest11`): flow tests for teams that write flows.

- every `*.chat.yaml` file is collected; each case is a test item that fails with the same
  transcript diff `steadychat test` prints (`--chat-update` records the actual transcripts);
- fixture `chat_transcript(flow, answers)` plays a flow headless and returns what it said;
- fixture `chat_snapshot(flow, answers, size=(100, 30))` shows the real TUI at that point and
  compares the screen with pytest-textual-snapshot's `snap_compare`.

This module sits outside the `tui` package and imports it only inside hooks and fixtures, after
pytest has set up `sys.path` (as Hypothesis does with `_hypothesis_pytestplugin`): loading the
plugin must not decide which `tui` a test session imports, nor load the app for a run that never
asks for a screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tui.chattest.cases import ChatCase
    from tui.chattest.runner import ChatRun, ChatRunner

CHAT_SUFFIX = ".chat.yaml"
_RUNNER = pytest.StashKey["ChatRunner"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("steadychat", "SteadyChat flow tests")
    group.addoption(
        "--chat-update",
        action="store_true",
        default=False,
        help="Record the actual transcripts of failing *.chat.yaml cases as the expected ones.",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(CHAT_SUFFIX):
        return ChatFile.from_parent(parent, path=file_path)
    return None


def _runner(config: pytest.Config) -> ChatRunner:
    """One private store for the whole test session, removed at its end."""
    if _RUNNER not in config.stash:
        from tui.chattest.runner import ChatRunner

        runner = ChatRunner()
        config.stash[_RUNNER] = runner
        config.add_cleanup(runner.close)
    return config.stash[_RUNNER]


class ChatFile(pytest.File):
    """A `*.chat.yaml` file: one item per case; a broken file is one collection error line."""

    def collect(self) -> Iterator[ChatItem]:
        from tui.chattest.cases import load_cases
        from tui.errors import ChatFileError

        try:
            cases = load_cases(self.path)
        except ChatFileError as exc:
            raise self.CollectError(str(exc)) from None
        for case in cases:
            yield ChatItem.from_parent(self, name=case.name, case=case)


class ChatCaseFailed(Exception):
    """A case's expectations were not met; the message is the report (diff first)."""


class ChatItem(pytest.Item):
    """One case of a `*.chat.yaml` file."""

    def __init__(self, *, case: ChatCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        from tui.chattest.cases import load_cases
        from tui.chattest.update import record
        from tui.errors import FlowError

        runner = _runner(self.config)
        case = self.case
        if self.config.getoption("chat_update"):  # an earlier item of this file may have moved its lines
            case = load_cases(case.file)[case.index]
        try:
            result = runner.run_case(case)
        except FlowError as exc:
            raise ChatCaseFailed(f"flow: {exc}") from None
        if self.config.getoption("chat_update") and result.transcript_differs and result.run is not None:
            record(case, result.run.lines)
            result = runner.run_case(load_cases(case.file)[case.index])
        if not result.passed:
            raise ChatCaseFailed(result.report())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from tui.errors import SteadyChatError

        if isinstance(excinfo.value, (ChatCaseFailed, SteadyChatError)):
            return f"{self.case.where}: {self.case.name}\n{excinfo.value}"
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"chat case: {self.case.name}"


def _flow_path(request: pytest.FixtureRequest, flow: str | Path) -> Path:
    """A flow path relative to the test file, as in a `*.chat.yaml` case."""
    path = Path(flow)
    return path if path.is_absolute() else Path(request.path).parent / path


@pytest.fixture
def chat_transcript(request: pytest.FixtureRequest) -> Callable[[str | Path, Sequence[str]], ChatRun]:
    """`chat_transcript(flow, answers)`: play the flow headless (fixed clock, ids and seed, no
    network) and return a `ChatRun`: `.lines`, `.text`, `.variables` (by name), `.refusals`."""
    runner = _runner(request.config)

    def play(flow: str | Path, answers: Sequence[str] = ()) -> ChatRun:
        return runner.play(_flow_path(request, flow), [str(answer) for answer in answers])

    return play


@pytest.fixture
def chat_snapshot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., bool]]:
    """`chat_snapshot(flow, answers, size=(100, 30))`: the real TUI on the flow after these answers,
    compared with the SVG snapshot beside the test (`--snapshot-update` writes it). Answers are
    committed through the session before the app starts, so the picture does not depend on typing."""
    try:
        snap_compare = request.getfixturevalue("snap_compare")
    except pytest.FixtureLookupError:
        pytest.fail("chat_snapshot needs pytest-textual-snapshot: pip install pytest-textual-snapshot", pytrace=False)
    from tui.app.testing import build_app
    from tui.store import Store

    stores: list[Any] = []

    def take(flow: str | Path, answers: Sequence[str] = (), size: tuple[int, int] = (100, 30)) -> bool:
        store = Store.open(tmp_path / f"chat-snapshot-{len(stores)}.db")
        stores.append(store)
        app = build_app(store, _flow_path(request, flow))
        try:
            for answer in answers:
                app.session.answer(str(answer))
            return bool(snap_compare(app, terminal_size=size))
        finally:
            app.session.close()

    yield take
    for store in stores:
        store.close()
