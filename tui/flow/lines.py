"""Parsed mappings and lists that remember their source lines, so errors can name `file:line`.

Both flow parsers build them (`tui.flow.yaml_format` for YAML, `tui.flow.json_lines` for JSON),
and the `*.chat.yaml` reader uses them too; they sit below all three.
"""

from __future__ import annotations

from typing import Any


class LineMap(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers its line and the line of each key (1-based)."""

    line: int | None = None
    key_lines: dict[Any, int]

    def key_line(self, key: str) -> int | None:
        return getattr(self, "key_lines", {}).get(key, self.line)


class LineList(list):  # type: ignore[type-arg]
    """A YAML sequence that remembers its line and each item's line."""

    line: int | None = None
    item_lines: list[int]
