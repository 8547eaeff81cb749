"""Read `*.chat.yaml` flow tests into cases, refusing a broken file with one line: file, line, fix.

A test file is a YAML list of cases (docs/flow-tests.md); each names a flow relative to the file,
the answers to give, and what to expect: the transcript (inline, or a golden file), optionally the
variables at the end and the refusals along the way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.errors import ChatFileError, FlowError
from tui.flow.lines import LineList, LineMap
from tui.flow.model import VariableValue
from tui.flow.yaml_format import parse_yaml

SUFFIX = ".chat.yaml"
CASE_KEYS = ("name", "flow", "answers", "transcript", "golden", "variables", "refusals")
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})


@dataclass(frozen=True)
class Refusal:
    """An answer the flow is expected to refuse, and optionally the retry message it answers with."""

    answer: str
    message: str | None = None

    def describe(self) -> str:
        return f"{self.answer!r}" + (f" → {self.message!r}" if self.message is not None else "")


@dataclass(frozen=True)
class ChatCase:
    """One conversation to replay and what to expect of it."""

    file: Path
    index: int
    """Position in the file's list (0-based): how `--update` finds the case again."""
    line: int
    name: str
    flow: Path
    answers: tuple[str, ...]
    transcript: tuple[str, ...] | None
    """The expected lines given inline; None when a golden file (or nothing yet) holds them."""
    golden: Path | None
    variables: dict[str, VariableValue] | None
    refusals: tuple[Refusal, ...] | None

    @property
    def where(self) -> str:
        return f"{shown(self.file)}:{self.line}"

    def expected_lines(self) -> list[str] | None:
        """The expected transcript, read from the golden file if there is one; None if not recorded yet."""
        if self.golden is None:
            return None if self.transcript is None else list(self.transcript)
        try:
            return self.golden.read_text(encoding="utf-8").removesuffix("\n").split("\n")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise ChatFileError(
                f"golden: cannot read {self.golden}: {exc}", path=shown(self.file), line=self.line
            ) from None


def shown(path: Path) -> str:
    """A path as the author reads it: relative to the working folder when it is inside it."""
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except (ValueError, OSError):
        return str(path)


