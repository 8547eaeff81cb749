"""Variables: Scope lookups, {{Name}} substitution and Typebot's value conversions."""

from __future__ import annotations

import math

import pytest

from tui.flow.jsvalues import UNDEFINED, js_number, js_number_to_string, js_parse_float, safe_stringify
from tui.flow.model import Variable, VariableValue
from tui.rules.templates import substitute
from tui.rules.variables import (
    Scope,
    find_unique_variable,
    guess_type,
    is_single_variable,
    to_stored_value,
)


def make_scope(**values: VariableValue) -> Scope:
    names = ["Name", "name", "List", "Empty", "Score", "Other var"]
    variables = [Variable(id=f"v_{i}", name=n) for i, n in enumerate(names)]
    by_name = {v.name: v.id for v in variables}
    return Scope(variables, {by_name[k.replace("_", " ")]: v for k, v in values.items()})


def test_scope_lookups_by_id_and_name() -> None:
    scope = make_scope(Name="Ada", Score="3")
    assert scope.get_by_id("v_0") == "Ada"
    assert scope.get_by_name("Name") == "Ada"
    assert scope.get_by_name("name") is None  # case-sensitive
    assert scope.id_for_name("Score") == "v_4"
    assert scope.id_for_name("Nope") is None
    assert scope.values_by_name()["Score"] == "3"


def test_scope_falls_back_to_declared_value_and_writes_through() -> None:
    values: dict = {}
    scope = Scope([Variable(id="a", name="A", value="preset")], values)
    assert scope.get_by_id("a") == "preset"
    scope.set_by_id("a", "new")
    assert values == {"a": "new"}
    assert scope.get_by_name("A") == "new"


def test_duplicate_names_use_the_first_with_a_value() -> None:
    scope = Scope([Variable(id="a", name="X"), Variable(id="b", name="X")], {"b": "second"})
    assert substitute("{{X}}", scope) == "second"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello {{Name}}!", "Hello Ada!"),
        ("{{name}}", ""),  # exact, case-sensitive name; unset -> ""
        ("{{ Name }}", ""),  # no trimming
        ("{{Unknown}}x", "x"),
        ("{{Empty}}|", "|"),
        ("{{List}}", '["a","b"]'),
        ("{{Other var}}", "spaced"),
        ("a {{Name}} b {{Name}}", "a Ada b Ada"),
        ("{{{Name}}}", "{Ada}"),
        ("${{Name}}", "$Ada"),
        ("${{{Name}}}", "${Ada}"),
        ("no vars", "no vars"),
        ("", ""),
    ],
)
def test_substitute(template: str, expected: str) -> None:
    scope = make_scope(Name="Ada", List=["a", "b"], Other_var="spaced")
    assert substitute(template, scope) == expected


def test_substitute_list_json_keeps_unicode_and_nulls() -> None:
    scope = make_scope(List=["é", None, 'q"'])
    assert substitute("{{List}}", scope) == '["é",null,"q\\""]'


def test_substitute_take_latest_if_list() -> None:
    scope = make_scope(List=["a", "b"], Empty=[])
    assert substitute("{{List}}", scope, take_latest_if_list=True) == "b"
    assert substitute("[{{Empty}}]", scope, take_latest_if_list=True) == "[]"


def test_substitute_none_text() -> None:
    assert substitute(None, make_scope()) == ""


def test_inline_code_is_evaluated() -> None:
    scope = make_scope(Score="4")
    assert substitute("Total: {{={{Score}} * 2=}}", scope) == "Total: 8"
    assert substitute("{{= unknownFn() =}}", scope) == " unknownFn() "


def test_find_unique_variable() -> None:
    scope = make_scope()
    score = find_unique_variable("{{Score}}", scope)
    assert score is not None and score.id == "v_4"
    assert find_unique_variable("{{Score}} ", scope) is None
    assert find_unique_variable("x{{Score}}", scope) is None
    assert find_unique_variable("{{Nope}}", scope) is None
    assert find_unique_variable(None, scope) is None
    assert is_single_variable("{{A}}") and not is_single_variable("{{A}}{{B}}")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        ("", ""),
        (3, "3"),
        (3.5, "3.5"),
        (3.0, "3"),
        (True, "true"),
        (False, "false"),
        (None, None),
        (UNDEFINED, None),
        (math.nan, "null"),
        (math.inf, "null"),
        ({"a": 1, "b": [1, "x"]}, '{"a":1,"b":[1,"x"]}'),
        ({"é": "ü"}, '{"é":"ü"}'),
        (["a", 1, None, {"k": True}, [1, 2]], ["a", "1", None, '{"k":true}', "[1,2]"]),
        (1e21, "1e+21"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_safe_stringify(value: object, expected: object) -> None:
    assert safe_stringify(value) == expected


def test_to_stored_value_applies_typebot_sanitising() -> None:
    assert to_stored_value("") is None
    assert to_stored_value(["", "a"]) == [None, "a"]
    assert to_stored_value(5) == "5"
    # cleaned once: backslashes stay as written (they used to pile up as values chained)
    assert to_stored_value("C:\\path") == "C:\\path"
    assert to_stored_value(to_stored_value("\\d+")) == "\\d+"
    assert to_stored_value("line\\nok") == "line\\nok"
    assert to_stored_value("\ud800x") == "\ufffdx"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("false", False),
        ("null", None),
        ("42", 42),
        ("-3", -3),
        ("2.5", 2.5),
        ("0", 0),
        ("0.5", 0.5),
        ("007", "007"),
        ("0123", "0123"),
        ("+33612", "+33612"),
        ("1e3", 1000),
        ("hello", "hello"),
        ("12abc", "12abc"),
        ("True", "True"),
        (None, None),
        (["1", "2"], ["1", "2"]),
    ],
)
def test_guess_type(text: object, expected: object) -> None:
    result = guess_type(text)  # type: ignore[arg-type]
    assert result == expected
    assert type(result) is type(expected)


def test_guess_type_undefined() -> None:
    assert guess_type("undefined") is UNDEFINED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12.0, "12"),
        (12.5, "12.5"),
        (-0.0, "0"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (123e20, "1.23e+22"),
        (1e21, "1e+21"),
        (math.nan, "NaN"),
    ],
)
def test_js_number_to_string(value: float, expected: str) -> None:
    assert js_number_to_string(value) == expected


def test_js_number_and_parse_float() -> None:
    assert js_number("") == 0 and js_number("  7 ") == 7 and js_number("0x10") == 16
    assert math.isnan(js_number("12abc")) and math.isnan(js_number("1,5"))
    assert js_parse_float("12abc") == 12 and js_parse_float(" -1.5e2x") == -150
    assert math.isnan(js_parse_float("abc")) and math.isnan(js_parse_float(""))
