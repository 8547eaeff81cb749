"""Our hand-written flow format (YAML, or JSON of the same structure) → the flow model.

The format is a thin notation over Typebot's graph: groups by title, one short mapping per block
(`say:`, `ask:`, `choice:`, `if:`, `set:`, `goto:` ...). It compiles into exactly the shapes the
Typebot importer produces, so the engine has one set of rules. Ids are derived from group titles
and positions, never random, so compiling the same file twice gives the same flow hash.

Every error is a `FlowError` naming the file and the 1-based line of the offending entry (or of
the offending option key), because a hand-written file is fixed in an editor, line by line.
docs/flow-format.md is the user's reference; keep both in step.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from tui.errors import FlowError
from tui.flow.inline_markdown import inline_children
from tui.flow.json_lines import parse_json_with_lines
from tui.flow.limits import MAX_ALIAS_NODES, MAX_DEPTH, alias_budget_message, too_deep_message
from tui.flow.lines import LineList, LineMap
from tui.flow.model import (
    DEFAULT_MAX_ANSWER_BYTES,
    MAX_ANSWER_BYTES_LIMIT,
    Block,
    Edge,
    EdgeFrom,
    EdgeTo,
    Event,
    Flow,
    Group,
    Item,
    Variable,
    VariableValue,
)

DEFAULT_INVALID_MESSAGE = "Invalid message. Please, try again."

# --------------------------------------------------------------------------------------------
# Vocabulary (schema.py and the docs mirror these tables; a test keeps them equal)
# --------------------------------------------------------------------------------------------

TOP_KEYS = ("name", "id", "variables", "start", "invalid_message", "max_answer_bytes", "groups")
BLOCK_KEYS = (
    "say", "image", "video", "audio", "embed", "ask", "choice", "rating",
    "if", "set", "goto", "wait", "redirect", "return", "end",
)  # fmt: skip

# Our input type names → Typebot block types.
INPUT_KINDS = {
    "text": "text input",
    "number": "number input",
    "email": "email input",
    "url": "url input",
    "phone": "phone number input",
    "date": "date input",
    "time": "time input",
    "rating": "rating input",
    "file": "file input",
}

# An option: (Typebot key path, dotted for nesting; value kind).
_Opt = tuple[str, str]
COMMON_INPUT_OPTIONS: dict[str, _Opt] = {
    "placeholder": ("labels.placeholder", "text"),
    "button": ("labels.button", "text"),
    "retry": ("retryMessageContent", "text"),
}
INPUT_OPTIONS: dict[str, dict[str, _Opt]] = {
    "text": {"long": ("isLong", "bool")},
    "number": {"min": ("min", "number"), "max": ("max", "number"), "step": ("step", "number")},
    "email": {},
    "url": {},
    "phone": {"country": ("defaultCountryCode", "text")},
    "date": {
        "time": ("hasTime", "bool"),
        "range": ("isRange", "bool"),
        "format": ("format", "text"),
        "min": ("min", "text"),
        "max": ("max", "text"),
    },
    "time": {"format": ("format", "text")},
    "rating": {
        "length": ("length", "int"),
        "from": ("startsAt", "int"),
        "left": ("labels.left", "text"),
        "right": ("labels.right", "text"),
    },
    "file": {"required": ("isRequired", "bool"), "multiple": ("isMultipleAllowed", "bool")},
}
CHOICE_OPTIONS: dict[str, _Opt] = {
    "multiple": ("isMultipleChoice", "bool"),
    "button": ("buttonLabel", "text"),
    "searchable": ("isSearchable", "bool"),
}
MEDIA_OPTIONS: dict[str, dict[str, _Opt]] = {
    "image": {"alt": ("clickLink.alt", "text"), "link": ("clickLink.url", "text")},
    "video": {},
    "audio": {"autoplay": ("isAutoplayEnabled", "bool")},
    "embed": {"height": ("height", "number")},
}
SET_OPS = {
    "custom": "Custom",
    "empty": "Empty",
    "append": "Append value(s)",
    "pop": "Pop",
    "shift": "Shift",
    "now": "Now",
    "today": "Today",
    "yesterday": "Yesterday",
    "tomorrow": "Tomorrow",
    "random id": "Random ID",
    "transcript": "Transcript",
}
# Our short comparison operators → Typebot's names (also accepted as they are).
COMPARISON_OPS = {
    "==": "Equal to",
    "!=": "Not equal",
    ">": "Greater than",
    ">=": "Greater or equal to",
    "<": "Less than",
    "<=": "Less or equal to",
    "contains": "Contains",
    "not contains": "Does not contain",
    "starts with": "Starts with",
    "ends with": "Ends with",
    "matches": "Matches regex",
    "not matches": "Does not match regex",
    "is set": "Is set",
    "is empty": "Is empty",
}
UNARY_OPS = frozenset({"Is set", "Is empty"})


def _ask_option_names() -> tuple[str, ...]:
    names = ["type", "into", *COMMON_INPUT_OPTIONS]
    for options in INPUT_OPTIONS.values():
        names += [n for n in options if n not in names]
    return tuple(names)


# Every key an entry may carry besides its block key: for "unknown option" errors and the schema.
ENTRY_OPTIONS: dict[str, tuple[str, ...]] = {
    "say": (),
    **{kind: tuple(opts) for kind, opts in MEDIA_OPTIONS.items()},
    "ask": _ask_option_names(),
    "choice": ("into", *CHOICE_OPTIONS),
    "rating": (*COMMON_INPUT_OPTIONS, *INPUT_OPTIONS["rating"]),
    "if": ("then", "else"),
    "set": ("op", "value", "into", "timezone"),
    "goto": (),
    "wait": ("pause",),
    "redirect": ("new_tab",),
    "return": (),
    "end": (),
}

# --------------------------------------------------------------------------------------------
# Parsing with line numbers
# --------------------------------------------------------------------------------------------


class _LimitError(yaml.composer.ComposerError):  # type: ignore[misc]
    """A file over one of the loader's limits: valid YAML, refused for its size or shape."""


