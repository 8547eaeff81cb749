"""`{{Name}}` templates and the code inside them, as Typebot runs them.

`substitute` fills a template (Typebot's parseVariables); inline code `{{= code =}}` in a template
runs through `run_code` (Typebot's executeFunction), whose error fallback is the substituted code.
The two call each other, so they live here together, above `tui.rules.variables` (the values) and
`tui.rules.javascript` (V8, imported only when code really runs) and below the rule modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tui.flow.jsvalues import UNDEFINED, js_json_stringify, safe_stringify
from tui.rules.javascript import ScriptResult, run_script
from tui.rules.variables import Scope

VARIABLE_PATTERN = re.compile(r"\{\{([^{}]+)\}\}")
INLINE_CODE_PATTERN = re.compile(r"\{\{=(.+?)=\}\}")
BARE_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_REFERENCE = re.compile(r"\{\{(.*?)\}\}")
_NEWLINES = re.compile(r"\n+")

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


def _value_text(value: Any, take_latest_if_list: bool) -> str:
    """How one variable value reads inside a template: text, JSON for lists, "" for nothing."""
    if isinstance(value, str):  # the usual case: a stored value is text
        return value
    if take_latest_if_list and isinstance(value, list):
        value = value[-1] if value else None
    text = safe_stringify(value)
    if isinstance(text, list):  # safe_stringify maps lists; a template needs the JSON text
        text = js_json_stringify(value)
    return text or ""


def substitute(
    text: str | None, scope: Scope, *, take_latest_if_list: bool = False, collapse_newlines: bool = False
) -> str:
    """Replace each `{{Name}}` with the variable's value (Typebot's parseVariables).

    Names match exactly (no trimming, case-sensitive); unknown or unset variables become "";
    lists become JSON text like `["a","b"]` unless `take_latest_if_list` picks the last item.
    Inline code `{{= expr =}}` is evaluated with the Set-variable evaluator first.
    `collapse_newlines` turns each run of newlines inside a value into one space (what a text
    bubble does with a variable that shares its text leaf with other text).
    """
    if not text:
        return ""
    if "{{" not in text:  # nothing to fill: most texts of a flow
        return text

    def collapse(value: str) -> str:
        return _NEWLINES.sub(" ", value) if collapse_newlines and "\n" in value else value

    if "{{=" in text:
        text = INLINE_CODE_PATTERN.sub(lambda m: collapse(inline_code_text(m.group(1), scope)), text)

    def replace(match: re.Match[str]) -> str:
        return collapse(_value_text(scope.get_by_name(match.group(1)), take_latest_if_list))

    return VARIABLE_PATTERN.sub(replace, text)


def is_standalone_variable(text: str | None) -> bool:
    """Whether a rich-text leaf is one `{{X}}` (or one `{{= code =}}`) and nothing else: its
    value then keeps its line breaks (parseVariablesInRichText's isStandaloneElement)."""
    if not text:
        return False
    inline = INLINE_CODE_PATTERN.fullmatch(text)
    if inline:
        return True
    return len(VARIABLE_PATTERN.findall(text)) == 1 and VARIABLE_PATTERN.fullmatch(text) is not None


@dataclass(frozen=True)
class CodeRun:
    """A script's outcome plus the text Typebot falls back to on an error."""

    result: ScriptResult
    fallback: str


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
        usable = BARE_NAME.fullmatch(variable.id) and variable.id not in ENGINE_NAMES
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
        return js_json_stringify(value) or ""
    return text or ""
