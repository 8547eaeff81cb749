"""`--update`: record the actual transcript as the expected one, touching nothing else.

A golden file is rewritten whole. An inline `transcript:` is replaced in the test file's text at
the span the YAML parser reports for it (or added after the case's last key), so the author's
comments, order and quoting elsewhere stay as they were. The edited text is parsed again and
must give back exactly the new lines before it is written.
"""

from __future__ import annotations

import json

import yaml

from tui.chattest.cases import ChatCase, load_cases, shown
from tui.errors import ChatFileError


def record(case: ChatCase, lines: list[str]) -> None:
    """Make `lines` the expected transcript of `case`, in its golden file or inline."""
    if case.golden is not None:
        case.golden.parent.mkdir(parents=True, exist_ok=True)
        case.golden.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return
    text = case.file.read_text(encoding="utf-8-sig")
    for block in (True, False):
        edited = _with_transcript(text, case, lines, block=block)
        if _transcript_of(case, edited) == lines:
            case.file.write_text(edited, encoding="utf-8")
            return
    raise ChatFileError(
        "cannot write this case's transcript inline; use `golden: FILE` for it", path=shown(case.file), line=case.line
    )


def _case_node(text: str, case: ChatCase) -> yaml.MappingNode:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.SequenceNode) or case.index >= len(root.value):
        raise ChatFileError("the file changed while testing; run again", path=shown(case.file), line=case.line)
    node = root.value[case.index]
    if not isinstance(node, yaml.MappingNode) or node.flow_style:
        raise ChatFileError(
            "--update needs the case written as a block mapping (one key per line)",
            path=shown(case.file),
            line=case.line,
        )
    return node


def _with_transcript(text: str, case: ChatCase, lines: list[str], *, block: bool) -> str:
    node = _case_node(text, case)
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "transcript":
            start, end = value.start_mark.index, value.end_mark.index
            if isinstance(value, yaml.ScalarNode) and value.style in ("|", ">"):
                end = _line_end(text, start + len(text[start:end].rstrip()))  # keep blank lines after it
            elif isinstance(value, yaml.ScalarNode) and not value.style and not value.value:
                start = end = text.index(":", key.end_mark.index) + 1  # `transcript:` with nothing after it
                return text[:start] + " " + _value_text(lines, key.start_mark.column + 2, block=block) + text[end:]
            return text[:start] + _value_text(lines, key.start_mark.column + 2, block=block) + text[end:]
    last_key, last_value = node.value[-1]
    at = _line_end(text, _content_end(text, last_value))
    column: int = last_key.start_mark.column
    entry = " " * column + "transcript: " + _value_text(lines, column + 2, block=block)
    return text[:at] + "\n" + entry + text[at:]


def _value_text(lines: list[str], indent: int, *, block: bool) -> str:
    if not lines:
        return '""'
    if not block:
        return json.dumps("\n".join(lines) + "\n", ensure_ascii=False)  # a JSON string is YAML too
    marker = "|2" if lines[0][:1] in (" ", "\t") else "|"  # content indented 2 past the key: lines keep their spaces
    return marker + "".join("\n" + (" " * indent + line if line else "") for line in lines)


def _content_end(text: str, node: yaml.Node) -> int:
    """Where the last written character of a value is (a block's end mark lies past its blank lines)."""
    while isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    start: int = node.start_mark.index
    end: int = node.end_mark.index
    return start + len(text[start:end].rstrip())


def _line_end(text: str, index: int) -> int:
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline


def _transcript_of(case: ChatCase, text: str) -> list[str] | None:
    """The inline transcript `text` gives this case, or None if the text no longer parses."""
    try:
        cases = load_cases(case.file, text=text)
    except ChatFileError:
        return None
    if case.index >= len(cases) or cases[case.index].transcript is None:
        return None
    return list(cases[case.index].transcript or ())
