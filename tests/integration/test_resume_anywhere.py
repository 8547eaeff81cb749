"""Resume anywhere (issue 14), as a user does it: two stores, one real server, real processes.

Device A and device B are two store files; every command that changes a store or talks to the
server (play, pull, sync, resolve) is `python -m tui` in a subprocess. What a device holds is read
with the same CLI (`sessions --json`, `export`) in this process: identical output, without paying a
process start for every look. After each scenario the server and both stores hold every answer
given exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.databases import BACKENDS, make_server_db
from tui.cli import main

REPO = Path(__file__).resolve().parents[2]

LOOP_FLOW = """
name: Loop
id: loop
variables: {count: "0"}
groups:
  Ask:
    - say: "Tell me something ({{count}})"
    - ask: thing
    - set: {count: "{{count}} + 1"}
    - goto: Ask
"""


def steadychat(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("STEADYCHAT_")},
        cwd=REPO,
    )


def steadychat_here(*args: str) -> subprocess.CompletedProcess[str]:
    """A read-only command (`sessions`, `export`) through the same CLI, in this process."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("STEADYCHAT_")}
    result = CliRunner().invoke(main, list(args), env=unset, catch_exceptions=False)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


class Device:
    """One store file and the commands a user types on that device."""

    def __init__(self, store: Path, url: str, token: str, flow: Path) -> None:
        self.store, self.url, self.token, self.flow = store, url, token, flow

    def run(self, *args: str, stdin: str = "", server: bool = False) -> subprocess.CompletedProcess[str]:
        extra = ["--server", self.url, "--token", self.token] if server else []
        return steadychat(*args, "--store", str(self.store), *extra, stdin=stdin)

    def look(self, *args: str) -> subprocess.CompletedProcess[str]:
        return steadychat_here(*args, "--store", str(self.store))

    def play(self, *answers: str, session: str | None = None, online: bool = True) -> subprocess.CompletedProcess[str]:
        args = ["play", str(self.flow)] + (["--session", session] if session else [])
        result = self.run(*args, stdin="".join(a + "\n" for a in answers), server=online)
        assert result.returncode == 0, result.stderr
        return result

    def sessions(self) -> list[dict[str, Any]]:
        result = self.look("sessions", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def answers(self, sid: str) -> list[str]:
        result = self.look("export", sid)
        assert result.returncode == 0, result.stderr
        return [e["data"]["text"] for e in json.loads(result.stdout)["events"] if e["type"] == "answer"]

    def events(self, sid: str) -> list[dict[str, Any]]:
        return json.loads(self.look("export", sid).stdout)["events"]


def server_events(url: str, token: str, sid: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        for _ in range(100):
            page = api.get(f"/v1/sessions/{sid}/events", params={"after": len(out)}).json()["events"]
            if not page:
                return out
            out += page
    raise AssertionError("too many pages")


@pytest.fixture
def loop_flow(tmp_path: Path) -> Path:
    path = tmp_path / "loop.yaml"
    path.write_text(LOOP_FLOW)
    return path


@pytest.fixture(params=["sqlite"])
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite for most scenarios here: what they ask of the server (pull's paged GET, sync's POST,
    the listing) is checked on both databases by test_server_protocol.py and
    test_server_sessions_list.py. The two broadest scenarios still run on both (`BOTH`)."""
    yield from make_server_db(request.param, tmp_path)


BOTH = pytest.mark.parametrize("server_db", BACKENDS, indirect=True)


@pytest.fixture
def devices(tmp_path: Path, live_server: Any, token_a: str, loop_flow: Path) -> tuple[Device, Device]:
    return (
        Device(tmp_path / "a.db", live_server.url, token_a, loop_flow),
        Device(tmp_path / "b.db", live_server.url, token_a, loop_flow),
    )


@BOTH
def test_start_on_a_pull_and_continue_on_b_then_resume_on_a(devices: tuple[Device, Device]) -> None:
    a, b = devices
    a.play("a1", "a2")
    sid = a.sessions()[0]["id"]

    pulled = b.run("pull", sid[:6], server=True)  # a device that never saw the session, by prefix
    assert pulled.returncode == 0, pulled.stderr
    assert f"pulled {len(a.events(sid))} events of session {sid}" in pulled.stderr
    assert b.sessions()[0]["id"] == sid and b.events(sid) == a.events(sid)

    resumed = b.play("b1", session=sid[:5])
    assert resumed.stdout.splitlines()[:2] == ["Tell me something (2)", "> b1"], "resumes at the exact waiting input"

    behind = len(a.events(sid))
    again = a.run("pull", sid[:4], server=True)  # A is behind: only the newer events come
    newer = len(b.events(sid)) - behind
    assert again.returncode == 0 and f"pulled {newer} events of session {sid}" in again.stderr, again.stderr
    assert a.play("a3", session=sid[:4]).stdout.splitlines()[:2] == ["Tell me something (3)", "> a3"]
    assert b.run("pull", sid[:4], server=True).returncode == 0

    given = ["a1", "a2", "b1", "a3"]
    remote = server_events(a.url, a.token, sid)
    assert [e["data"]["text"] for e in remote if e["type"] == "answer"] == given
    assert a.events(sid) == remote and b.events(sid) == remote
    assert [e["seq"] for e in remote] == list(range(1, len(remote) + 1))


def _diverge(a: Device, b: Device) -> tuple[str, int]:
    """A session both devices hold in sync, then answers on each while offline; A syncs first.
    Returns the session id and the first seq where the two differ."""
    a.play("shared")
    sid = a.sessions()[0]["id"]
    diverged_at = len(a.events(sid)) + 1
    assert b.run("pull", sid, server=True).returncode == 0
    a.play("mine on A", session=sid, online=False)
    b.play("mine on B", "more on B", session=sid, online=False)
    assert a.run("sync", server=True).returncode == 0
    return sid, diverged_at


@BOTH
def test_second_device_to_sync_gets_conflict_then_fork_keeps_both(devices: tuple[Device, Device]) -> None:
    a, b = devices
    sid, d = _diverge(a, b)

    synced = b.run("sync", server=True)
    assert synced.returncode == 1
    assert f"conflict: session {sid}" in synced.stderr and f"resolve {sid[:8]} --fork" in synced.stderr
    assert [row["status"] for row in b.sessions() if row["id"] == sid] == ["conflict"]
    again = b.run("sync", server=True)  # the mark outlives the process
    assert again.returncode == 1 and "conflict" in again.stderr

    forked = b.run("resolve", sid[:4], "--fork", server=True)
    assert forked.returncode == 0, forked.stderr
    fork_id = forked.stdout.strip()
    assert len(fork_id) == 32 and fork_id != sid and f"from seq {d}" in forked.stderr
    statuses = {row["id"]: row["status"] for row in b.sessions()}
    assert statuses == {sid: "active", fork_id: "active"}
    assert b.run("sync", server=True).returncode == 0

    # the fork continues where B was; SID on B now follows the server
    assert b.play("after fork", session=fork_id[:6]).stdout.splitlines()[:2] == [
        "Tell me something (3)",
        "> after fork",
    ]
    assert b.answers(sid) == ["shared", "mine on A"] == a.answers(sid)

    on_server_s = server_events(a.url, a.token, sid)
    on_server_f = server_events(a.url, a.token, fork_id)
    assert on_server_s == a.events(sid) == b.events(sid)
    assert on_server_f == b.events(fork_id)
    assert on_server_f[: d - 1] == on_server_s[: d - 1], "the fork shares the history before the divergence"
    given = Counter(["shared", "mine on A", "mine on B", "more on B", "after fork"])
    held = Counter(e["data"]["text"] for e in on_server_s if e["type"] == "answer")
    held += Counter(e["data"]["text"] for e in on_server_f[d - 1 :] if e["type"] == "answer")
    assert held == given, "every answer is on the server exactly once (the fork's shared prefix aside)"
    listed = json.loads(a.run("sessions", "--json", server=True).stdout)
    assert {row["id"]: row["status"] for row in listed} == {sid: "active", fork_id: "server-only"}
    assert set(listed[0]) >= set(a.sessions()[0]) | {"updated_at"}, "the same shape as the local listing"
    assert [row["id"] for row in listed] == [fork_id, sid], "most recently updated first"
    assert a.run("pull", fork_id[:6], server=True).returncode == 0  # A holds the fork too
    assert a.events(fork_id) == on_server_f


def test_take_server_exports_mine_first_then_replaces_the_log(devices: tuple[Device, Device]) -> None:
    a, b = devices
    sid, d = _diverge(a, b)
    assert b.run("sync", server=True).returncode == 1
    mine = [e for e in b.events(sid) if e["seq"] >= d]

    taken = b.run("resolve", sid[:5], "--take-server", server=True)
    assert taken.returncode == 0, taken.stderr
    path = Path(taken.stdout.strip())
    assert str(path) in taken.stderr and path.parent == b.store.parent
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    exported = json.loads(path.read_text())
    assert exported["session"]["id"] == sid and exported["session"]["diverged_at"] == d
    assert exported["events"] == mine

    assert b.run("sync", server=True).returncode == 0
    assert [row["status"] for row in b.sessions()] == ["active"]
    remote = server_events(a.url, a.token, sid)
    assert remote == a.events(sid) == b.events(sid)
    kept = [e["data"]["text"] for e in exported["events"] if e["type"] == "answer"]
    held = [e["data"]["text"] for e in remote if e["type"] == "answer"]
    assert Counter(held + kept) == Counter(["shared", "mine on A", "mine on B", "more on B"])
    assert b.play("next", session=sid[:4]).stdout.splitlines()[:2] == ["Tell me something (2)", "> next"]


def test_resolve_on_a_session_that_did_not_diverge_only_pulls(devices: tuple[Device, Device]) -> None:
    a, b = devices
    a.play("one")
    sid = a.sessions()[0]["id"]
    assert b.run("pull", sid, server=True).returncode == 0
    a.play("two", session=sid)
    result = b.run("resolve", sid, "--take-server", server=True)
    assert result.returncode == 0 and "has no conflict" in result.stderr, result.stderr
    assert b.events(sid) == a.events(sid)
    assert not list(b.store.parent.glob("steadychat-*-unsynced-*.json"))


def test_pull_refuses_a_divergence_and_marks_the_conflict(devices: tuple[Device, Device]) -> None:
    a, b = devices
    a.play("shared")
    sid = a.sessions()[0]["id"]
    assert b.run("pull", sid, server=True).returncode == 0
    a.play("from A", session=sid)
    b.play("from B", session=sid, online=False)
    before = b.events(sid)
    result = b.run("pull", sid, server=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and f"conflict: session {sid}" in result.stderr
    assert b.events(sid) == before, "nothing of mine is touched"
    assert [row["status"] for row in b.sessions()] == ["conflict"]
    resumed = b.play(session=sid)  # no answers: it shows where it waits, and why it does not sync
    assert f"conflict: session {sid} diverged" in resumed.stderr and "events queued" not in resumed.stderr


def test_pull_needs_the_flow_it_started_with(devices: tuple[Device, Device], tmp_path: Path) -> None:
    a, b = devices
    a.play("x")
    sid = a.sessions()[0]["id"]
    pulled = b.run("pull", sid, server=True)
    assert "lacks the session's flow" in pulled.stderr
    edited = tmp_path / "edited.yaml"
    edited.write_text(LOOP_FLOW.replace("Tell me something", "Say something"))
    wrong = b.run("play", str(edited), "--session", sid[:4], stdin="y\n")
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "not the version" in wrong.stderr
    assert b.run("pull", sid, "--flow", str(edited), server=True).returncode == 2
    assert b.play("y", session=sid[:4], online=False).stdout.splitlines()[:2] == ["Tell me something (1)", "> y"]


def test_unknown_and_ambiguous_prefixes_are_one_line_exit_2(tmp_path: Path, loop_flow: Path) -> None:
    from tui.flow.loader import load_flow
    from tui.session import Session
    from tui.store import Store

    store_path = tmp_path / "s.db"
    with Store.open(store_path) as store:
        for sid in ("abcd1111" + "0" * 24, "abcd2222" + "0" * 24):
            Session.start(store, load_flow(loop_flow), session_id=sid).close()
    at = ["--store", str(store_path)]
    cases = {
        ("export", "abcd"): "ambiguous",
        ("export", "abc"): "too short",
        ("export", "ffff"): "no session ffff",
        ("play", str(loop_flow), "--session", "abcd"): "ambiguous",
        ("play", str(loop_flow), "--session", "beef"): "no session beef",
    }
    for args, words in cases.items():
        result = steadychat(*args, *at)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and words in result.stderr, (args, result)
    assert json.loads(steadychat("export", "abcd1", *at).stdout)["session"]["id"].startswith("abcd1111")
    played = steadychat("play", str(loop_flow), "--session", "ABCD2", *at, stdin="hi\n")
    assert played.returncode == 0 and "> hi" in played.stdout


def test_pull_and_resolve_prefixes_cover_the_server_too(devices: tuple[Device, Device]) -> None:
    a, b = devices
    result = b.run("pull", "0000", server=True)
    assert result.returncode == 2 and "no session 0000" in result.stderr and a.url in result.stderr
    result = b.run("resolve", "00000", "--fork", server=True)
    assert result.returncode == 2 and "no session 00000" in result.stderr
    result = b.run("pull", "0" * 32, server=True)
    assert result.returncode == 2 and "has no session" in result.stderr
