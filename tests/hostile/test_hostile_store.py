"""Hostile store files: damaged, foreign, missing. One line, exit 2, and the file's bytes untouched
with no -wal/-shm left beside it; read-only commands never create a store."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.hostile.harness import FIXTURES, Untouched, assert_one_line, steadychat
from tui.steps import StoredEvent
from tui.store import Store

DEMO = "flows/demo.yaml"
PAGE = 4096


def store_with_events(path: Path, count: int) -> None:
    with Store.open(path) as store:
        for first in range(1, count + 1, 5):
            events = [
                StoredEvent(seq=seq, type="message", ts="2026-01-01T00:00:00.000Z", data={"text": "hello " * 20})
                for seq in range(first, first + 5)
            ]
            store.append_events("a" * 32, events)


def zero_middle_page(path: Path) -> None:
    """A data page of the events table zeroed, as a bad sector or a torn copy leaves it."""
    data = bytearray(path.read_bytes())
    middle = len(data) // PAGE // 2
    data[middle * PAGE : (middle + 1) * PAGE] = bytes(PAGE)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("command", ["play", "sync"])
def test_damaged_store_is_refused_before_the_first_write(tmp_path: Path, command: str) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    store = folder / "s.db"
    store_with_events(store, 2_000)
    zero_middle_page(store)
    untouched = Untouched(folder)
    args = ["play", DEMO] if command == "play" else ["sync", "--server", "http://127.0.0.1:9", "--token", "t"]
    assert_one_line(steadychat(*args, "--store", store, stdin=b"Ada\n"), mentions=f"{store}: store is damaged")
    untouched.check()


def test_truncated_store_is_refused_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    store = folder / "s.db"
    store_with_events(store, 2_000)
    store.write_bytes(store.read_bytes()[: store.stat().st_size // 2])
    untouched = Untouched(folder)
    assert_one_line(steadychat("play", DEMO, "--store", store, stdin=b"Ada\n"), mentions=str(store))
    untouched.check()


@pytest.mark.parametrize(
    "args",
    [
        ("sessions",),
        ("sessions", "--json"),
        ("export", "a" * 32),
        ("sync", "--server", "http://127.0.0.1:9", "--token", "t"),
    ],
)
def test_read_only_commands_do_not_create_a_store(tmp_path: Path, args: tuple[str, ...]) -> None:
    missing = tmp_path / "typo" / "stor.db"
    line = assert_one_line(steadychat(*args, "--store", missing), mentions=f"no store at {missing}")
    assert "nothing was created" in line
    assert list(tmp_path.iterdir()) == []


def test_read_only_command_on_the_env_store_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    assert_one_line(steadychat("sessions", env={"STEADYCHAT_STORE": str(missing)}), mentions=f"no store at {missing}")
    assert list(tmp_path.iterdir()) == []


def foreign_sqlite(path: Path) -> None:
    """Another application's database, in WAL mode (a read-only open would leave -wal/-shm)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("kind", ["text", "sqlite"])
@pytest.mark.parametrize("command", ["sessions", "play"])
def test_foreign_file_gets_no_wal_or_shm(tmp_path: Path, kind: str, command: str) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir()
    path = folder / "their.db"
    if kind == "text":
        shutil.copy(FIXTURES / "foreign.txt", path)
    else:
        foreign_sqlite(path)
    untouched = Untouched(folder)
    args = ["sessions"] if command == "sessions" else ["play", DEMO]
    assert_one_line(steadychat(*args, "--store", path, stdin=b"Ada\n"), mentions=str(path))
    untouched.check()
