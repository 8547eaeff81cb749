"""Custom Set-variable expressions: the JS subset, and Typebot's text fallback for the rest."""

from __future__ import annotations

import pytest

from tui.flow.model import Variable, VariableValue
from tui.rules.expressions import evaluate_expression
from tui.rules.variables import Scope

NAMES = ["Score", "Name", "List", "Unset", "Poster path", "Zip", "Flag"]


@pytest.fixture
def scope() -> Scope:
    variables = [Variable(id=f"id{i}", name=n) for i, n in enumerate(NAMES)]
    values: dict[str, VariableValue] = {
        "id0": "10",
        "id1": "Bob",
        "id2": ["a", "b"],
        "id4": "/p.jpg",
        "id5": "0123",
        "id6": "true",
    }
    return Scope(variables, values)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # exactly {{X}}: a text copy (Typebot's parseVariables; lists become JSON text)
        ("{{Score}}", "10"),
        ("{{Name}}", "Bob"),
        ("{{List}}", '["a","b"]'),
        ("{{Unset}}", None),  # "" is stored as null
        # numeric literals come back as JS number text
        ("0", "0"),
        ("42", "42"),
        ("2.50", "2.5"),
        ("1e3", "1000"),
        ("-7", "-7"),
        ("0x10", "0x10"),  # Typebot's octal guard also catches hex text
        ("0.5", "0.5"),
        # a numeric text with a leading zero is kept as is
        ("007", "007"),
        ("0123456", "0123456"),
        # string literals
        ('"he"', "he"),
        ("'she'", "she"),
        ('"a\\"b"', 'a"b'),
        ("`tpl`", "tpl"),
        # arithmetic with guessed types
        ("{{Score}} + 5", "15"),
        ("{{Score}} - 2.5", "7.5"),
        ("{{Score}} * 3", "30"),
        ("{{Score}} / 4", "2.5"),
        ("{{Score}} % 3", "1"),
        ("({{Score}} + 2) * 2", "24"),
        ("{{Score}} + 2 * 2", "14"),
        ("-{{Score}} + 1", "-9"),
        ("0.1 + 0.2", "0.30000000000000004"),
        ("{{Unset}} + 5", "null"),  # undefined + 5 is NaN, which JSON.stringify writes as null
        ("{{Flag}} + 1", "2"),  # true + 1
        ("{{Zip}} + 1", "01231"),  # leading-zero text stays text
        ("1 / 0", "null"),  # Infinity stringifies to null
        # + with a string concatenates like JS
        ('{{Name}} + "!"', "Bob!"),
        ('"n=" + {{Score}}', "n=10"),
        ("{{List}} + 1", "a,b1"),
        ("1 + 2 + 'x'", "3x"),
        # booleans and null
        ("true", "true"),
        ("null", None),
        ("undefined", None),
        # JSON literals, with or without return
        ('["a", "b"]', ["a", "b"]),
        ('return [\n  "Title 1",\n  "Title 2"\n]', ["Title 1", "Title 2"]),
        ("[1, 2.5, true, null]", ["1", "2.5", "true", None]),
        ('[{"k": 1}, [1, 2]]', ['{"k":1}', "[1,2]"]),
        ("[]", []),
        ('{\n  "name": "John",\n  "age": 25,\n  "gender": "male"\n}', '{"name":"John","age":25,"gender":"male"}'),
        ('return {"a": [1, {"b": null}]};', '{"a":[1,{"b":null}]}'),
        ("{a: 1, 'b': 'x'}", '{"a":1,"b":"x"}'),
        ("return 5;", "5"),
        ("return 1 + 1 // comment", "2"),
    ],
)
def test_supported_expressions(scope: Scope, expr: str, expected: object) -> None:
    assert evaluate_expression(expr, scope) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("he", "he"),  # ReferenceError -> the text
        ("Promoter", "Promoter"),
        ("location.href", "location.href"),
        ("document.location.origin", "document.location.origin"),
        ("https://image.tmdb.org/t/p/w185{{Poster path}}", "https://image.tmdb.org/t/p/w185/p.jpg"),
        ("2f584d1ffe2b7fb082dd4e05038e9bd7", "2f584d1ffe2b7fb082dd4e05038e9bd7"),
        ("Variable item", "Variable item"),
        ("Hello {{Name}}", "Hello Bob"),
        ("{{Score}} +", "10 +"),
        ("'unterminated", "'unterminated"),
    ],
)
def test_fallback_is_substituted_text(scope: Scope, expr: str, expected: str) -> None:
    assert evaluate_expression(expr, scope) == expected


def test_unknown_variable_is_dropped_from_code(scope: Scope) -> None:
    # Typebot writes "" for an undeclared variable, so " + 5" evaluates to 5
    assert evaluate_expression("{{Nope}} + 5", scope) == "5"


def test_return_followed_by_newline_is_undefined(scope: Scope) -> None:
    assert evaluate_expression("return\n5", scope) == "return\n5"  # no "return " -> syntax error path
    assert evaluate_expression("return \n5", scope) is None


def test_empty_expression(scope: Scope) -> None:
    assert evaluate_expression("", scope) is None
    assert evaluate_expression(None, scope) is None
