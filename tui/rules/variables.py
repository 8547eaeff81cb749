"""Variables: where values live (`Scope`) and Typebot's value rules.

Typebot keys variable values by id but templates name them, so `Scope` answers both. Stored
values are always text or lists of text; `safe_stringify` (in `tui.flow.jsvalues`, which the
Typebot importer shares) and `to_stored_value` are the conversions Typebot applies before storing
(`packages/variables`, `updateVariablesInSession.ts`). `{{Name}}` substitution, which can run
inline code, is one layer up in `tui.rules.templates`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tui.flow.jsvalues import UNDEFINED, js_number, safe_stringify
from tui.flow.model import Variable, VariableValue


class Scope:
    """The flow's variables plus their current values (keyed by variable id, as in Typebot).

    `values` is used by reference, so `set_by_id` writes through to the caller's dict. A
    variable missing from `values` falls back to its declared `value` from the flow file; one
    in neither was never set (JavaScript sees `undefined`, where a cleared one is `null`).
    `now` and `next_seed` are what scripts see as the clock and their random seed (the engine
    passes the step's; the defaults keep rule-only callers pure).
    """

    def __init__(
        self,
        flow_variables: list[Variable],
        values: dict[str, VariableValue],
        *,
        now: datetime | None = None,
        next_seed: Callable[[], str] | None = None,
    ) -> None:
        self.variables = flow_variables  # the flow's own list, read only (a scope is made per use)
        self.values = values
        self.now = now or datetime(1970, 1, 1, tzinfo=UTC)
        self.next_seed: Callable[[], str] = next_seed or (lambda: "0")

    def code_value(self, variable_id: str) -> Any:
        """The value code sees: guessed type, `undefined` when never set (parseGuessedValueType)."""
        if variable_id not in self.values:
            declared = next((v.value for v in self.variables if v.id == variable_id), None)
            return UNDEFINED if declared is None else guess_type(declared)
        return guess_type(self.values[variable_id])

    def get_by_id(self, variable_id: str) -> VariableValue:
        """The current value of a variable, or None when unset or unknown.

        An id read from a hand-edited export may be an object or a list: like Typebot's `===`
        lookup, it names no variable (None) rather than raising."""
        try:
            if variable_id in self.values:
                return self.values[variable_id]
        except TypeError:  # unhashable: not an id
            return None
        for variable in self.variables:
            if variable.id == variable_id:
                return variable.value
        return None

    def get_by_name(self, name: str) -> VariableValue:
        """The value of the first variable so named that has a value (Typebot's lookup)."""
        for variable in self.variables:
            if variable.name == name:
                value = self.get_by_id(variable.id)
                if value is not None:
                    return value
        return None

    def id_for_name(self, name: str) -> str | None:
        """The id of the first variable with exactly this name."""
        variable = self.variable_by_name(name)
        return variable.id if variable else None

    def variable_by_name(self, name: str) -> Variable | None:
        """The first declared variable with exactly this (case-sensitive) name."""
        return next((v for v in self.variables if v.name == name), None)

    def variable_by_id(self, variable_id: str) -> Variable | None:
        """The declared variable with this id."""
        return next((v for v in self.variables if v.id == variable_id), None)

    def has_id(self, variable_id: str) -> bool:
        """Whether the flow declares this variable (Typebot ignores writes to unknown ids)."""
        return self.variable_by_id(variable_id) is not None

    def set_by_id(self, variable_id: str, value: VariableValue) -> None:
        """Store a value (already in stored form) for a variable id."""
        self.values[variable_id] = value

    def values_by_name(self) -> dict[str, VariableValue]:
        """Current values by variable name (first variable wins on duplicate names)."""
        result: dict[str, VariableValue] = {}
        for variable in self.variables:
            result.setdefault(variable.name, self.get_by_id(variable.id))
        return result


def find_unique_variable(text: str | None, scope: Scope) -> Variable | None:
    """The variable a text names when it is exactly `{{X}}` (Typebot's findUniqueVariable)."""
    if not text or not text.startswith("{{") or not text.endswith("}}"):
        return None
    return scope.variable_by_name(text[2:-2])


def is_single_variable(text: str | None) -> bool:
    """Whether a text is one `{{X}}` and nothing else (Typebot's isSingleVariable)."""
    return text is not None and text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1


_LONE_SURROGATE = re.compile(r"[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]")


def _sanitize(text: str | None) -> str | None:
    """Typebot's sanitizeNewVariableValue, once: "" becomes null, lone surrogates become U+FFFD.

    Typebot also doubles lone backslashes there, for its own JSON storage; applied on every
    store that piles them up as values chain (`\\d` → `\\\\d` → ...), so a value keeps its
    backslashes here exactly as written (issue 11).
    """
    if not text:
        return None
    if text.isascii():  # no surrogate in it: the usual case, without a regex pass
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)


def to_stored_value(value: Any) -> VariableValue:
    """The exact value Typebot stores for a new variable value (updateVariablesInSession):
    safe_stringify, then "" -> None and the sanitising of each text."""
    stringified = safe_stringify(value)
    if isinstance(stringified, list):
        return [_sanitize(item) for item in stringified]
    return _sanitize(stringified)


def guess_type(text: VariableValue) -> Any:
    """Typebot's parseGuessedValueType: the JS value code sees for a stored variable value.

    "true"/"false" -> bool, "null" -> None, "undefined" -> UNDEFINED, numeric text -> int/float,
    except a leading "0" (not "0." and not "0" alone) or a leading "+", which stay text.
    Lists and None pass through.
    """
    if text is None or not isinstance(text, str):
        return text
    if text.startswith("0") and not text.startswith("0.") and len(text) > 1:
        return text
    if text.startswith("+"):
        return text
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if text == "undefined":
        return UNDEFINED
    number = js_number(text)
    if number != number:  # NaN: not numeric, keep the text
        return text
    if number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number
