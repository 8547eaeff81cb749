"""Custom Set-variable expressions, Code blocks and inline `{{= code =}}`, as Typebot runs them.

Typebot's rules (`packages/variables/src/evaluateSetVariableExpression.ts`, `executeFunction.ts`,
`packages/bot-engine/src/blocks/logic/script/executeScript.ts`):
- exactly `{{X}}` is a text copy; a numeric text with a leading zero ("007") is kept as is;
- otherwise the code runs as a function body, `return ` prepended unless it contains `return `,
  with each `{{Name}}` replaced by the variable's id and passed as a parameter of that name,
  holding its guessed-type value (`undefined` when never set);
- on a JavaScript error the value is the template-substituted text.
The JavaScript itself runs in V8 (`tui/rules/javascript.py`). Two fast paths skip the engine
where tests prove the result identical (tests/unit/test_rules_expressions.py): a plain decimal
number literal, and a bare name that is not a JavaScript global (a ReferenceError, so the text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tui.errors import EngineError
from tui.flow.jsvalues import js_number, safe_stringify
from tui.flow.model import VariableValue
from tui.rules.templates import BARE_NAME, ENGINE_NAMES, run_code, substitute
from tui.rules.variables import Scope, is_single_variable, to_stored_value

_OCTAL_GUARD = re.compile(r"0[^.\n\r\u2028\u2029].+")
_PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class ValueTooLarge(EngineError):
    """A script's value is over the size limit: refused, the variable keeps its value."""


def evaluate_expression(
    expr: str | None,
    scope: Scope,
    *,
    on_client: bool = False,
    on_error: Callable[[str], None] | None = None,
) -> VariableValue:
    """The value Typebot stores for a Custom Set-variable expression (see the module doc).

    `on_client`: Typebot's web client runs the code and sends back `safeStringify(result)`,
    which the server stores through `safeJsonParse` (so "12" comes back as the number 12).
    `on_error` hears the JavaScript error when the fallback text is stored.
    Raises ValueTooLarge, or ScriptRunaway past the engine's limits.
    """
    code = expr or ""
    if not code:
        return None
    if is_single_variable(code):
        return to_stored_value(substitute(code, scope))
    if js_number(code) == js_number(code) and _OCTAL_GUARD.search(code):
        return to_stored_value(code)
    if _PLAIN_NUMBER.fullmatch(code):
        return to_stored_value(float(code))
    if BARE_NAME.fullmatch(code) and code not in ENGINE_NAMES:
        return to_stored_value(code)
    run = run_code(code, scope, add_return=True)
    if run.result.too_large:
        raise ValueTooLarge
    if run.result.error is not None:
        if on_error is not None:
            on_error(run.result.error)
        return to_stored_value(run.fallback)
    if on_client:
        return to_stored_value(_through_client(run.result.value))
    return to_stored_value(run.result.value)


def _through_client(value: Any) -> Any:
    """safeJsonParse(safeStringify(value)): what a client-side result becomes on the server."""
    import json

    text = safe_stringify(value)
    if isinstance(text, list):
        return text
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return parsed if not isinstance(parsed, int) or isinstance(parsed, bool) else float(parsed)