def find_chat_files(paths: Iterable[Path]) -> list[Path]:
    """Every `*.chat.yaml` under the given files and folders, recursively, in a stable order.

    Hidden folders, virtualenvs and caches are skipped. A path that does not exist is an error.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(_walk(path)))
        elif path.is_file():
            found.append(path)
        else:
            raise ChatFileError(
                "no such file or folder; give a *.chat.yaml file or a folder holding some", path=shown(path)
            )
    return list(dict.fromkeys(found))


def _walk(folder: Path) -> Iterator[Path]:
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            if child.name.startswith(".") or child.name in SKIPPED_DIRS or (child / "pyvenv.cfg").exists():
                continue
            yield from _walk(child)
        elif child.name.endswith(SUFFIX):
            yield child


def load_cases(path: Path, *, text: str | None = None) -> list[ChatCase]:
    """The cases of one test file (or of `text` as if it were that file); ChatFileError
    (file:line: what; fix) for anything wrong."""
    name = shown(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ChatFileError(f"cannot read: {exc}", path=name) from None
    try:
        data = parse_yaml(text, path=name)
    except FlowError as exc:
        raise ChatFileError(f"{exc.reason}; fix the YAML syntax there", path=name, line=exc.line) from None
    if data is None:
        raise ChatFileError("empty test file; add a list of cases (`- flow: my.yaml`)", path=name, line=1)
    if not isinstance(data, LineList):
        raise ChatFileError(
            "expected a list of cases; start each case with `- flow: ...`", path=name, line=getattr(data, "line", 1)
        )
    cases = [_case(path, index, raw, data.item_lines[index]) for index, raw in enumerate(data)]
    seen: dict[str, int] = {}
    for case in cases:
        if case.name in seen:
            raise ChatFileError(
                f"name: {case.name!r} is already used by the case on line {seen[case.name]}; give each case its own name",
                path=name,
                line=case.line,
            )
        seen[case.name] = case.line
    return cases


class _Reader:
    """Checks one case mapping, naming the line of the key at fault."""

    def __init__(self, file: Path, raw: LineMap) -> None:
        self.file = file
        self.raw = raw

    def fail(self, key: str, message: str) -> ChatFileError:
        return ChatFileError(f"{key}: {message}", path=shown(self.file), line=self.raw.key_line(key))

    def text(self, key: str, value: Any) -> str:
        text = _scalar_text(value)
        if text is None:
            raise self.fail(key, f"expected text, got {_describe(value)}")
        return text

    def texts(self, key: str, hint: str) -> list[str]:
        value = self.raw[key]
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {_describe(value)}; {hint}")
        result = []
        for item in value:
            text = _scalar_text(item)
            if text is None:
                raise self.fail(key, f"expected text for each item, got {_describe(item)}; {hint}")
            result.append(text)
        return result

    def relative_path(self, key: str) -> Path:
        text = self.text(key, self.raw[key])
        if not text:
            raise self.fail(key, "expected a file name, relative to this test file")
        return (self.file.parent / text).resolve() if not Path(text).is_absolute() else Path(text)


def _case(file: Path, index: int, raw: Any, line: int) -> ChatCase:
    if not isinstance(raw, LineMap):
        raise ChatFileError(
            f"case {index + 1}: expected a mapping (flow:, answers:, transcript:), got {_describe(raw)}",
            path=shown(file),
            line=line,
        )
    reader = _Reader(file, raw)
    for key in raw:
        if key not in CASE_KEYS:
            raise reader.fail(str(key), f"unknown key (known: {', '.join(CASE_KEYS)})")
    if "flow" not in raw:
        raise ChatFileError(
            f"case {index + 1}: add `flow:` (the flow file, relative to this test file)", path=shown(file), line=line
        )
    flow = reader.relative_path("flow")
    if not flow.is_file():
        raise reader.fail("flow", f"{raw['flow']} not found next to this test file (looked for {flow})")
    if "transcript" in raw and "golden" in raw:
        raise reader.fail(
            "golden", "give the expected transcript either inline (transcript:) or in a golden file, not both"
        )
    return ChatCase(
        file=file,
        index=index,
        line=line,
        name=reader.text("name", raw["name"]) if "name" in raw else f"case {index + 1}",
        flow=flow,
        answers=tuple(reader.texts("answers", "write one answer per line as `- text`")) if "answers" in raw else (),
        transcript=_transcript(reader) if "transcript" in raw else None,
        golden=reader.relative_path("golden") if "golden" in raw else None,
        variables=_variables(reader) if "variables" in raw else None,
        refusals=_refusals(reader) if "refusals" in raw else None,
    )


def _transcript(reader: _Reader) -> tuple[str, ...]:
    value = reader.raw["transcript"]
    if value is None or value == "":
        return ()
    if not isinstance(value, str):
        raise reader.fail("transcript", f"expected the lines as a block (`transcript: |`), got {_describe(value)}")
    return tuple(value.removesuffix("\n").split("\n"))


def _variables(reader: _Reader) -> dict[str, VariableValue]:
    value = reader.raw["variables"]
    if not isinstance(value, dict):
        raise reader.fail("variables", f"expected a mapping of variable name to value, got {_describe(value)}")
    result: dict[str, VariableValue] = {}
    for name, expected in value.items():
        if expected is None:
            result[str(name)] = None
        elif isinstance(expected, list):
            items = [None if item is None else _scalar_text(item) for item in expected]
            if any(item is None and raw is not None for item, raw in zip(items, expected, strict=True)):
                raise reader.fail("variables", f"{name}: expected a list of text values")
            result[str(name)] = items
        else:
            text = _scalar_text(expected)
            if text is None:
                raise reader.fail("variables", f"{name}: expected text, a list or null, got {_describe(expected)}")
            result[str(name)] = text
    return result


def _refusals(reader: _Reader) -> tuple[Refusal, ...]:
    value = reader.raw["refusals"]
    if not isinstance(value, list):
        raise reader.fail("refusals", f"expected a list of refused answers, got {_describe(value)}")
    result = []
    for item in value:
        if isinstance(item, dict):
            unknown = set(item) - {"answer", "message"}
            if "answer" not in item or unknown:
                raise reader.fail("refusals", "each item is an answer, or a mapping with answer: and message:")
            message = item.get("message")
            result.append(Refusal(reader.text("refusals", item["answer"]), None if message is None else str(message)))
        else:
            result.append(Refusal(reader.text("refusals", item)))
    return tuple(result)


def _scalar_text(value: object) -> str | None:
    """Text for a scalar the author meant as text (`36`, `true` included), else None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)
