"""The embedded engine (V8 through mini-racer): wrapping, purity, limits, and the fast paths."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tui.flow.jsvalues import UNDEFINED
from tui.flow.model import Variable, VariableValue
from tui.rules.expressions import ValueTooLarge, evaluate_expression
from tui.rules.javascript import VALUE_LIMIT_CHARS, ScriptRunaway, run_script
from tui.rules.templates import ENGINE_NAMES, run_code
from tui.rules.variables import Scope

NOW = datetime(2024, 5, 6, 21, 45, 30, 123000, tzinfo=UTC)


def run(body: str, *args: tuple[str, object], seed: str = "s:1") -> object:
    result = run_script(body, list(args), now=NOW, seed_text=seed)
    assert result.error is None, result.error
    return result.value


def scope(values: dict[str, VariableValue] | None = None) -> Scope:
    names = ["Score", "Name", "Q2", "Cleared"]
    variables = [Variable(id=f"v{n.lower()}", name=n) for n in names]
    seeds = iter(range(10_000))
    return Scope(variables, dict(values or {}), now=NOW, next_seed=lambda: f"7:{next(seeds)}")


def test_the_clock_is_the_steps_now() -> None:
    assert run("return new Date().toISOString()") == "2024-05-06T21:45:30.123Z"
    assert run("return Date.now()") == NOW.timestamp() * 1000
    assert run("return new Date().getHours()") == 21  # UTC, whatever the machine's zone
    assert run("return new Intl.DateTimeFormat('en-US', {timeZone: 'UTC'}).format()") == "5/6/2024"
    assert run("return new Date(0) instanceof Date && typeof Date()") is not None


def test_math_random_is_seeded_by_the_caller() -> None:
    first = run("return [Math.random(), Math.random()]", seed="s:1")
    assert first == run("return [Math.random(), Math.random()]", seed="s:1")
    assert first != run("return [Math.random(), Math.random()]", seed="s:2")
    assert all(0 <= x < 1 for x in first)  # type: ignore[attr-defined]


def test_nothing_survives_between_evaluations() -> None:
    run("leaked = 5; Math.random = () => 0; Date.now = () => 1; return 1")
    assert run("return typeof leaked") == "undefined"
    assert run("return Date.now()") == NOW.timestamp() * 1000
    assert run("return Math.random() !== 0") is True


def test_no_io_and_no_host_objects() -> None:
    assert (
        run("return [typeof fetch, typeof require, typeof process, typeof setTimeout, typeof window]")
        == ["undefined"] * 5
    )


def test_parameters_and_undefined() -> None:
    assert run("return a + 5", ("a", UNDEFINED)) != run("return a + 5", ("a", None))
    assert run("return a + 5", ("a", None)) == 5
    assert run("return typeof a", ("a", UNDEFINED)) == "undefined"
    assert run("return a.length", ("a", ["x", None])) == 2


def test_errors_are_reported_not_raised() -> None:
    assert run_script("return nope", [], now=NOW, seed_text="x").error == "ReferenceError: nope is not defined"
    assert run_script("return (", [], now=NOW, seed_text="x").error.startswith("SyntaxError")  # type: ignore[union-attr]
    assert run_script("throw 'x'", [], now=NOW, seed_text="x").error == "x"


def test_a_runaway_loop_is_stopped() -> None:
    with pytest.raises(ScriptRunaway, match="ran longer than 1 s"):
        run_script("while (true) {}", [], now=NOW, seed_text="x")
    assert run("return 2") == 2  # the engine is still usable


def test_a_memory_hog_is_stopped() -> None:
    hog = "const a = []; for (;;) a.push(new Array(1e6).fill(Math.random()))"
    with pytest.raises(ScriptRunaway):
        run_script(hog, [], now=NOW, seed_text="x")
    assert run("return 3") == 3


def test_a_huge_value_is_refused() -> None:
    result = run_script(f"return 'x'.repeat({VALUE_LIMIT_CHARS + 1})", [], now=NOW, seed_text="x")
    assert result.too_large
    with pytest.raises(ValueTooLarge):
        evaluate_expression(f"'y'.repeat({VALUE_LIMIT_CHARS * 2})", scope())


# --- Typebot's wrapping (evaluateSetVariableExpression) -------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("{{Score}} + 5", "15"),
        ("let t = {{Score}}; if (t > 5) { t = t * 2 } return t", "20"),
        ("function f(x) { return x + 1 }\nreturn f({{Score}})", "11"),
        ("{{Q2}} + {{Score}}", "null"),  # undefined + 10 is NaN: the "score" case
        ("{{Cleared}} + {{Score}}", "10"),  # a cleared (null) variable is 0
        ("{{Name}}.toUpperCase()", "ADA"),
        ("[{{Score}}, {{Name}}, null]", ["10", "Ada", None]),
        ("({a: {{Score}}})", '{"a":10}'),
        ("new Date().toISOString()", "2024-05-06T21:45:30.123Z"),
        ("Hello {{Name}}", "Hello Ada"),  # SyntaxError: the substituted text
        ("'{{Name}}'", "vname"),  # inside quotes a variable reads as its id, as in Typebot
        ("007", "007"),
        ("{{Score}}", "10"),
        ("", None),
        ("\\d+ and {{Name}}", "\\d+ and Ada"),  # backslashes kept once
    ],
)
def test_set_variable_expressions(expr: str, expected: object) -> None:
    values: dict[str, VariableValue] = {"vscore": "10", "vname": "Ada", "vcleared": None}
    assert evaluate_expression(expr, scope(values)) == expected


def test_client_side_result_goes_through_json() -> None:
    # Typebot's client sends safeStringify(result); the server stores safeJsonParse of it.
    assert evaluate_expression("'12'", scope(), on_client=True) == "12"
    assert evaluate_expression("JSON.stringify('x')", scope(), on_client=True) == "x"
    assert evaluate_expression("'x'", scope(), on_client=True) == "x"


def test_set_variable_calls_are_collected() -> None:
    result = run_code(
        "setVariable('Name', {{Score}} * 2); setVariable('Other', [1])", scope({"vscore": "4"}), add_return=False
    )
    assert result.result.set_calls == [("Name", 8), ("Other", [1])]


def test_deep_nesting_is_one_error_not_a_crash() -> None:
    # issue 12: 250+ levels used to raise RecursionError in the hand-written evaluator
    assert evaluate_expression("(" * 300 + "1" + ")" * 300, scope()) == "1"
    deeper = "[" * 200_000 + "]" * 200_000
    assert evaluate_expression(deeper, scope()) == deeper  # V8's RangeError: the text comes back


# --- the fast paths are proven identical to the engine --------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "0",
        "42",
        "-7",
        "2.50",
        "1e3",
        "1e400",
        "-0",
        "0.1",
        "98765432198765432198",
        "he",
        "Promoter",
        "billing",
        "x_1",
        "$a",
    ],
)
def test_fast_paths_match_the_engine(code: str) -> None:
    fast = evaluate_expression(code, scope())
    engine = run_code(code, scope(), add_return=True)
    from tui.rules.variables import to_stored_value

    slow = to_stored_value(engine.fallback if engine.result.error else engine.result.value)
    assert fast == slow


def test_fast_path_names_cover_every_name_the_engine_resolves() -> None:
    names = run(
        "const out = new Set(); let o = globalThis;"
        " while (o) { for (const k of Object.getOwnPropertyNames(o)) out.add(k); o = Object.getPrototypeOf(o) }"
        " return [...out]"
    )
    assert isinstance(names, list)
    assert set(names) <= ENGINE_NAMES


def test_inside_a_running_asyncio_loop_limits_still_work_and_the_process_exits() -> None:
    """The TUI steps the engine on its asyncio loop: mini-racer must not adopt that loop."""
    import subprocess
    import sys

    code = (
        "import asyncio\n"
        "from datetime import datetime, UTC\n"
        "from tui.rules.javascript import ScriptRunaway, run_script\n"
        "async def main():\n"
        "    now = datetime(2024, 1, 1, tzinfo=UTC)\n"
        "    print(run_script('return 1 + 1', [], now=now, seed_text='x').value)\n"
        "    try:\n"
        "        run_script('while (true) {}', [], now=now, seed_text='x')\n"
        "    except ScriptRunaway as exc:\n"
        "        print(exc.reason)\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2", "ran longer than 1 s"]
