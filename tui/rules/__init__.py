"""Pure helpers implementing Typebot's runtime rules (variables, conditions, answer validation,
Set-variable expressions, rich text). No I/O and no clock: the engine passes `now` in.

Each module follows Typebot's own behaviour (see ../shared/typebot-format.md), including its
quirks, because a flow must behave here exactly as it does in Typebot.

The names below are loaded on first use (PEP 562), not when the package is imported: importing
any `tui.rules.<module>` runs this file first, and eager imports here would load every rule (the
URL checker, the `regex` engine, answer parsing) before `steadychat play` prints anything.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.flow.jsvalues import safe_stringify
    from tui.rules.answers import AnswerResult, Fail, Skip, Success, validate_answer, visible_items
    from tui.rules.conditions import evaluate_condition
    from tui.rules.expressions import evaluate_expression
    from tui.rules.richtext import rich_text_to_markdown, rich_text_to_plain
    from tui.rules.templates import substitute
    from tui.rules.variables import Scope, find_unique_variable, guess_type, to_stored_value

# Each public name and the module that defines it (the TYPE_CHECKING imports above, spelled out).
_HOMES = {
    "AnswerResult": "tui.rules.answers",
    "Fail": "tui.rules.answers",
    "Scope": "tui.rules.variables",
    "Skip": "tui.rules.answers",
    "Success": "tui.rules.answers",
    "evaluate_condition": "tui.rules.conditions",
    "evaluate_expression": "tui.rules.expressions",
    "find_unique_variable": "tui.rules.variables",
    "guess_type": "tui.rules.variables",
    "rich_text_to_markdown": "tui.rules.richtext",
    "rich_text_to_plain": "tui.rules.richtext",
    "safe_stringify": "tui.flow.jsvalues",
    "substitute": "tui.rules.templates",
    "to_stored_value": "tui.rules.variables",
    "validate_answer": "tui.rules.answers",
    "visible_items": "tui.rules.answers",
}

__all__ = [
    "AnswerResult",
    "Fail",
    "Scope",
    "Skip",
    "Success",
    "evaluate_condition",
    "evaluate_expression",
    "find_unique_variable",
    "guess_type",
    "rich_text_to_markdown",
    "rich_text_to_plain",
    "safe_stringify",
    "substitute",
    "to_stored_value",
    "validate_answer",
    "visible_items",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later reads skip this function
    return value
