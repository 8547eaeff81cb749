"""Typebot export JSON → the flow model.

An import is a normalisation, not a translation: the model is Typebot v6-shaped, so this module
only (1) migrates pre-v6 graphs (a `start` block) to v6 (a start event), exactly as Typebot's own
`migrateTypebotFromV5ToV6` does, (2) keeps the keys the runtime needs and drops the rest (Typebot's
zod parsing drops unknown keys too, and real exports carry leftovers), and (3) resolves `Typebot
link` targets from sibling export files, so the engine never does I/O.

Reference: ../shared/typebot-format.md (§1 versions and migration, §3-§6 shapes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from tui.errors import FlowError, UnsupportedFlowError
from tui.flow.json_lines import load_json  # depth-checked before json.loads recurses
from tui.flow.jsvalues import safe_stringify
from tui.flow.model import Block, Edge, EdgeFrom, EdgeTo, Event, Flow, Group, Item, Variable

DEFAULT_INVALID_MESSAGE = "Invalid message. Please, try again."
PRE_V6_VERSIONS = frozenset({"3", "4", "5"})
LEGACY_MESSAGE = (
    "unsupported Typebot export from before June 2022 (steps instead of blocks); re-export it from a current Typebot"
)
START_MISSING = "Invalid typebot file: start event is missing"
LINK_BLOCK_TYPE = "Typebot link"
# Item keys that are structure, not data: the edge is a field of Item; blockId and the numeric
# `type` are pre-v6 leftovers Typebot's v6 schema drops.
_ITEM_STRUCT_KEYS = frozenset({"id", "outgoingEdgeId", "blockId", "type"})


# ---------------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------------


def looks_like_typebot(data: object) -> bool:
    """True for anything shaped like a Typebot export (any version), so the loader can dispatch."""
    if not isinstance(data, dict):
        return False
    if isinstance(data.get("groups"), list) or _is_legacy(data):
        return True
    return any(key in data for key in ("typebot", "publicId", "events"))


def _is_legacy(data: dict[str, Any]) -> bool:
    """A pre-June-2022 export: top-level `blocks[].steps[]` and no `groups`."""
    blocks = data.get("blocks")
    if "groups" in data or not isinstance(blocks, list):
        return False
    return any(isinstance(b, dict) and "steps" in b for b in blocks)


def _unwrap(data: dict[str, Any]) -> dict[str, Any]:
    """Accept `{"typebot": {...}}` (Typebot's API answer) as well as the bare export."""
    inner = data.get("typebot")
    if "groups" not in data and "blocks" not in data and isinstance(inner, dict):
        return inner
    return data


# ---------------------------------------------------------------------------------------------
# Import (pure: dict → Flow)
# ---------------------------------------------------------------------------------------------


def import_typebot(data: dict[str, Any], *, path: str) -> Flow:
    """Normalise a Typebot export of any supported version (v3 … v6.1) into a `Flow`."""
    if not isinstance(data, dict):
        raise FlowError("not a Typebot export (expected a JSON object)", path=path)
    data = _unwrap(data)
    if _is_legacy(data):
        raise UnsupportedFlowError(LEGACY_MESSAGE, path=path)
    version = _version(data.get("version"), path)
    groups = _list_field(data, "groups", path)
    edges = [e for e in _list_field(data, "edges", path) if _edge_shape_ok(e)]
    if _is_pre_v6(version):
        groups, edges, events = _migrate_v5_to_v6(groups, edges, path)
    else:
        events = _list_field(data, "events", path)
    stem = Path(path).stem
    raw_variables = _list_field(data, "variables", path)
    return Flow(
        id=_text_or(data.get("id"), stem),
        name=_text_or(data.get("name"), stem),
        version=version,
        source_format="typebot",
        groups=[_group(g, f"groups[{i}]", path) for i, g in enumerate(groups)],
        events=_events(events, path),
        edges=[_edge(e) for e in edges],
        variables=[_variable(v, f"variables[{i}]", path) for i, v in enumerate(raw_variables)],
        invalid_message=_invalid_message(data.get("settings")),
    )


def _version(raw: object, path: str) -> str:
    """Typebot's version string; missing/null means "3" (preprocessTypebot)."""
    if raw is None:
        return "3"
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise FlowError(f"unsupported Typebot version {raw!r}", path=path)
    text = str(raw).strip()
    try:
        float(text)
    except ValueError:
        raise FlowError(f"unsupported Typebot version {raw!r}", path=path) from None
    return text


def _is_pre_v6(version: str) -> bool:
    """Typebot's own test: `Number(version) >= 6` means v6 semantics."""
    return version in PRE_V6_VERSIONS or float(version) < 6


def _list_field(data: dict[str, Any], key: str, path: str) -> list[Any]:
    """A top-level list; missing/null → [] as in preprocessTypebot, anything else is an error."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise FlowError(f"{key} must be a list", path=path)
    return value


def _text_or(value: object, fallback: str) -> str:
    """A non-empty id/name as text, else the fallback (the file stem)."""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return str(value)
    return fallback


def _invalid_message(settings: object) -> str:
    """settings.general.systemMessages.invalidMessage; an empty one falls back, as in Typebot."""
    node: Any = settings
    for key in ("general", "systemMessages", "invalidMessage"):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, str) and node else DEFAULT_INVALID_MESSAGE


# --- v5 → v6 migration (migrateTypebotFromV5ToV6.ts) ------------------------------------------


def _migrate_v5_to_v6(
    groups: list[Any], edges: list[dict[str, Any]], path: str
) -> tuple[list[Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Turn the `start` block into the start event, like Typebot does on import."""
    found = _find_start(groups)
    if found is None:
        raise FlowError(START_MISSING, path=path)
    start_group, start_block = found
    group_id = start_group.get("id")
    if not isinstance(group_id, str) or not group_id:
        raise FlowError("the group holding the start block has no id", path=path)
    edge_id = start_block.get("outgoingEdgeId")
    event: dict[str, Any] = {"id": group_id, "type": "start", "outgoingEdgeId": edge_id}
    new_edges = _rewrite_start_edge(edges, edge_id, group_id)
    kept = [_without_start_blocks(g) for g in groups if not _only_start_blocks(g)]
    return kept, new_edges, [event]


def _find_start(groups: list[Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The first group holding a `start` block, and that block."""
    for group in groups:
        for block in _raw_blocks(group):
            if isinstance(block, dict) and block.get("type") == "start":
                return group, block
    return None


def _rewrite_start_edge(edges: list[dict[str, Any]], edge_id: object, group_id: object) -> list[dict[str, Any]]:
    """The start edge now leaves from the event (id = the old start group's id), listed first."""
    start = next((e for e in edges if e.get("id") == edge_id), None)
    if start is None:
        return edges
    rewritten = {**start, "from": {"eventId": group_id}}
    return [rewritten, *(e for e in edges if e is not start)]


def _raw_blocks(group: object) -> list[Any]:
    blocks = group.get("blocks") if isinstance(group, dict) else None
    return blocks if isinstance(blocks, list) else []


def _only_start_blocks(group: object) -> bool:
    """Typebot keeps a group only if some block is not `start` (so empty groups go too)."""
    if not isinstance(group, dict):
        return False
    return not any(not (isinstance(b, dict) and b.get("type") == "start") for b in _raw_blocks(group))


def _without_start_blocks(group: object) -> object:
    if not isinstance(group, dict):
        return group
    blocks = [b for b in _raw_blocks(group) if not (isinstance(b, dict) and b.get("type") == "start")]
    return {**group, "blocks": blocks}


# --- groups, blocks, items --------------------------------------------------------------------


def _group(raw: object, where: str, path: str) -> Group:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: group must be an object", path=path)
    group_id = _required_id(raw, where, "group", path)
    title = raw.get("title")
    blocks = raw.get("blocks")
    if blocks is not None and not isinstance(blocks, list):
        raise FlowError(f"{where}: blocks must be a list", path=path)
    return Group(
        id=group_id,
        title=title if isinstance(title, str) else "",
        blocks=[_block(b, f"{where}.blocks[{j}]", path) for j, b in enumerate(blocks or [])],
    )


def _block(raw: object, where: str, path: str) -> Block:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: block must be an object", path=path)
    block_id = _required_id(raw, where, "block", path)
    block_type = raw.get("type")
    if not isinstance(block_type, str) or not block_type:
        raise FlowError(f"{where}: block has no type", path=path)
    items = raw.get("items")
    if items is not None and not isinstance(items, list):
        raise FlowError(f"{where}: items must be a list", path=path)
    return Block(
        id=block_id,
        type=block_type,
        options=_optional_dict(raw, "options", where, path) or {},
        content=_optional_dict(raw, "content", where, path),
        items=[_item(it, f"{where}.items[{k}]", path) for k, it in enumerate(items or [])],
        outgoing_edge_id=_opt_str(raw.get("outgoingEdgeId")),
    )


def _item(raw: object, where: str, path: str) -> Item:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: item must be an object", path=path)
    return Item(
        id=_required_id(raw, where, "item", path),
        outgoing_edge_id=_opt_str(raw.get("outgoingEdgeId")),
        data={k: v for k, v in raw.items() if k not in _ITEM_STRUCT_KEYS},
    )


def _required_id(raw: dict[str, Any], where: str, what: str, path: str) -> str:
    value = raw.get("id")
    if not isinstance(value, str) or not value:
        raise FlowError(f"{where}: {what} has no id", path=path)
    return value


def _optional_dict(raw: dict[str, Any], key: str, where: str, path: str) -> dict[str, Any] | None:
    value = raw.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise FlowError(f"{where}: {key} must be an object", path=path)


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --- edges ------------------------------------------------------------------------------------


def _edge_shape_ok(raw: object) -> bool:
    """Typebot's edgeSchema: preprocessTypebot silently drops edges that fail it."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return False
    src, dst = raw.get("from"), raw.get("to")
    if not isinstance(src, dict) or not isinstance(dst, dict):
        return False
    if not isinstance(dst.get("groupId"), str) or not _str_or_none(dst.get("blockId")):
        return False
    if isinstance(src.get("eventId"), str):
        return True
    return isinstance(src.get("blockId"), str) and all(_str_or_none(src.get(k)) for k in ("itemId", "pathId"))


def _str_or_none(value: object) -> bool:
    return value is None or isinstance(value, str)


def _edge(raw: dict[str, Any]) -> Edge:
    """A checked edge; pre-v6 `from.groupId` and other leftovers are dropped."""
    src, dst = raw["from"], raw["to"]
    if isinstance(src.get("eventId"), str):
        source = EdgeFrom(event_id=src["eventId"])
    else:
        source = EdgeFrom(block_id=src["blockId"], item_id=src.get("itemId"), path_id=src.get("pathId"))
    return Edge(id=raw["id"], from_=source, to=EdgeTo(group_id=dst["groupId"], block_id=dst.get("blockId")))


# --- events and variables ---------------------------------------------------------------------


def _events(raw_events: list[Any], path: str) -> list[Event]:
    """Events with the start event first (Typebot's schema is `[start, ...rest]`)."""
    events = [_event(e, f"events[{i}]", path) for i, e in enumerate(raw_events)]
    start = next((e for e in events if e.type == "start"), None)
    if start is None:
        raise FlowError(START_MISSING, path=path)
    return [start, *(e for e in events if e is not start)]


def _event(raw: object, where: str, path: str) -> Event:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: event must be an object", path=path)
    event_type = raw.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise FlowError(f"{where}: event has no type", path=path)
    options = raw.get("options")
    return Event(
        id=_required_id(raw, where, "event", path),
        type=event_type,
        outgoing_edge_id=_opt_str(raw.get("outgoingEdgeId")),
        options=options if isinstance(options, dict) else {},
    )


def _variable(raw: object, where: str, path: str) -> Variable:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: variable must be an object", path=path)
    name = raw.get("name")
    if not isinstance(name, str):
        raise FlowError(f"{where}: variable has no name", path=path)
    return Variable(
        id=_required_id(raw, where, "variable", path),
        name=name,
        value=safe_stringify(raw.get("value")),
        is_session_variable=raw.get("isSessionVariable") is True,
    )


# ---------------------------------------------------------------------------------------------
# Files and Typebot links
# ---------------------------------------------------------------------------------------------


@dataclass
class _LinkContext:
    """State shared by one top-level load: flows by id (done or in progress) and folder scans."""

    flows: dict[str, Flow] = field(default_factory=dict)
    loading: set[str] = field(default_factory=set)
    folders: dict[Path, dict[str, Path]] = field(default_factory=dict)


def load_typebot_file(path: str | Path, *, _seen: _LinkContext | None = None) -> Flow:
    """Read, import and link a Typebot export; linked bots come from the same folder."""
    ctx = _seen if _seen is not None else _LinkContext()
    file_path = Path(path)
    flow = import_typebot(read_json_file(file_path), path=str(path))
    ctx.flows.setdefault(flow.id, flow)
    ctx.loading.add(flow.id)
    try:
        flow.linked = _resolve_links(flow, file_path.parent, ctx)
    finally:
        ctx.loading.discard(flow.id)
    if _seen is None:
        # Only the root keeps the (flat) map: the engine looks every id up from the root, and
        # the canonical flow then holds each linked bot once.
        flow.linked = {key: msgspec.structs.replace(linked, linked={}) for key, linked in flow.linked.items()}
    return flow


def read_json_file(path: Path) -> Any:
    """The parsed JSON of a file, or a one-line FlowError naming it (with the line when known)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FlowError("cannot read: not UTF-8 text", path=str(path)) from None
    except OSError as exc:
        raise FlowError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    return load_json(text, path=str(path))


def _resolve_links(flow: Flow, folder: Path, ctx: _LinkContext) -> dict[str, Flow]:
    """Direct link targets plus everything they reach (flat by id); unresolvable ids left out."""
    linked: dict[str, Flow] = {}
    for target_id in _link_targets(flow):
        target = _linked_flow(target_id, folder, ctx)
        if target is None:
            continue
        linked.setdefault(target_id, target)
        for grand_id, grand in target.linked.items():
            linked.setdefault(grand_id, grand)
    return linked


def _link_targets(flow: Flow) -> list[str]:
    """Ids named by `Typebot link` blocks, other than `current`, in order, without repeats."""
    ids: list[str] = []
    for group in flow.groups:
        for block in group.blocks:
            target = block.options.get("typebotId") if block.type == LINK_BLOCK_TYPE else None
            if isinstance(target, str) and target and target != "current" and target not in ids:
                ids.append(target)
    return ids


def _linked_flow(target_id: str, folder: Path, ctx: _LinkContext) -> Flow | None:
    """A loaded flow by id. A flow still loading (a cycle) comes back as a link-free copy,
    so the model never holds an object cycle (canonical_json must terminate)."""
    if target_id in ctx.loading:
        return msgspec.structs.replace(ctx.flows[target_id], linked={})
    if target_id in ctx.flows:
        return ctx.flows[target_id]
    file_path = _folder_index(folder, ctx).get(target_id)
    if file_path is None:
        return None
    try:
        return load_typebot_file(file_path, _seen=ctx)
    except FlowError:
        return None  # a broken sibling is as unresolvable as a missing one


def _folder_index(folder: Path, ctx: _LinkContext) -> dict[str, Path]:
    """Typebot id → file for the *.json exports in a folder, scanned once per load."""
    key = folder.resolve()
    if key not in ctx.folders:
        ctx.folders[key] = _scan_folder(folder)
    return ctx.folders[key]


def _scan_folder(folder: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    try:
        candidates = sorted(folder.glob("*.json"))
    except OSError:
        return index
    for candidate in candidates:
        export_id = _export_id(candidate)
        if export_id is not None:
            index.setdefault(export_id, candidate)
    return index


def _export_id(path: Path) -> str | None:
    """The top-level id of a Typebot export file, or None for anything else."""
    try:
        data = read_json_file(path)
    except FlowError:
        return None
    if not looks_like_typebot(data):
        return None
    export_id = _unwrap(data).get("id")
    return export_id if isinstance(export_id, str) and export_id else None
