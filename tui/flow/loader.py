"""Load any flow file into the model, and check what every format can get wrong.

Dispatch is by extension first and content second: `.yaml`/`.yml` are ours; `.json` (and any
other extension, read as YAML, a JSON superset) is a Typebot export when it looks like one, else
ours. The `validate` command runs `load_flow` then `check_flow`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui.errors import FlowError
from tui.flow.model import Flow
from tui.flow.yaml_format import compile_flow, parse_json, parse_yaml

YAML_SUFFIXES = frozenset({".yaml", ".yml"})


def load_flow(path: str | Path) -> Flow:
    """Read a flow file of any supported format; a bad file raises one FlowError line."""
    name = str(path)
    text = _read_text(Path(path))
    suffix = Path(path).suffix.lower()
    if suffix in YAML_SUFFIXES:
        return compile_flow(parse_yaml(text, path=name), path=name)
    data = parse_json(text, path=name) if suffix == ".json" else parse_yaml(text, path=name)
    if _is_typebot(data):
        from tui.flow.typebot import load_typebot_file  # lazy: only Typebot files need it

        return load_typebot_file(path)
    return compile_flow(data, path=name)


def _read_text(path: Path) -> str:
    """The file's text (UTF-8, BOM tolerated) or FlowError "file: cannot read: why"."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FlowError("cannot read: not UTF-8 text", path=str(path)) from None
    except OSError as exc:
        raise FlowError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None


def _is_typebot(data: object) -> bool:
    from tui.flow.typebot import looks_like_typebot

    return looks_like_typebot(data)


def check_flow(flow: Flow, *, path: str | None = None) -> list[str]:
    """Raise FlowError for an edge to a group or block that does not exist; return warnings.

    An `outgoingEdgeId` naming no edge is not an error: Typebot ends the flow there, and real
    exports carry such leftovers (corpus return.json). A Jump to a missing group or block is a
    warning, not an error: Typebot imports such exports and only logs when the Jump is reached
    (the flow stops there, here too)."""
    warnings: list[str] = []
    for linked in flow.linked.values():
        warnings += check_flow(linked, path=path)
    for edge in flow.edges:
        _check_edge_target(flow, edge.id, edge.to.group_id, edge.to.block_id, path)
    for group in flow.groups:
        for block in group.blocks:
            where = f"block {block.id} in group {group.title!r}"
            problem = _check_jump(flow, block.type, block.options, where)
            if problem is not None:
                place = f"{path}:{block.line}: " if path and block.line else (f"{path}: " if path else "")
                warnings.append(f"{place}warning: {problem} (Typebot imports this; the flow stops there)")
    return warnings


def _check_edge_target(flow: Flow, edge_id: str, group_id: str, block_id: str | None, path: str | None) -> None:
    group = flow.group(group_id)
    if group is None:
        raise FlowError(f"edge {edge_id!r} points to a missing group {group_id!r}", path=path)
    if block_id is not None and all(b.id != block_id for b in group.blocks):
        raise FlowError(f"edge {edge_id!r} points to a missing block {block_id!r} of group {group.title!r}", path=path)


def _check_jump(flow: Flow, block_type: str, options: dict[str, Any], where: str) -> str | None:
    """A Jump names a group id, or `{{Var}}` (a group title chosen at run time)."""
    if block_type != "Jump":
        return None
    group_id = options.get("groupId")
    if not isinstance(group_id, str) or group_id.startswith("{{"):
        return None  # no target: Typebot stops there, a runtime choice, not a file error
    group = flow.group(group_id)
    if group is None:
        return f"{where}: jumps to a missing group {group_id!r}"
    block_id = options.get("blockId")
    if isinstance(block_id, str) and block_id and all(b.id != block_id for b in group.blocks):
        return f"{where}: jumps to a missing block {block_id!r}"
    return None