class _Bounded:
    """Composition within limits (tui/flow/limits.py), mixed into both loaders below.

    Nesting deeper than MAX_DEPTH is refused before the recursive composer and constructor
    reach Python's recursion limit; every alias adds the size of what it repeats to a budget, so
    a small file of nested aliases cannot expand into millions of nodes downstream; an alias to
    a node still being composed (a cycle) is refused.
    """

    _depth = 0
    _alias_nodes = 0
    _sizes: dict[int, int]  # id(node) → nodes it stands for once aliases expand

    def compose_document(self) -> yaml.Node:
        self._sizes = {}
        return yaml.composer.Composer.compose_document(self)

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        composer: Any = self
        if composer.check_event(yaml.AliasEvent):
            event = composer.peek_event()
            node: yaml.Node = yaml.composer.Composer.compose_node(composer, parent, index)
            size = self._sizes.get(id(node))
            if size is None:  # its anchor is still being composed: the node contains itself
                raise _LimitError(None, None, "an alias refers to its own anchor", event.start_mark)
            self._alias_nodes += size
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise _LimitError(None, None, alias_budget_message(), event.start_mark)
            return node
        if self._depth >= MAX_DEPTH:
            raise _LimitError(None, None, too_deep_message(), composer.peek_event().start_mark)
        self._depth += 1
        try:
            node = yaml.composer.Composer.compose_node(composer, parent, index)
        finally:
            self._depth -= 1
        sizes = self._sizes
        if isinstance(node, yaml.MappingNode):
            sizes[id(node)] = 1 + sum(sizes[id(k)] + sizes[id(v)] for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in node.value)
        else:
            sizes[id(node)] = 1
        return node


