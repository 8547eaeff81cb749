"""Pure helpers implementing Typebot's runtime rules (variables, conditions, answer validation,
Set-variable expressions, rich text). No I/O and no clock: the engine passes `now` in.

Each module follows Typebot's own behaviour (see ../shared/typebot-format.md), including its
quirks, because a flow must behave here exactly as it does in Typebot.
"""

from tui.flow.jsvalues import safe_stringify
from tui.rules.answers import AnswerResult, Fail, Skip, Success, validate_answer, visible_items
from tui.rules.conditions import evaluate_condition
from tui.rules.expressions import evaluate_expression
from tui.rules.richtext import rich_text_to_markdown, rich_text_to_plain
from tui.rules.templates import substitute
from tui.rules.variables import Scope, find_unique_variable, guess_type, to_stored_value

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
