"""Sync, drop and demo at their hard edges: a poisoned session, a refused token, an unreachable or
silent server, a bad timeout, a bad server database. One line each, and nothing of the user's lost."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.harness import FIXTURES, Untouched, assert_one_line, steadychat
from tui.flow.loader import load_flow
from tui.server.run import ServerThread
from tui.session import Session
from tui.steps import StoredEvent
from tui.store import Store
from tui.sync.background import sync_report

TOKEN = "token-hostile-0123456789"
REPO = Path(__file__).resolve().parents[2]
POISON_BYTES = 2_000_000  # over the server's 1 MiB body: an answer stored before answers had a cap


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    thread = ServerThread(tmp_path / "server.db", [TOKEN]).start()
    try:
        yield thread
    finally:
        thread.stop()


def store_with_session(path: Path, *, poison: bool) -> str:
    """A demo session answered once; with `poison`, its answer is 2 MB (as older versions stored it)."""
    with Store.open(path) as store:
        session = Session.start(store, load_flow(REPO / "flows" / "demo.yaml"))
        session.answer("Ada")
        session.close()
        if poison:
            last = store.last_seq(session.id)
            big = {"block_id": None, "text": "x" * POISON_BYTES, "content": None, "valid": False}
            store.append_events(
                session.id, [StoredEvent(seq=last + 1, type="answer", ts="2026-01-01T00:00:00.000Z", data=big)]
            )
        return session.id


def test_poisoned_session_is_named_then_exported_and_dropped(tmp_path: Path, server: ServerThread) -> None:
    store = tmp_path / "s.db"
    healthy = store_with_session(store, poison=False)
    poisoned = store_with_session(store, poison=True)
    sync = ("sync", "--server", server.url, "--token", TOKEN, "--store", store)

    line = assert_one_line(
        steadychat(*sync, memory=400 * 1024 * 1024), code=1, mentions=f"conflict in session {poisoned}"
    )
    assert f"steadychat drop {poisoned}" in line

    untouched = Untouched(tmp_path)  # drop without confirmation changes nothing
    assert_one_line(steadychat("drop", poisoned, "--store", store), mentions="confirm with --yes")
    untouched.check()

    exported = tmp_path / "poisoned.json"
    done = steadychat("drop", poisoned, "--yes", "--export", exported, "--store", store, memory=400 * 1024 * 1024)
    assert done.code == 0, done.stderr
    data = json.loads(exported.read_text(encoding="utf-8"))
    seqs = [event["seq"] for event in data["events"]]
    assert seqs == list(range(1, len(seqs) + 1)) and data["session"]["id"] == poisoned
    assert len(data["events"][-1]["data"]["text"]) == POISON_BYTES  # nothing lost
    assert exported.stat().st_mode & 0o777 == 0o600

    listed = json.loads(steadychat("sessions", "--json", "--store", store).stdout)
    assert [s["id"] for s in listed] == [healthy]
    assert steadychat(*sync).code == 0  # the store syncs again


def test_drop_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    sid = store_with_session(store, poison=False)
    (tmp_path / "theirs").mkdir()
    existing = Path(shutil.copy(FIXTURES / "foreign.txt", tmp_path / "theirs" / "notes.json"))
    untouched = Untouched(tmp_path)
    assert_one_line(steadychat("drop", sid, "--yes", "--export", existing, "--store", store), mentions="already exists")
    untouched.check()


def test_unauthorized_token_is_said_without_verbose(tmp_path: Path, server: ServerThread) -> None:
    store = tmp_path / "s.db"
    store_with_session(store, poison=False)
    result = steadychat("sync", "--server", server.url, "--token", "wrong-token", "--store", store)
    assert_one_line(result, code=1, mentions="refused the token (unauthorized)")


def test_unreachable_server_is_said_without_verbose(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    store_with_session(store, poison=False)
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = steadychat(
        "sync", "--server", f"http://127.0.0.1:{port}", "--token", TOKEN, "--timeout", "1", "--store", store
    )
    assert_one_line(result, code=1, mentions=f"cannot reach http://127.0.0.1:{port}")


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_timeout_must_be_a_finite_number_of_seconds(tmp_path: Path, value: str) -> None:
    store = tmp_path / "s.db"
    store_with_session(store, poison=False)
    untouched = Untouched(tmp_path)
    result = steadychat(
        "sync", "--server", "http://127.0.0.1:9", "--token", TOKEN, "--timeout", value, "--store", store
    )
    assert_one_line(result, mentions="--timeout")
    untouched.check()


def test_timeout_is_honoured_against_a_silent_server(tmp_path: Path) -> None:
    """A server that accepts and never answers: the drain gives up at its timeout. The thread
    join is the guard for the contract "within 0.5 s"; the outcome is asserted, not the speed."""
    store_path = tmp_path / "s.db"
    store_with_session(store_path, poison=False)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with Store.open(store_path) as store:
            reports: list[object] = []
            worker = threading.Thread(target=lambda: reports.append(sync_report(store, url, TOKEN, 0.5)), daemon=True)
            worker.start()
            worker.join(0.5 + 0.5)
            assert not worker.is_alive(), "sync --timeout 0.5 was still running after 1 s"
    (report,) = reports
    assert report.left > 0  # type: ignore[attr-defined]


def test_demo_with_a_bad_server_db_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "user"
    folder.mkdir()
    store = folder / "s.db"
    store_with_session(store, poison=False)
    bad = Path(shutil.copy(FIXTURES / "foreign.txt", folder / "server.db"))
    untouched = Untouched(folder)
    result = steadychat("demo", "--server-db", bad, "--store", store)
    assert_one_line(result, mentions=f"--server-db {bad}")
    untouched.check()  # no new session in the store, no token file, no -wal/-shm


def test_demo_with_a_bad_server_db_creates_no_store(tmp_path: Path) -> None:
    bad = Path(shutil.copy(FIXTURES / "foreign.txt", tmp_path / "server.db"))
    assert_one_line(steadychat("demo", "--server-db", bad, "--store", tmp_path / "new.db"), mentions="--server-db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server.db"]


def drop_in_a_terminal(sid: str, store: Path, reply: bytes) -> tuple[int, str]:
    """`steadychat drop SID` on a pseudo-terminal, answering its question with `reply`."""
    import os
    import pty
    import select
    import sys

    pid, fd = pty.fork()
    if pid == 0:  # the child: the real command, as a person runs it
        os.chdir(REPO)
        os.execvp(sys.executable, [sys.executable, "-m", "tui", "drop", sid, "--store", str(store)])
    output, answered = b"", False
    for _ in range(200):  # bounded: at most 200 reads of up to 0.25 s
        ready, _, _ = select.select([fd], [], [], 0.25)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if b"[y/N]" in output and not answered:
            os.write(fd, reply)
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode("utf-8", "replace")


def test_drop_asks_in_a_terminal(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    sid = store_with_session(store, poison=False)
    untouched = Untouched(tmp_path)
    code, output = drop_in_a_terminal(sid, store, b"n\n")
    assert code == 2 and "nothing was dropped" in output and f"Drop session {sid}" in output
    untouched.check()
    code, output = drop_in_a_terminal(sid, store, b"y\n")
    assert code == 0, output
    assert (tmp_path / f"steadychat-dropped-{sid}.json").exists()
    assert json.loads(steadychat("sessions", "--json", "--store", store).stdout) == []
