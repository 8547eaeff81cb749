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
from dataclasses import dataclass
from typing import Any

from tui.flow.model import VariableValue
from tui.rules._js import UNDEFINED, js_number
from tui.rules.javascript import ScriptResult, run_script
from tui.rules.variables import VARIABLE_PATTERN, Scope, is_single_variable, safe_stringify, substitute, to_stored_value

_OCTAL_GUARD = re.compile(r"0[^.\n\r\u2028\u2029].+")
_PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BARE_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_REFERENCE = re.compile(r"\{\{(.*?)\}\}")

# Every name a bare identifier can resolve to inside the engine's function body: the realm's
# globals (own and inherited from Object.prototype) and the function's own bindings.
# tests/unit/test_rules_expressions.py checks this list covers what the engine exposes.
ENGINE_NAMES = frozenset(
    """Object Function Array Number parseFloat parseInt Infinity NaN undefined Boolean String Symbol
    Date Promise RegExp Error AggregateError EvalError RangeError ReferenceError SyntaxError TypeError
    URIError globalThis JSON Math Intl ArrayBuffer Atomics Uint8Array Int8Array Uint16Array Int16Array
    Uint32Array Int32Array BigUint64Array BigInt64Array Uint8ClampedArray Float32Array Float64Array
    DataView Map BigInt Set Iterator WeakMap WeakSet Proxy Reflect FinalizationRegistry WeakRef
    decodeURI decodeURIComponent encodeURI encodeURIComponent escape unescape eval isFinite isNaN
    console Temporal SuppressedError DisposableStack AsyncDisposableStack Float16Array
    SharedArrayBuffer WebAssembly __timer_manager setTimeout clearTimeout __sc_run __sc_result
    constructor __defineGetter__ __defineSetter__ hasOwnProperty __lookupGetter__ __lookupSetter__
    isPrototypeOf propertyIsEnumerable toString valueOf __proto__ toLocaleString
    this arguments true false null setVariable""".split()
)


class ValueTooLarge(Exception):
    """A script's value is over the size limit: refused, the variable keeps its value."""


@dataclass(frozen=True)
class CodeRun:
    """A script's outcome plus the text Typebot falls back to on an error."""

    result: ScriptResult
    fallback: str


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
    if _BARE_NAME.fullmatch(code) and code not in ENGINE_NAMES:
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


def run_code(code: str, scope: Scope, *, add_return: bool) -> CodeRun:
    """Run code as Typebot's executeFunction does: `{{Name}}` → id, referenced variables as
    parameters with guessed-type values, `setVariable` available.

    Typebot's ids are identifiers (cuid); an id that is not one (our YAML flows, hand-made
    exports) is given a stand-in parameter name so the code still runs."""
    body = code if not add_return or "return " in code else f"return {code}"
    params: dict[str, str] = {}
    args: list[tuple[str, Any]] = []
    for match in _REFERENCE.finditer(code):
        variable = scope.variable_by_name(match.group(1))
        if variable is None or variable.id in params:
            continue
        usable = _BARE_NAME.fullmatch(variable.id) and variable.id not in ENGINE_NAMES
        params[variable.id] = variable.id if usable else f"__sc_var{len(params)}"
        args.append((params[variable.id], scope.code_value(variable.id)))

    def to_param(match: re.Match[str]) -> str:
        variable_id = scope.id_for_name(match.group(1))
        return params.get(variable_id, variable_id) if variable_id else ""

    body = VARIABLE_PATTERN.sub(to_param, body)
    result = run_script(body, args, now=scope.now, seed_text=scope.next_seed())
    fallback = substitute(code, scope) if result.error is not None else ""
    return CodeRun(result, fallback)


def inline_code_text(code: str, scope: Scope) -> str:
    """`{{= code =}}` in a template: the value as text, or the substituted code on an error."""
    try:
        run = run_code(code, scope, add_return=True)
    except Exception:  # a runaway inside a template: keep the text rather than stop a bubble
        return substitute(code, scope)
    if run.result.error is not None or run.result.too_large:
        return substitute(code, scope)
    value = run.result.value
    if value is UNDEFINED or value is None:
        return ""
    text = safe_stringify(value)
    if isinstance(text, list):
        from tui.rules._js import js_json_stringify

        return js_json_stringify(value) or ""
    return text or ""
