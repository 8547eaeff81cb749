"""The local store on real SQLite files: JSON only, 0600, foreign and corrupt files refused untouched."""

from __future__ import annotations

import hashlib
import os
import pickle
import sqlite3
import stat
from pathlib import Path

import pytest

from tui.errors import StoreError
from tui.steps import StoredEvent
from tui.store import SessionRecord, Store

SID = "a" * 32


def _event(seq: int, text: str = "hi") -> StoredEvent:
    return StoredEvent(seq=seq, type="message", ts="2026-01-01T00:00:00.000Z", data={"kind": "text", "text": text})


def _record(store: Store, last_seq: int = 0) -> SessionRecord:
    return SessionRecord(
        id=SID,
        flow_id="f",
        flow_name="F",
        flow_hash="h",
        device_id=store.device_id,
        created_at="2026-01-01T00:00:00.000Z",
        last_seq=last_seq,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_store_is_private_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        assert len(store.device_id) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with Store.open(path) as again:
        assert again.device_id == store.device_id


def test_creates_missing_folder(tmp_path: Path) -> None:
    with Store.open(tmp_path / "deep" / "er" / "s.db") as store:
        assert store.session_ids() == []


def test_events_roundtrip_ranges_and_pages(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.append_events(SID, [_event(i) for i in range(1, 21)], session=_record(store, 20))
        store.append_events("b" * 32, [_event(1, "other")])
        assert store.last_seq(SID) == 20
        assert [e.seq for e in store.events(SID, after=15)] == [16, 17, 18, 19, 20]
        assert [e.seq for e in store.events(SID, after=0, limit=3)] == [1, 2, 3]
        assert [e.seq for e in store.events_before(SID, 11, 4)] == [7, 8, 9, 10]
        assert store.last_seq("c" * 32) == 0
        record = store.get_session(SID)
        assert record is not None and record.last_seq == 20


def test_acked_seq_and_pending(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.append_events(SID, [_event(i) for i in range(1, 6)], session=_record(store, 5))
        assert store.pending_count(SID) == 5
        store.set_acked_seq(SID, 3)
        assert (store.acked_seq(SID), store.pending_count(SID), store.total_pending()) == (3, 2, 2)


def test_values_are_json_text_never_pickle(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        store.append_events(SID, [_event(1, "héllo")])
    conn = sqlite3.connect(path)
    (value,) = conn.execute("SELECT value FROM events").fetchone()
    conn.close()
    assert '"héllo"' in (value if isinstance(value, str) else value.decode())


def test_planted_pickle_is_refused_not_executed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    marker = tmp_path / "pwned"
    with Store.open(path) as store:
        store.append_events(SID, [_event(1)])

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    conn = sqlite3.connect(path)
    conn.execute("REPLACE INTO events VALUES (?, ?)", (f"{SID}:0000000001", pickle.dumps(Exploit())))
    conn.commit()
    conn.close()
    with Store.open(path) as store, pytest.raises(StoreError, match="not SteadyChat JSON"):
        store.events(SID)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"hello, this is not a database" * 50, b"SQLite format 3\x00" + b"\x07" * 3000])
def test_corrupt_file_gets_one_line_and_stays_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(content)
    before = _digest(path)
    with pytest.raises(StoreError) as info:
        Store.open(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert _digest(path) == before


def test_truncated_store_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        store.append_events(SID, [_event(i, "x" * 500) for i in range(1, 200)], session=_record(store, 199))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    before = _digest(path)
    with pytest.raises(StoreError, match=r"corrupt|truncated|not SteadyChat"):
        with Store.open(path) as store:
            store.events(SID)
    assert _digest(path) == before


def test_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreError, match="another application"):
        Store.open(path)
    assert _digest(path) == before


def test_directory_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store.open(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_store_fails_before_anything_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        store.append_events(SID, [_event(1)])
    path.chmod(0o400)
    with pytest.raises(StoreError, match="read-only"):
        with Store.open(path) as store:
            store.append_events(SID, [_event(2)])


def test_flows_are_kept_once_by_hash(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.put_flow("h1", '{"a":1}')
        store.put_flow("h1", '{"a":2}')
        assert store.get_flow("h1") == '{"a":1}'
        assert store.get_flow("nope") is None


def test_two_processes_share_a_store(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as first, Store.open(path) as second:
        first.append_events(SID, [_event(1)])
        second.set_acked_seq(SID, 1)
        assert second.last_seq(SID) == 1 and first.acked_seq(SID) == 1
