"""Store hardening: no store created by read-only opens, quick_check before the first write, drop."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tui.drop import drop_session
from tui.errors import StoreError
from tui.steps import StoredEvent
from tui.store import SessionRecord, Store

SID = "b" * 32


def event(seq: int) -> StoredEvent:
    return StoredEvent(seq=seq, type="message", ts="2026-01-01T00:00:00.000Z", data={"text": "hi " * 40})


def test_open_without_create_refuses_a_missing_or_empty_path(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        Store.open(tmp_path / "missing" / "s.db", create=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "empty.db").touch()
    with pytest.raises(StoreError, match="an empty file"):
        Store.open(tmp_path / "empty.db", create=False)
    assert (tmp_path / "empty.db").read_bytes() == b""


def test_damage_is_found_before_the_first_write_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        for first in range(1, 1500, 5):
            store.append_events(SID, [event(seq) for seq in range(first, first + 5)])
    data = bytearray(path.read_bytes())
    middle = len(data) // 4096 // 2
    data[middle * 4096 : (middle + 1) * 4096] = bytes(4096)
    path.write_bytes(bytes(data))
    store = Store.open(path)  # reads that miss the page work: the check waits for a write
    try:
        with pytest.raises(StoreError, match="store is damaged"):
            store.set_acked_seq(SID, 1)
        with pytest.raises(StoreError, match="store is damaged"):  # and stays refused
            store.append_events(SID, [event(2000)])
    finally:
        store.close()
    assert path.read_bytes() == bytes(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]


def test_drop_session_removes_its_events_cache_and_sync_mark_only(tmp_path: Path) -> None:
    other = "c" * 32
    with Store.open(tmp_path / "s.db") as store:
        store.append_events(SID, [event(1), event(2)])
        store.append_events(other, [event(1)])
        store.set_acked_seq(SID, 1)
        store.drop_session(SID)
        assert store.events(SID) == [] and store.acked_seq(SID) == 0 and store.get_session(SID) is None
        assert [e.seq for e in store.events(other)] == [1]


def test_drop_of_a_session_with_an_unreadable_event_leaves_no_export_file(tmp_path: Path) -> None:
    """The export refuses the session before writing: the file `drop` made for it goes too, so
    nothing half-written is left behind (nor blocks a retry as "already exists")."""
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        store.append_events(SID, [event(1), event(2), event(3)])
        store.put_session(
            SessionRecord(id=SID, flow_id="f", flow_name="F", flow_hash="h", device_id="d", created_at="t")
        )
    with sqlite3.connect(path) as db:
        db.execute('UPDATE "events" SET value = ? WHERE key = ?', ("not json", f"{SID}:{2:010d}"))
    db.close()
    exported = tmp_path / "out.json"
    with Store.open(path) as store:
        with pytest.raises(StoreError, match="not SteadyChat JSON"):
            drop_session(store, SID, export_path=exported, confirm=lambda _question: True)
        assert store.get_session(SID) is not None and store.last_seq(SID) == 3
    assert not exported.exists()
