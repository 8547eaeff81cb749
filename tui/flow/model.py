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
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


def new_dict() -> dict[str, Any]:
    """A field's fresh `{}`. A plain function, not `dict`: pydantic reads each default factory's
    signature when it builds a model, and a builtin's costs a parse of its text signature (the
    first one compiles tokenize's patterns: ~8 ms of every start, for 20 fields)."""
    return {}


def new_list() -> list[Any]:
    """A field's fresh `[]` (see `new_dict`)."""
    return []


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


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
    data: dict[str, Any] = Field(default_factory=new_dict)


class Block(_Model):
    """A block: a bubble, an input, a piece of logic or an integration."""

    id: str
    type: str
    options: dict[str, Any] = Field(default_factory=new_dict)
    content: dict[str, Any] | None = None
    items: list[Item] = Field(default_factory=new_list)
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
    blocks: list[Block] = Field(default_factory=new_list)
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
    from_: EdgeFrom = Field(alias="from")
    to: EdgeTo

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Event(_Model):
    """A flow event: `start` (first, where the flow begins), `command`, `reply`, `invalidReply`."""

    id: str
    type: Literal["start", "command", "reply", "invalidReply"] | str
    outgoing_edge_id: str | None = None
    options: dict[str, Any] = Field(default_factory=new_dict)


class Flow(_Model):
    """A whole conversation flow.

    `linked` holds other flows this one reaches through Typebot link blocks, by their Typebot id
    (resolved at load time from the same folder, so the engine stays free of I/O).
    `invalid_message` is `settings.general.systemMessages.invalidMessage` or its default.
    `max_answer_bytes` bounds one answer (our format's `max_answer_bytes:`; Typebot: the default).
    """

    id: str
    name: str
    version: str = "6.1"
    source_format: Literal["steadychat", "typebot"] = "steadychat"
    events: list[Event] = Field(default_factory=new_list)
    groups: list[Group] = Field(default_factory=new_list)
    edges: list[Edge] = Field(default_factory=new_list)
    variables: list[Variable] = Field(default_factory=new_list)
    invalid_message: str = "Invalid message. Please, try again."
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    linked: dict[str, Flow] = Field(default_factory=new_dict)

    def canonical_json(self) -> str:
        """Stable JSON text of the flow (sorted keys, no source line numbers)."""
        data = self.model_dump(
            mode="json", by_alias=True, exclude={"groups": {"__all__": {"line": True, "blocks": {"__all__": {"line"}}}}}
        )
        if data.get("max_answer_bytes") == DEFAULT_MAX_ANSWER_BYTES:
            del data["max_answer_bytes"]  # flows that keep the default hash as they did before it existed
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

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

        A cached_property keeps it in the instance `__dict__`: a plain attribute read, where a
        pydantic private attribute went through `BaseModel.__getattr__` on every lookup (several
        per answer). Pydantic ignores it in dumps, validation and equality; `model_copy` keeps it,
        which is right for the copies the loaders make (`update={"linked": ...}`, same groups).
        """
        groups = {g.id: g for g in self.groups}
        edges = {e.id: e for e in self.edges}
        blocks = {b.id: (g, i) for g in self.groups for i, b in enumerate(g.blocks)}
        return groups, edges, blocks


Flow.model_rebuild()