class _PyLoader(_Bounded, yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader with YAML 1.2 scalars: `Yes`/`No`/`on` stay text, `010` and `2024-01-01` stay
    text, so choice labels and dates are what the author typed. Pure Python: its syntax error
    messages are the ones we show."""


try:
    from yaml.cyaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None


if _CParser is not None:

    class _CLoader(  # PyYAML has no type stubs here: each base is Any to mypy
        _Bounded,
        _CParser,  # type: ignore[misc]
        yaml.composer.Composer,  # type: ignore[misc]
        yaml.constructor.SafeConstructor,  # type: ignore[misc]
        yaml.resolver.Resolver,  # type: ignore[misc]
    ):
        """The same loader on libyaml's event parser (C, iterative): a megabyte of YAML in about
        two CPU seconds instead of six. Composing stays in Python (above), where the limits are
        enforced; libyaml's own composer recurses in C without a bound."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

        get_single_node = yaml.composer.Composer.get_single_node
        get_node = yaml.composer.Composer.get_node
        check_node = yaml.composer.Composer.check_node

    _LOADERS: tuple[type, ...] = (_CLoader, _PyLoader)
else:  # pragma: no cover
    _LOADERS = (_PyLoader,)

_DROPPED_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float", "timestamp")}


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    return int(loader.construct_scalar(node))


def _construct_map(loader: Any, node: yaml.MappingNode) -> LineMap:
    """Build a LineMap; a repeated key is an error (PyYAML would silently keep the last)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (dict, list)):
            raise yaml.constructor.ConstructorError(None, None, "a key must be text", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    loader.flatten_mapping(node)
    result = LineMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_seq(loader: Any, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


for _loader in _LOADERS:
    _loader.yaml_implicit_resolvers = {  # type: ignore[attr-defined]
        first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
        for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }
    _loader.add_implicit_resolver(  # type: ignore[attr-defined]
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    _loader.add_implicit_resolver(  # type: ignore[attr-defined]
        "tag:yaml.org,2002:float",
        re.compile(
            r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"
            r"|^[-+]?[0-9]+[eE][-+]?[0-9]+$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
        ),
        list("-+0123456789."),
    )
    _loader.add_implicit_resolver(  # type: ignore[attr-defined]
        "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
    )
    _loader.add_constructor("tag:yaml.org,2002:int", _construct_int)  # type: ignore[attr-defined]
    _loader.add_constructor("tag:yaml.org,2002:map", _construct_map)  # type: ignore[attr-defined]
    _loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)  # type: ignore[attr-defined]


def parse_yaml(text: str, *, path: str) -> Any:
    """Parse YAML keeping line numbers; a syntax error names the parser's line.

    The fast loader reads; when the text is not valid YAML, the pure-Python one reads it again so
    that the message is PyYAML's own wording (the rare path: a file being fixed).
    """
    try:
        return _load(_LOADERS[0], text)
    except (yaml.scanner.ScannerError, yaml.parser.ParserError, yaml.reader.ReaderError):
        if len(_LOADERS) == 1:
            raise FlowError("invalid YAML", path=path) from None
    except yaml.YAMLError as exc:
        raise _yaml_flow_error(exc, path) from None
    try:
        return _load(_PyLoader, text)
    except yaml.YAMLError as exc:
        raise _yaml_flow_error(exc, path) from None


def _load(loader_class: type, text: str) -> Any:
    loader: Any = loader_class(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _yaml_flow_error(exc: yaml.YAMLError, path: str) -> FlowError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(p for p in (exc.context, exc.problem) if p)
        if not isinstance(exc, (yaml.constructor.ConstructorError, _LimitError)):
            what = f"invalid YAML: {what}"  # a syntax error; a constructor error is about content
        return FlowError(what, path=path, line=mark.line + 1 if mark else None)
    return FlowError(f"invalid YAML: {exc}", path=path)


def parse_json(text: str, *, path: str) -> Any:
    """Parse JSON with a JSON parser, keeping line numbers (tui/flow/json_lines.py)."""
    return parse_json_with_lines(text, path=path)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _line_of(value: object) -> int | None:
    return getattr(value, "line", None)


def _key_line(mapping: object, key: str) -> int | None:
    return mapping.key_line(key) if isinstance(mapping, LineMap) else None


def _item_line(seq: object, index: int, default: int | None) -> int | None:
    lines = getattr(seq, "item_lines", None)
    return lines[index] if lines is not None else default


def _describe(value: object) -> str:
    """How an unexpected value reads in an error message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar_text(value: object) -> str | None:
    """Text for a scalar the author meant as text (numbers and booleans too), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return _number_text(value)
    return None


def _number_text(value: int | float) -> str:
    """`2` and `2.0` both read as "2", as JavaScript would print them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_VAR_REF = re.compile(r"\{\{([^{}]+)\}\}")
_SINGLE_VAR = re.compile(r"^\{\{([^{}]+)\}\}$")


def slugify(title: str) -> str:
    """A stable, readable id for a group title (ASCII letters, digits and dashes)."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "group"


def _set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `labels.button`-style keys into nested Typebot dicts."""
    *parents, last = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


# --------------------------------------------------------------------------------------------
# The compiler
# --------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """One block entry being compiled: its mapping, block key, id and line."""

    raw: dict[str, Any]
    key: str
    block_id: str
    line: int | None

    @property
    def value(self) -> Any:
        return self.raw[self.key]

    def line_of(self, option: str) -> int | None:
        return _key_line(self.raw, option) or self.line


@dataclass
class _Compiler:
    path: str
    group_ids: dict[str, str] = field(default_factory=dict)  # title → id
    edges: list[Edge] = field(default_factory=list)
    brace_names: dict[int, list[str]] = field(default_factory=dict)  # id(block) → its {{names}}, found once

    def fail(self, message: str, line: int | None) -> FlowError:
        return FlowError(message, path=self.path, line=line)

    # -- top level ----------------------------------------------------------------------------

    def compile(self, data: Any, default_id: str) -> Flow:
        if not isinstance(data, dict):
            raise self.fail(f"expected a mapping with name: and groups: (got {_describe(data)})", _line_of(data) or 1)
        self._check_top_keys(data)
        name = self._required_text(data, "name")
        flow_id = self._optional_text(data, "id") or default_id
        raw_groups = self._raw_groups(data)
        self.group_ids = self._assign_group_ids(raw_groups)
        start_edge = self._start_edge(data, raw_groups)
        groups = self._groups(raw_groups)
        return Flow(
            id=flow_id,
            name=name,
            source_format="steadychat",
            events=[Event(id="start", type="start", outgoing_edge_id=start_edge)],
            groups=groups,
            edges=self.edges,
            variables=self._variables(data, groups),
            invalid_message=self._optional_text(data, "invalid_message") or DEFAULT_INVALID_MESSAGE,
            max_answer_bytes=self._max_answer_bytes(data),
        )

    def _max_answer_bytes(self, data: dict[str, Any]) -> int:
        """`max_answer_bytes:` a whole number from 1 to MAX_ANSWER_BYTES_LIMIT (default 65536)."""
        value = data.get("max_answer_bytes", DEFAULT_MAX_ANSWER_BYTES)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ANSWER_BYTES_LIMIT:
            raise self.fail(
                f"max_answer_bytes: expected a whole number of bytes from 1 to {MAX_ANSWER_BYTES_LIMIT} "
                f"(default {DEFAULT_MAX_ANSWER_BYTES}), got {_describe(value)}",
                _key_line(data, "max_answer_bytes"),
            )
        return value

    def _check_top_keys(self, data: dict[str, Any]) -> None:
        for key in data:
            if key not in TOP_KEYS:
                raise self.fail(f"unknown key {key!r} (known: {', '.join(TOP_KEYS)})", _key_line(data, key))

    def _required_text(self, data: dict[str, Any], key: str) -> str:
        if key not in data:
            raise self.fail(f"missing {key!r}", _line_of(data) or 1)
        text = self._optional_text(data, key)
        if not text:
            raise self.fail(f"{key}: expected text, got {_describe(data[key])}", _key_line(data, key))
        return text

    def _optional_text(self, data: dict[str, Any], key: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        text = _scalar_text(value)
        if text is None or isinstance(value, bool):
            raise self.fail(f"{key}: expected text, got {_describe(value)}", _key_line(data, key))
        return text

    def _raw_groups(self, data: dict[str, Any]) -> dict[str, Any]:
        if "groups" not in data:
            raise self.fail("missing 'groups'", _line_of(data) or 1)
        groups = data["groups"]
        if not isinstance(groups, dict) or not groups:
            what = "an empty mapping" if groups == {} else _describe(groups)
            raise self.fail(
                f"groups: expected a mapping of group titles to blocks, got {what}", _key_line(data, "groups")
            )
        return groups

    def _assign_group_ids(self, raw_groups: dict[Any, Any]) -> dict[str, str]:
        ids: dict[str, str] = {}
        taken: set[str] = set()
        for title in raw_groups:
            if not isinstance(title, str):
                raise self.fail(f"group titles must be text, got {title!r}", _key_line(raw_groups, title))
            base = candidate = slugify(title)
            n = 2
            while candidate in taken:
                candidate, n = f"{base}-{n}", n + 1
            taken.add(candidate)
            ids[title] = candidate
        return ids

    def _start_edge(self, data: dict[str, Any], raw_groups: dict[str, Any]) -> str:
        title = data.get("start", next(iter(raw_groups)))
        group_id = self._target(title, "start", _key_line(data, "start"))
        return self._edge("edge.start", EdgeFrom(event_id="start"), group_id)

    def _target(self, title: Any, what: str, line: int | None) -> str:
        """The id of the group a goto/then/else/choice/start names, or a clear error."""
        if isinstance(title, str) and title in self.group_ids:
            return self.group_ids[title]
        known = ", ".join(self.group_ids)
        raise self.fail(f"{what}: no group named {_scalar_text(title) or _describe(title)!r} (groups: {known})", line)

    def _edge(self, edge_id: str, source: EdgeFrom, group_id: str) -> str:
        self.edges.append(Edge(id=edge_id, from_=source, to=EdgeTo(group_id=group_id)))
        return edge_id

    # -- groups -------------------------------------------------------------------------------

    def _groups(self, raw_groups: dict[str, Any]) -> list[Group]:
        titles = list(raw_groups)
        groups: list[Group] = []
        for index, title in enumerate(titles):
            next_title = titles[index + 1] if index + 1 < len(titles) else None
            groups.append(self._group(title, raw_groups[title], _key_line(raw_groups, title), next_title))
        return groups

    def _group(self, title: str, entries: Any, line: int | None, next_title: str | None) -> Group:
        """Compile one group; unless it ends on its own, it continues into the next group."""
        if entries is None or entries == []:
            raise self.fail(f"group {title!r} is empty", line)
        if not isinstance(entries, list):
            raise self.fail(f"group {title!r}: expected a list of blocks, got {_describe(entries)}", line)
        group_id = self.group_ids[title]
        blocks: list[Block] = []
        ends = False
        for index, raw in enumerate(entries):
            entry = self._entry(raw, f"{group_id}.{index}", _item_line(entries, index, line))
            if entry.key == "end":
                self._check_end(entry, index, len(entries))
                ends = True
                continue
            blocks.extend(self._block(entry))
        if not ends and next_title is not None and blocks and not _ends_group(blocks[-1]):
            last = blocks[-1]
            last.outgoing_edge_id = self._edge(
                f"edge.{last.id}", EdgeFrom(block_id=last.id), self.group_ids[next_title]
            )
        return Group(id=group_id, title=title, blocks=blocks, line=line)

    def _check_end(self, entry: _Entry, index: int, count: int) -> None:
        if entry.value is not True:
            raise self.fail(f"end: expected true, got {_describe(entry.value)}", entry.line)
        if index != count - 1:
            raise self.fail("end: must be the last block of its group (blocks after it never run)", entry.line)

    def _entry(self, raw: Any, block_id: str, line: int | None) -> _Entry:
        """Find the entry's block key; a bare text entry is a `say`."""
        if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
            return _Entry(raw={"say": raw}, key="say", block_id=block_id, line=line)
        if not isinstance(raw, dict) or not raw:
            raise self.fail(f"expected a block such as 'say: ...' or 'ask: name', got {_describe(raw)}", line)
        keys = [k for k in raw if k in BLOCK_KEYS]
        if not keys:
            first = next(iter(raw))
            raise self.fail(f"unknown block {first!r} (known: {', '.join(BLOCK_KEYS)})", line)
        if len(keys) > 1:
            raise self.fail(f"one block per entry: found {' and '.join(keys)}", line)
        entry = _Entry(raw=raw, key=keys[0], block_id=block_id, line=_line_of(raw) or line)
        self._check_options(entry, ENTRY_OPTIONS[entry.key])
        return entry

    def _check_options(self, entry: _Entry, allowed: tuple[str, ...]) -> None:
        for key in entry.raw:
            if key != entry.key and key not in allowed:
                known = f"options: {', '.join(allowed)}" if allowed else "it takes no options"
                raise self.fail(f"{entry.key}: unknown option {key!r} ({known})", entry.line_of(key))

    # -- blocks -------------------------------------------------------------------------------

    def _block(self, entry: _Entry) -> list[Block]:
        builders: dict[str, Callable[[_Entry], Block | list[Block]]] = {
            "say": self._say,
            "image": self._media,
            "video": self._media,
            "audio": self._media,
            "embed": self._media,
            "ask": self._ask,
            "rating": self._rating,
            "choice": self._choice,
            "if": self._if,
            "set": self._set,
            "goto": self._goto,
            "wait": self._wait,
            "redirect": self._redirect,
            "return": self._return,
        }
        built = builders[entry.key](entry)
        blocks = built if isinstance(built, list) else [built]
        for block in blocks:
            block.line = entry.line
            self._check_var_refs(block, entry)
        return blocks

    def _text(self, entry: _Entry, key: str) -> str:
        value = entry.raw[key]
        text = _scalar_text(value)
        if text is None or isinstance(value, bool):
            raise self.fail(f"{key}: expected text, got {_describe(value)}", entry.line_of(key))
        return text

    def _say(self, entry: _Entry) -> Block:
        text = self._text(entry, "say").rstrip("\n")
        paragraphs = [{"type": "p", "children": inline_children(line)} for line in text.split("\n")]
        return Block(id=entry.block_id, type="text", content={"richText": paragraphs})

    def _media(self, entry: _Entry) -> Block:
        content: dict[str, Any] = {"url": self._text(entry, entry.key)}
        self._apply_options(entry, MEDIA_OPTIONS[entry.key], content)
        return Block(id=entry.block_id, type=entry.key, content=content)

    def _variable_name(self, entry: _Entry, key: str) -> str:
        value = entry.raw[key]
        if not _is_variable_name(value):
            raise self.fail(f"{key}: expected a variable name, got {_describe(value)}", entry.line_of(key))
        return value

    def _ask(self, entry: _Entry) -> Block:
        target = self._variable_name(entry, "ask")
        kind = target if target in INPUT_KINDS else "text"
        if "type" in entry.raw:
            kind = self._input_kind(entry)
        variable = self._variable_name(entry, "into") if "into" in entry.raw else target
        return self._input(entry, kind, variable, skip=("type", "into"))

    def _input_kind(self, entry: _Entry) -> str:
        kind = entry.raw["type"]
        if not isinstance(kind, str) or kind not in INPUT_KINDS:  # a list or mapping is not a kind either
            known = ", ".join(INPUT_KINDS)
            raise self.fail(f"type: unknown input type {_describe(kind)} (known: {known})", entry.line_of("type"))
        return kind

    def _rating(self, entry: _Entry) -> Block:
        return self._input(entry, "rating", self._variable_name(entry, "rating"), skip=())

    def _input(self, entry: _Entry, kind: str, variable: str, *, skip: tuple[str, ...]) -> Block:
        """An input block of our type `kind`, saving into `variable`."""
        allowed = {**COMMON_INPUT_OPTIONS, **INPUT_OPTIONS[kind]}
        for key in entry.raw:
            if key not in (entry.key, *skip) and key not in allowed:
                raise self.fail(
                    f"{key}: not an option of a {kind} input (options: {', '.join(allowed)})", entry.line_of(key)
                )
        options: dict[str, Any] = {"variableId": variable}
        self._apply_options(entry, allowed, options)
        return Block(id=entry.block_id, type=INPUT_KINDS[kind], options=options)

    def _apply_options(self, entry: _Entry, table: dict[str, _Opt], target: dict[str, Any]) -> None:
        for key, (dotted, kind) in table.items():
            if key in entry.raw:
                _set_path(target, dotted, self._option_value(entry, key, kind))

    def _option_value(self, entry: _Entry, key: str, kind: str) -> Any:
        """Check an option's value against its kind; return it in Typebot's form."""
        value = entry.raw[key]
        line = entry.line_of(key)
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.fail(f"{key}: expected true or false, got {_describe(value)}", line)
            return value
        if kind == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.fail(f"{key}: expected a whole number, got {_describe(value)}", line)
            return value
        if kind == "number":
            return self._number_option(value, key, line)
        text = _scalar_text(value)
        if text is None or isinstance(value, bool):
            raise self.fail(f"{key}: expected text, got {_describe(value)}", line)
        return text

    def _number_option(self, value: Any, key: str, line: int | None) -> int | float | str:
        """A number, a numeric string (made a number) or a `{{Var}}` reference."""
        if _is_number(value):
            return value
        if isinstance(value, str):
            if _SINGLE_VAR.match(value.strip()):
                return value.strip()
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                return int(number) if number.is_integer() else number
        raise self.fail(f"{key}: expected a number, got {_describe(value)}", line)

    # -- choice -------------------------------------------------------------------------------

    def _choice(self, entry: _Entry) -> Block:
        raw_items = entry.value
        if not isinstance(raw_items, list) or not raw_items:
            what = "an empty list" if raw_items == [] else _describe(raw_items)
            raise self.fail(f"choice: expected a list of items, got {what}", entry.line)
        options: dict[str, Any] = {}
        if "into" in entry.raw:
            options["variableId"] = self._variable_name(entry, "into")
        self._apply_options(entry, CHOICE_OPTIONS, options)
        multiple = options.get("isMultipleChoice", False)
        items = [
            self._choice_item(raw, entry.block_id, n, _item_line(raw_items, n, entry.line), multiple)
            for n, raw in enumerate(raw_items)
        ]
        return Block(id=entry.block_id, type="choice input", options=options, items=items)

    def _choice_item(self, raw: Any, block_id: str, index: int, line: int | None, multiple: bool) -> Item:
        """`Label`, `{Label: Group}` or `{label:, value:, goto:}` → a Typebot choice item."""
        item_id = f"{block_id}.item{index}"
        label, value, goto = self._item_parts(raw, line)
        data: dict[str, Any] = {"content": label}
        if value is not None:
            data["value"] = value
        edge = None
        if goto is not None:
            if multiple:
                raise self.fail("choice: an item cannot go to a group when multiple: true", line)
            group_id = self._target(goto, "choice", line)
            edge = self._edge(f"edge.{item_id}", EdgeFrom(block_id=block_id, item_id=item_id), group_id)
        return Item(id=item_id, outgoing_edge_id=edge, data=data)

    def _item_parts(self, raw: Any, line: int | None) -> tuple[str, str | None, Any]:
        text = _scalar_text(raw)
        if text is not None:
            return text, None, None
        if isinstance(raw, dict) and "label" in raw:
            return self._full_item(raw, _line_of(raw) or line)
        if isinstance(raw, dict) and len(raw) == 1:
            label, goto = next(iter(raw.items()))
            label_text = _scalar_text(label)
            if label_text is not None:
                return label_text, None, goto
        raise self.fail(
            f"choice: an item is 'Label', 'Label: Group' or 'label:/value:/goto:', got {_describe(raw)}", line
        )

    def _full_item(self, raw: dict[str, Any], line: int | None) -> tuple[str, str | None, Any]:
        for key in raw:
            if key not in ("label", "value", "goto"):
                raise self.fail(
                    f"choice: unknown item key {key!r} (known: label, value, goto)", _key_line(raw, key) or line
                )
        label = _scalar_text(raw["label"])
        if label is None:
            raise self.fail(f"label: expected text, got {_describe(raw['label'])}", _key_line(raw, "label") or line)
        value = None
        if raw.get("value") is not None:
            value = _scalar_text(raw["value"])
            if value is None:
                raise self.fail(f"value: expected text, got {_describe(raw['value'])}", _key_line(raw, "value") or line)
        return label, value, raw.get("goto")

    # -- logic --------------------------------------------------------------------------------

    def _if(self, entry: _Entry) -> Block:
        """A Condition block: its one item's edge goes to `then`; `else` is the block's edge."""
        if "then" not in entry.raw:
            raise self.fail("if: missing 'then:' (the group to go to when the condition holds)", entry.line)
        condition = self._condition(entry.value, entry.block_id, entry.line)
        item_id = f"{entry.block_id}.then"
        then_edge = self._edge(
            f"edge.{item_id}",
            EdgeFrom(block_id=entry.block_id, item_id=item_id),
            self._target(entry.raw["then"], "then", entry.line_of("then")),
        )
        block = Block(
            id=entry.block_id,
            type="Condition",
            items=[Item(id=item_id, outgoing_edge_id=then_edge, data={"content": condition})],
        )
        if "else" in entry.raw:
            group_id = self._target(entry.raw["else"], "else", entry.line_of("else"))
            block.outgoing_edge_id = self._edge(f"edge.{entry.block_id}", EdgeFrom(block_id=entry.block_id), group_id)
        return block

    def _condition(self, raw: Any, block_id: str, line: int | None) -> dict[str, Any]:
        """A Typebot Condition: one comparison, or `all:`/`any:` lists of them."""
        if isinstance(raw, dict) and len(raw) == 1 and ("all" in raw or "any" in raw):
            key = next(iter(raw))
            parts = raw[key]
            if not isinstance(parts, list) or not parts:
                raise self.fail(
                    f"{key}: expected a list of conditions, got {_describe(parts)}", _key_line(raw, key) or line
                )
            comparisons = [
                self._comparison(part, f"{block_id}.cmp{n}", _item_line(parts, n, line)) for n, part in enumerate(parts)
            ]
            return {"logicalOperator": "AND" if key == "all" else "OR", "comparisons": comparisons}
        return {"logicalOperator": "AND", "comparisons": [self._comparison(raw, f"{block_id}.cmp0", line)]}

    def _comparison(self, raw: Any, comparison_id: str, line: int | None) -> dict[str, Any]:
        if isinstance(raw, str):
            variable, operator, value = self._parse_comparison(raw, line)
        elif isinstance(raw, dict) and "var" in raw:
            variable, operator, value = self._mapping_comparison(raw, _line_of(raw) or line)
        else:
            raise self.fail(
                f"if: expected '{{{{var}}}} op value', a var:/op:/value: mapping or all:/any: lists, got {_describe(raw)}",
                line,
            )
        comparison: dict[str, Any] = {"id": comparison_id, "variableId": variable, "comparisonOperator": operator}
        if operator not in UNARY_OPS:
            comparison["value"] = value
        return comparison

    _COMPARISON = re.compile(
        r"^\s*(?:\{\{(?P<var>[^{}]+)\}\}|(?P<bare>[A-Za-z_][\w.-]*))\s*"
        r"(?P<op>==|!=|>=|<=|>|<|not\s+contains|not\s+matches|starts\s+with|ends\s+with"
        r"|contains|matches|is\s+set|is\s+empty)"
        r"(?P<rest>.*)$",
        re.IGNORECASE | re.DOTALL,
    )

    def _parse_comparison(self, text: str, line: int | None) -> tuple[str, str, str]:
        """`{{score}} > 5`, `plan == "pro"`, `{{email}} is set` → (variable, operator, value)."""
        match = self._COMPARISON.match(text)
        op = " ".join(match["op"].lower().split()) if match else ""
        rest = match["rest"] if match else ""
        if not match or (op[-1].isalpha() and rest[:1] not in ("", " ", "\t")):
            ops = ", ".join(COMPARISON_OPS)
            raise self.fail(f"if: cannot read {text!r}; write '{{{{variable}}}} OP value' with OP one of {ops}", line)
        operator = COMPARISON_OPS[op]
        value = _unquote(rest.strip())
        if operator in UNARY_OPS and value:
            raise self.fail(f"if: {op!r} takes no value, got {value!r}", line)
        if operator not in UNARY_OPS and not rest.strip():
            raise self.fail(f'if: missing a value after {op!r} (use "" for empty text)', line)
        variable = match["var"] or match["bare"]
        if not _is_variable_name(variable):
            raise self.fail(
                f"if: {{{{{variable}}}}} has spaces inside the braces; write {{{{{variable.strip()}}}}}", line
            )
        return variable, operator, value

    def _mapping_comparison(self, raw: dict[str, Any], line: int | None) -> tuple[str, str, str]:
        for key in raw:
            if key not in ("var", "op", "value"):
                raise self.fail(f"if: unknown key {key!r} (known: var, op, value)", _key_line(raw, key) or line)
        variable = raw["var"]
        if not _is_variable_name(variable):
            raise self.fail(f"var: expected a variable name, got {_describe(variable)}", _key_line(raw, "var") or line)
        operator = _operator(raw.get("op"))
        if operator is None:
            known = ", ".join([*COMPARISON_OPS, *COMPARISON_OPS.values()])
            what = _describe(raw.get("op"))
            raise self.fail(f"op: unknown operator {what} (known: {known})", _key_line(raw, "op") or line)
        value = _scalar_text(raw.get("value", ""))
        if value is None:
            raise self.fail(f"value: expected text, got {_describe(raw.get('value'))}", _key_line(raw, "value") or line)
        return variable, operator, value

    def _set(self, entry: _Entry) -> list[Block]:
        """`set: {var: expr, ...}` (one block per variable) or `set: var` with op:/value:."""
        if isinstance(entry.value, dict):
            return self._set_mapping(entry)
        variable = self._variable_name(entry, "set")
        op_name = entry.raw.get("op", "custom")
        if op_name not in SET_OPS:
            raise self.fail(
                f"op: unknown operation {_describe(op_name)} (known: {', '.join(SET_OPS)})", entry.line_of("op")
            )
        options: dict[str, Any] = {"variableId": variable}
        if op_name != "custom":
            options["type"] = SET_OPS[op_name]
        self._set_options(entry, op_name, options)
        return [Block(id=entry.block_id, type="Set variable", options=options)]

    def _set_options(self, entry: _Entry, op_name: str, options: dict[str, Any]) -> None:
        """value: for custom/append, into: for pop/shift, timezone: for the dates."""
        allowed = {
            "value": op_name in ("custom", "append"),
            "into": op_name in ("pop", "shift"),
            "timezone": op_name in ("now", "today", "yesterday", "tomorrow"),
        }
        for key, ok in allowed.items():
            if key in entry.raw and not ok:
                raise self.fail(f"{key}: not used by op {op_name!r}", entry.line_of(key))
        if op_name in ("custom", "append"):
            if "value" not in entry.raw:
                raise self.fail(f"set: missing 'value:' (or give op: one of {', '.join(SET_OPS)})", entry.line)
            options["expressionToEvaluate" if op_name == "custom" else "item"] = _expression(entry.raw["value"])
        if "into" in entry.raw:
            options["saveItemInVariableId"] = self._variable_name(entry, "into")
        if "timezone" in entry.raw:
            options["timeZone"] = self._text(entry, "timezone")

    def _set_mapping(self, entry: _Entry) -> list[Block]:
        pairs = entry.value
        for key in ("op", "value", "into", "timezone"):
            if key in entry.raw:
                raise self.fail(f"{key}: only with 'set: VARIABLE' (not with a mapping)", entry.line_of(key))
        if not pairs:
            raise self.fail("set: expected at least one 'variable: value'", entry.line)
        blocks = []
        for n, (name, value) in enumerate(pairs.items()):
            if not _is_variable_name(name):
                line = _key_line(pairs, name) or entry.line
                raise self.fail(f"set: expected a variable name, got {_describe(name)}", line)
            block_id = entry.block_id if n == 0 else f"{entry.block_id}-{n}"
            options: dict[str, Any] = {"variableId": name}
            if value is None:
                options["type"] = "Empty"
            else:
                options["expressionToEvaluate"] = _expression(value)
            blocks.append(Block(id=block_id, type="Set variable", options=options))
        return blocks

    def _goto(self, entry: _Entry) -> Block:
        """A Jump; `goto: "{{var}}"` jumps to the group titled by the variable at run time."""
        target = entry.value
        if isinstance(target, str) and _SINGLE_VAR.match(target):
            group_id = target
        else:
            group_id = self._target(target, "goto", entry.line)
        return Block(id=entry.block_id, type="Jump", options={"groupId": group_id})

    def _wait(self, entry: _Entry) -> Block:
        seconds = self._number_option(entry.value, "wait", entry.line)
        if _is_number(seconds) and seconds < 0:
            raise self.fail(f"wait: expected a number of seconds, got {seconds!r}", entry.line)
        options: dict[str, Any] = {"secondsToWaitFor": seconds if isinstance(seconds, str) else _number_text(seconds)}
        if "pause" in entry.raw:
            options["shouldPause"] = self._option_value(entry, "pause", "bool")
        return Block(id=entry.block_id, type="Wait", options=options)

    def _redirect(self, entry: _Entry) -> Block:
        options: dict[str, Any] = {"url": self._text(entry, "redirect")}
        if "new_tab" in entry.raw:
            options["isNewTab"] = self._option_value(entry, "new_tab", "bool")
        return Block(id=entry.block_id, type="Redirect", options=options)

    def _return(self, entry: _Entry) -> Block:
        if entry.value is not True:
            raise self.fail(f"return: expected true, got {_describe(entry.value)}", entry.line)
        return Block(id=entry.block_id, type="Return")

    # -- variables ----------------------------------------------------------------------------

    def _check_var_refs(self, block: Block, entry: _Entry) -> None:
        """`{{ name }}` with spaces inside the braces never matches (names are exact)."""
        names = self.brace_names[id(block)] = _brace_names(block)
        for name in names:
            if name != name.strip():
                written, meant = "{{" + name + "}}", "{{" + name.strip() + "}}"
                raise self.fail(f"{entry.key}: {written!r} has spaces inside the braces; write {meant!r}", entry.line)

    def _variables(self, data: dict[str, Any], groups: list[Group]) -> list[Variable]:
        """Declared variables first (with their initial values), then every other one used."""
        declared = data.get("variables") or {}
        if not isinstance(declared, dict):
            what = _describe(declared)
            raise self.fail(
                f"variables: expected a mapping of names to values, got {what}", _key_line(data, "variables")
            )
        variables = [self._declared(name, value, declared) for name, value in declared.items()]
        known = {v.name for v in variables}
        for group in groups:
            for block in group.blocks:
                for name in _referenced_names(block, self.brace_names.get(id(block))):
                    if name not in known:
                        known.add(name)
                        variables.append(Variable(id=name, name=name))
        return variables

    def _declared(self, name: Any, value: Any, declared: dict[str, Any]) -> Variable:
        line = _key_line(declared, name)
        if not _is_variable_name(name):
            raise self.fail(f"variables: expected a variable name, got {_describe(name)}", line)
        return Variable(id=name, name=name, value=self._initial_value(name, value, line))

    def _initial_value(self, name: str, value: Any, line: int | None) -> VariableValue:
        """Text, null or a list of text, as Typebot stores values (numbers become text)."""
        if value is None:
            return None
        if isinstance(value, list):
            items = [None if v is None else _scalar_text(v) for v in value]
            if all(v is not None or raw is None for v, raw in zip(items, value, strict=True)):
                return items
        elif (text := _scalar_text(value)) is not None:
            return text
        raise self.fail(f"{name}: expected text, a number or a list, got {_describe(value)}", line)


# --------------------------------------------------------------------------------------------
# Module helpers
# --------------------------------------------------------------------------------------------


def _ends_group(block: Block) -> bool:
    """Blocks after which a group does not continue into the next one."""
    if block.type in ("Jump", "Return"):
        return True
    return block.outgoing_edge_id is not None


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _operator(op: Any) -> str | None:
    """Our short operator or Typebot's own name (any case) → Typebot's name."""
    if not isinstance(op, str):
        return None
    key = " ".join(op.lower().split())
    if key in COMPARISON_OPS:
        return COMPARISON_OPS[key]
    return next((name for name in COMPARISON_OPS.values() if name.lower() == key), None)


def _expression(value: Any) -> str:
    """A Custom Set-variable expression as text (lists/mappings as JSON literals)."""
    text = _scalar_text(value)
    if text is not None:
        return text
    return json.dumps(value, ensure_ascii=False)


def _strings(value: Any) -> list[str]:
    """Every text inside `value`, in document order (one list, no recursion: it runs per block)."""
    found: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            pending.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            pending.extend(reversed(item))
    return found


_VARIABLE_KEYS = ("variableId", "saveItemInVariableId")


def _is_variable_name(value: object) -> TypeGuard[str]:
    """Non-empty text, no surrounding spaces, no braces (names are matched exactly)."""
    return isinstance(value, str) and bool(value) and value == value.strip() and not set("{}") & set(value)


def _referenced_names(block: Block, brace_names: list[str] | None = None) -> list[str]:
    """Variable names a block uses: the ones it saves into, compares, or writes as {{Name}}."""
    names = [block.options[k] for k in _VARIABLE_KEYS if isinstance(block.options.get(k), str)]
    for item in block.items:
        condition = item.data.get("content") if block.type == "Condition" else None
        if isinstance(condition, dict):
            names += [c["variableId"] for c in condition.get("comparisons", [])]
    return names + (brace_names if brace_names is not None else _brace_names(block))


def _brace_names(block: Block) -> list[str]:
    """Names written as {{Name}} anywhere in the block (inline code `{{= js =}}` excluded)."""
    texts = _strings(block.options) + _strings(block.content or {}) + _strings([i.data for i in block.items])
    return [m for text in texts for m in _VAR_REF.findall(text) if not m.lstrip().startswith("=")]


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def compile_flow(data: Any, *, path: str, default_id: str | None = None) -> Flow:
    """Compile parsed YAML/JSON data of our format into a Flow (id defaults to the file stem)."""
    return _Compiler(path=path).compile(data, default_id or Path(path).stem)


def flow_from_text(text: str, *, path: str, is_json: bool = False) -> Flow:
    """Parse and compile the text of one flow file."""
    data = parse_json(text, path=path) if is_json else parse_yaml(text, path=path)
    return compile_flow(data, path=path)
