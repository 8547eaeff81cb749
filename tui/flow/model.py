"""The one flow model every format compiles into.

It mirrors Typebot v6's graph (groups of blocks, items, edges, events, variables) because the
engine implements Typebot's runtime rules: keeping the same shape keeps those rules literal.
Block `type` strings are Typebot's own (`"text"`, `"text input"`, `"Condition"`, ...) and a
block's `options`/`content` stay Typebot-shaped dicts (camelCase keys), so an import is a
normalisation, not a translation. Our YAML format compiles to exactly these shapes.

`line` fields remember where a block came from in its source file, for error messages.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import cached_property
from typing import Any, Literal

import msgspec

VariableValue = str | list[str | None] | None

BUBBLE_TYPES = frozenset({"text", "image", "video", "audio", "embed"})
INPUT_TYPES = frozenset(
    {
        "text input",
        "number input",
        "email input",
        "url input",
        "phone number input",
        "date input",
        "time input",
        "choice input",
        "picture choice input",
        "rating input",
        "file input",
        "payment input",
        "cards",
    }
)
LOGIC_TYPES = frozenset(
    {
        "Set variable",
        "Condition",
        "Redirect",
        "Code",
        "Typebot link",
        "Wait",
        "AB test",
        "Jump",
        "Return",
        "webhook",
    }
)


DEFAULT_MAX_ANSWER_BYTES = 64 * 1024
"""An answer longer than this (UTF-8 bytes) is refused before it is committed: the server takes
events up to 1 MiB, and a store should not swallow a pasted file. A flow may set its own."""
MAX_ANSWER_BYTES_LIMIT = 512 * 1024
"""The most a flow may allow: an answer event must still fit the server's 1 MiB batch."""


def plain_json_value(value: Any) -> Any:
    """msgspec's hook for values it does not encode itself: a subclass of a JSON type (a script's
    `JsonText` result is a `str`) as its plain value. Pydantic's encoder took subclasses."""
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


class _Model(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The flow models are msgspec Structs: plain, fast classes (building one checks nothing;
    `msgspec.convert`/`msgspec.json.decode` check a whole flow read from outside). Pydantic's
    import and first model build cost ~60 ms of every `play` start.

    A constructor neither validates nor converts: nested models are passed as models, never as
    dicts. Field order is the encoded key order; keep it."""


class Variable(_Model):
    """A flow variable. Values are text or lists of text, as in Typebot."""

    id: str
    name: str
    value: VariableValue = None
    is_session_variable: bool = False


class Item(_Model):
    """An item of a choice, picture choice, condition, AB test or cards block.

    `data` holds the Typebot item fields other than id and edge (content, value, title,
    pictureSrc, displayCondition, path, paths, ...), camelCase as in Typebot.
    """

    id: str
    outgoing_edge_id: str | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class Block(_Model):
    """A block: a bubble, an input, a piece of logic or an integration."""

    id: str
    type: str
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    content: dict[str, Any] | None = None
    items: list[Item] = msgspec.field(default_factory=list)
    outgoing_edge_id: str | None = None
    line: int | None = None

    @property
    def is_input(self) -> bool:
        return self.type in INPUT_TYPES

    @property
    def is_bubble(self) -> bool:
        return self.type in BUBBLE_TYPES


class Group(_Model):
    """A titled group of blocks that run in order until an input."""

    id: str
    title: str
    blocks: list[Block] = msgspec.field(default_factory=list)
    line: int | None = None


class EdgeFrom(_Model):
    event_id: str | None = None
    block_id: str | None = None
    item_id: str | None = None
    path_id: str | None = None


class EdgeTo(_Model):
    group_id: str
    block_id: str | None = None


class Edge(_Model):
    """A connection; the engine resolves edges by id, never by searching `from`."""

    id: str
    from_: EdgeFrom = msgspec.field(name="from")
    to: EdgeTo


class Event(_Model):
    """A flow event: `start` (first, where the flow begins), `command`, `reply`, `invalidReply`."""

    id: str
    type: str  # "start", "command", "reply", "invalidReply" or another (msgspec has no Literal | str)
    outgoing_edge_id: str | None = None
    options: dict[str, Any] = msgspec.field(default_factory=dict)


class Flow(_Model, dict=True):
    """A whole conversation flow.

    `linked` holds other flows this one reaches through Typebot link blocks, by their Typebot id
    (resolved at load time from the same folder, so the engine stays free of I/O).
    `invalid_message` is `settings.general.systemMessages.invalidMessage` or its default.
    `max_answer_bytes` bounds one answer (our format's `max_answer_bytes:`; Typebot: the default).
    `dict=True` gives instances a `__dict__` for the `_index` cache (equality ignores it).
    """

    id: str
    name: str
    version: str = "6.1"
    source_format: Literal["steadychat", "typebot"] = "steadychat"
    events: list[Event] = msgspec.field(default_factory=list)
    groups: list[Group] = msgspec.field(default_factory=list)
    edges: list[Edge] = msgspec.field(default_factory=list)
    variables: list[Variable] = msgspec.field(default_factory=list)
    invalid_message: str = "Invalid message. Please, try again."
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    linked: dict[str, Flow] = msgspec.field(default_factory=dict)

    def canonical_json(self) -> str:
        """Stable JSON text of the flow (sorted keys, no source line numbers)."""
        data: dict[str, Any] = msgspec.to_builtins(self, enc_hook=plain_json_value)
        for group in data["groups"]:  # only the top flow's lines (linked flows keep `"line":null`)
            del group["line"]
            for block in group["blocks"]:
                del block["line"]
        if data["max_answer_bytes"] == DEFAULT_MAX_ANSWER_BYTES:
            del data["max_answer_bytes"]  # flows that keep the default hash as they did before it existed
        try:
            return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except ValueError:  # an infinite or NaN number in an option: null, as the pydantic model wrote it
            return json.dumps(_finite(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def content_hash(self) -> str:
        """sha256 of the canonical flow: what a session records to detect an edited file."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    # Lookup helpers; built lazily, the model is treated as immutable once loaded.
    def group(self, group_id: str) -> Group | None:
        return self._index[0].get(group_id)

    def edge(self, edge_id: str) -> Edge | None:
        return self._index[1].get(edge_id)

    def block_location(self, block_id: str) -> tuple[Group, int] | None:
        return self._index[2].get(block_id)

    def group_by_title(self, title: str) -> Group | None:
        for group in self.groups:
            if group.title == title:
                return group
        return None

    def variable_by_name(self, name: str) -> Variable | None:
        for variable in self.variables:
            if variable.name == name:
                return variable
        return None

    @cached_property
    def _index(self) -> tuple[dict[str, Group], dict[str, Edge], dict[str, tuple[Group, int]]]:
        """Groups, edges and block places by id, built on first use.

        A cached_property keeps it in the instance `__dict__` (`dict=True`): a plain attribute
        read. msgspec ignores it in encoding and equality; `msgspec.structs.replace` drops it (a
        copy builds its own on first use).
        """
        groups = {g.id: g for g in self.groups}
        edges = {e.id: e for e in self.edges}
        blocks = {b.id: (g, i) for g in self.groups for i, b in enumerate(g.blocks)}
        return groups, edges, blocks


def _finite(value: Any) -> Any:
    """`value` with every infinite or NaN float made None (the rare path of `canonical_json`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
