"""`steadychat play`, `validate`, `sessions` and `export` as a user runs them: real files, real processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLOWS = REPO / "flows"


def steadychat(
    *args: str, stdin: str = "", store: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tui", *args]
    if store is not None:
        command += ["--store", str(store)]
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )


DEMO_ANSWERS = [
    "Ada",
    "ADA@Example.com",
    "abc",
    "36",
    "example.com",
    "+1 650 253 0000",
    "14/07/1990",
    "Tea, Water",
    "The flow format",
    "2",
    "More colours",
]
DEMO_TRANSCRIPT = """\
Hi! I'm Steady, a chatbot that never loses a conversation.
Press F2 at any time to cut the network: your answers are kept and sync later.
> Ada
Nice to meet you, Ada!
> ada@example.com
A few quick questions, so you can see every kind of input.
> abc
Please type a number between 1 and 120.
> 36
> https://example.com
> +16502530000
> 14/07/1990
What do you drink while you work? Pick as many as you like.
[choose one or more, comma-separated: Tea | Coffee | Water | Something else]
> Tea, Water
Thanks, Ada! What would you like to hear about?
[choices: Working offline | The flow format | Nothing, just rate me]
> The flow format
This conversation is a YAML file: flows/demo.yaml.
Groups of blocks such as say:, ask:, choice:, if: and goto:. Typebot exports work too.
[rating 1-5]
> 2
> More colours
Thank you, Ada! Your answers are safe: (ada@example.com, Tea, Water, topic: The flow format).
You earned 1 curiosity points.
"""


def test_demo_flow_end_to_end(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text("\n".join(DEMO_ANSWERS) + "\n")
    result = steadychat("play", "flows/demo.yaml", "--answers", str(answers), store=tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout == DEMO_TRANSCRIPT
    assert "conversation complete" in result.stderr


@pytest.mark.parametrize(
    ("flow", "answers", "last_line"),
    [
        (
            "support.yaml",
            ["Billing", "A refund", "not-an-email", "me@x.io", "It charged twice"],
            "We will answer at me@x.io within one working day.",
        ),
        ("onboarding.yaml", ["Grace", "I lead a team", "12", "09:00"], "You're all set, Grace. Enjoy!"),
        (
            "survey.yaml",
            ["9", "4", "Sync, Themes", "Weekly", "Great sync"],
            "Thank you! (score 9, ease 4/5, promoter).",
        ),
    ],
)
def test_sample_flows_run_to_the_end(tmp_path: Path, flow: str, answers: list[str], last_line: str) -> None:
    result = steadychat("play", f"flows/{flow}", stdin="\n".join(answers) + "\n", store=tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == last_line
    listing = json.loads(steadychat("sessions", "--json", store=tmp_path / "s.db").stdout)
    assert listing[0]["status"] == "completed"


def test_the_first_turn_loads_only_what_it_shows(tmp_path: Path) -> None:
    """Start-up (issue 17): the first output needs the flow, the store and the engine. Answer
    rules, JavaScript, sync and Typebot import load when first used; pydantic (the sync
    protocol's and the server's models) not at all: the flow, step and session records are
    msgspec Structs."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    command = [sys.executable, "-X", "importtime", "-m", "tui", "play", "flows/demo.yaml"]
    result = subprocess.run(
        [*command, "--store", str(tmp_path / "s.db")],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == DEMO_TRANSCRIPT.split("> Ada")[0]
    loaded = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert {"tui.engine", "tui.store", "yaml"} <= loaded
    later = {"importlib.metadata", "email", "tui.rules.answers", "tui.rules.conditions", "tui.rules.expressions"}
    later |= {"tui.rules._dates", "py_mini_racer", "tui.flow.typebot", "tui.sync", "httpx", "textual", "pydantic"}
    assert sorted(loaded & later) == []


def test_pydantic_plugins_load_when_turned_back_on() -> None:
    """The CLI answers pydantic's plugin lookup itself only while plugins are off."""
    code = (
        "import os, sys, tui.cli; os.environ['PYDANTIC_DISABLE_PLUGINS'] = ''\n"
        "from pydantic.plugin._loader import get_plugins\n"
        "print(list(get_plugins()), 'importlib.metadata' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
    assert result.stdout.split() == ["[]", "True"], result.stderr


def test_resume_prints_the_waiting_turn_then_goes_on(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    first = steadychat("play", "flows/support.yaml", stdin="A bug or an error\n", store=store)
    assert first.returncode == 0 and first.stdout.splitlines()[-1] == "> A bug or an error"
    second = steadychat("play", "flows/support.yaml", stdin="2.4.1\nBlocking\n", store=store)
    lines = second.stdout.splitlines()
    assert lines[0] == "> 2.4.1", "resume shows the turn up to the waiting input (an input with no message here)"
    assert "[choices: Blocking | Annoying | Cosmetic]" in lines
    (session,) = json.loads(steadychat("sessions", "--json", store=store).stdout)
    assert session["status"] == "active" and session["flow_id"] == "support"
    new = steadychat("play", "flows/support.yaml", "--new", stdin="", store=store)
    assert new.stdout.startswith("Hi, I'm the support assistant.")
    assert len(json.loads(steadychat("sessions", "--json", store=store).stdout)) == 2


def test_json_mode_prints_one_event_object_per_line(tmp_path: Path) -> None:
    result = steadychat("play", "flows/support.yaml", "--json", stdin="Billing\n", store=tmp_path / "s.db")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {"seq", "type", "ts", "data"} <= set(events[0]) and events[0]["type"] == "start"
    assert any(e["type"] == "answer" and e["data"]["content"] == "Billing" for e in events)


def test_export_json_and_markdown(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    steadychat("play", "flows/support.yaml", stdin="Billing\nAn invoice\n", store=store)
    (session,) = json.loads(steadychat("sessions", "--json", store=store).stdout)
    exported = json.loads(steadychat("export", session["id"], store=store).stdout)
    assert exported["session"]["id"] == session["id"]
    assert [e["seq"] for e in exported["events"]] == list(range(1, session["last_seq"] + 1))
    markdown = steadychat("export", session["id"], "--format", "md", store=store).stdout
    assert "**You:** Billing" in markdown and "**Bot:** Hi, I'm the support assistant." in markdown
    missing = steadychat("export", "f" * 32, store=store)
    assert missing.returncode == 2 and "no session" in missing.stderr and "Traceback" not in missing.stderr


def test_export_of_a_session_with_an_unreadable_event_writes_nothing(tmp_path: Path) -> None:
    """An event the store refuses, in the middle of a session: the export used to print the
    session header and the first events, then the one-line error, leaving a cut-off JSON in a
    redirected file. Every event is now read before the first byte goes out."""
    store = tmp_path / "s.db"
    steadychat("play", "flows/support.yaml", stdin="Billing\nAn invoice\n", store=store)
    (session,) = json.loads(steadychat("sessions", "--json", store=store).stdout)
    with sqlite3.connect(store) as db:
        db.execute('UPDATE "events" SET value = ? WHERE key = ?', ("not json", f"{session['id']}:{3:010d}"))
    db.close()
    for fmt in ("json", "md"):
        result = steadychat("export", session["id"], "--format", fmt, store=store)
        assert result.returncode == 2 and result.stdout == "", fmt
        assert result.stderr.count("\n") == 1 and "not SteadyChat JSON" in result.stderr, fmt


def test_edited_flow_is_noted_once_and_the_session_keeps_its_flow(tmp_path: Path) -> None:
    flow = tmp_path / "mine.yaml"
    flow.write_text("name: Mine\ngroups:\n  A:\n    - ask: name\n    - say: Hello {{name}}\n")
    store = tmp_path / "s.db"
    steadychat("play", str(flow), stdin="", store=store)
    flow.write_text("name: Mine\ngroups:\n  A:\n    - ask: name\n    - say: Bonjour {{name}}\n")
    result = steadychat("play", str(flow), stdin="Ada\n", store=store)
    assert result.stderr.count("changed since session") == 1
    assert "Hello Ada" in result.stdout and "Bonjour" not in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("name: X\ngroups:\n  A:\n    - goto: Nowhere\n", "bad.yaml:4: goto: no group named 'Nowhere'"),
        ("name: X\ngroups:\n  A:\n    - sya: hello\n", "bad.yaml:4: unknown block 'sya'"),
        (
            "name: X\ngroups:\n  A:\n    - ask: age\n      type: number\n      min: abc\n",
            "bad.yaml:6: min: expected a number",
        ),
        ("name: X\ngroups: [oops\n", "bad.yaml:3:"),
    ],
)
def test_validate_and_play_reject_broken_flows_with_one_line(tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    cases: list[tuple[str, str]] = [("validate", str(bad)), ("play", str(bad))]
    for args in cases:
        result = steadychat(*args, store=tmp_path / "s.db") if args[0] == "play" else steadychat(*args)
        assert result.returncode == 2
        (line,) = result.stderr.strip().splitlines()
        assert expected in line, line
        assert "Traceback" not in result.stderr


def test_validate_ok_and_missing_file(tmp_path: Path) -> None:
    ok = steadychat("validate", "flows/demo.yaml", "flows/survey.yaml")
    assert ok.returncode == 0 and ok.stdout.count(": ok") == 2
    missing = steadychat("validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "nope.yaml: cannot read" in missing.stderr


def test_unsupported_typebot_export_is_one_clear_line(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"name": "Old", "blocks": [{"id": "b", "steps": []}]}))
    result = steadychat("play", str(old), store=tmp_path / "s.db")
    assert result.returncode == 2 and "re-export it from a current Typebot" in result.stderr


def test_corrupt_store_is_named_and_left_alone(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    store.write_bytes(b"not a database at all" * 100)
    before = store.read_bytes()
    result = steadychat("play", "flows/demo.yaml", stdin="Ada\n", store=store)
    assert result.returncode == 2 and str(store) in result.stderr and "Traceback" not in result.stderr
    assert store.read_bytes() == before


def test_usage_mistakes_exit_2(tmp_path: Path) -> None:
    both = steadychat("play", "flows/demo.yaml", "--new", "--session", "x", store=tmp_path / "s.db")
    assert both.returncode == 2 and "cannot be used together" in both.stderr
    no_token = steadychat(
        "play",
        "flows/demo.yaml",
        "--server",
        "http://127.0.0.1:9",
        store=tmp_path / "s.db",
        env={"STEADYCHAT_TOKEN": ""},
    )
    assert no_token.returncode == 2 and "--token" in no_token.stderr
    unknown = steadychat("nonsense")
    assert unknown.returncode == 2


def test_store_from_environment(tmp_path: Path) -> None:
    store = tmp_path / "env.db"
    steadychat("play", "flows/support.yaml", stdin="", env={"STEADYCHAT_STORE": str(store)})
    assert store.exists()


def test_click_usage_errors_are_one_line(tmp_path: Path) -> None:
    result = steadychat("play", "flows/demo.yaml", "--answers", str(tmp_path / "missing.txt"), store=tmp_path / "s.db")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "missing.txt" in line and "--help" in line


def test_validate_warns_on_a_jump_to_a_missing_group_and_exits_0(tmp_path: Path) -> None:
    """Typebot imports these exports (10 of 88 templates); every line names the file."""
    export = {
        "version": "6",
        "id": "t",
        "name": "Jumpy",
        "events": [{"id": "s", "type": "start", "outgoingEdgeId": "e1", "graphCoordinates": {"x": 0, "y": 0}}],
        "groups": [
            {
                "id": "g1",
                "title": "Group #1",
                "graphCoordinates": {"x": 0, "y": 0},
                "blocks": [{"id": "j", "type": "Jump", "options": {"groupId": "deleted-group"}}],
            }
        ],
        "edges": [{"id": "e1", "from": {"eventId": "s"}, "to": {"groupId": "g1"}}],
        "variables": [],
    }
    path = tmp_path / "jumpy.json"
    path.write_text(json.dumps(export))
    result = steadychat("validate", str(path))
    assert result.returncode == 0, result.stderr
    lines = (result.stderr + result.stdout).strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(str(path)) for line in lines), lines
    assert "warning: block j in group 'Group #1': jumps to a missing group 'deleted-group'" in result.stderr
