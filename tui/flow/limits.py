"""Bounds on what a flow file may make the loader do, so crafted files fail fast in one line.

Real flows stay far inside them: the deepest of the 40 Typebot exports in the corpus nests 13
levels, our bundled flows 8; aliases in hand-written flows repeat a choice list a few times.
"""

from __future__ import annotations

MAX_DEPTH = 100
"""Mappings and lists nested deeper than this are refused (Python's parsers recurse per level)."""

MAX_ALIAS_NODES = 10_000
"""YAML aliases may repeat at most this many nodes in all: beyond it, a small file could expand
into millions of blocks (the "billion laughs")."""


def too_deep_message() -> str:
    return f"nested more than {MAX_DEPTH} levels deep; flatten the structure"


def alias_budget_message() -> str:
    return (
        f"aliases (*name) repeat more than {MAX_ALIAS_NODES:,} nodes in all; "
        "write the repeated part out or use fewer aliases"
    )
