"""The session index: the latest active session per flow and the newest-first listing, on real
SQLite files, kept by triggers, and given on open to a store made before it (nothing lost)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui.errors import StoreError
from tui.flow.loader import load_flow
from tui.session import Session, latest_active_session
from tui.steps import StoredEvent, as_json_data, copy_with
from tui.store import SessionRecord, SessionRewrite, SessionSummary, Store

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "flows" / "demo.yaml"
OLD_TABLES = ("meta", "events", "sessions", "sync", "flows", "conflicts")


def _record(sid: str, flow_id: str, created: str, status: str = "active", last_seq: int = 1) -> SessionRecord:
    return SessionRecord(
        id=sid,
        flow_id=flow_id,
        flow_name=flow_id.upper(),
        flow_hash="h",
        device_id="d",
        created_at=created,
        status=status,
        last_seq=last_seq,
    )


def _event(seq: int) -> StoredEvent:
    return StoredEvent(seq=seq, type="message", ts="2026-01-01T00:00:00.000Z", data={"kind": "text", "text": "hi"})


def _one(found: SessionSummary | None) -> SessionSummary:
    assert found is not None
    return found


def _sid(i: int) -> str:
    return f"{i:032x}"


def _fill(store: Store, count: int) -> None:
    """`count` sessions alternating flows a/b, every third completed, created a second apart."""
    store.rewrite(
        *(
            SessionRewrite(
                session_id=_sid(i),
                events=[_event(1), _event(2)],
                record=_record(
                    _sid(i),
                    "a" if i % 2 else "b",
                    f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}.000Z",
                    "completed" if i % 3 == 0 else "active",
                ),
            )
            for i in range(count)
        )
    )


def test_latest_active_and_pages_follow_every_write(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        assert store.session_page() == [] and store.latest_active("a") is None
        _fill(store, 120)
        page = store.session_page(50)
        assert [s.id for s in page] == [_sid(i) for i in range(119, 69, -1)]
        second = store.session_page(50, before=page[-1].id)
        rest = store.session_page(None, before=second[-1].id)
        assert [s.id for s in page + second + rest] == [_sid(i) for i in range(119, -1, -1)]
        assert _one(store.latest_active("a")).id == _sid(119)  # 119: flow a, active
        assert _one(store.latest_active("b")).id == _sid(118)
        assert _one(store.latest_of_flow("a")).id == _sid(119)
        # the cache is written: status and the listing follow at once
        store.put_session(_record(_sid(119), "a", "2026-01-01T00:01:59.000Z", status="completed"))
        assert _one(store.latest_active("a")).id == _sid(115)  # 117 is completed (a multiple of 3)
        assert _one(store.latest_of_flow("a")).status == "completed"
        # events beyond the cache, and the sync mark, show in the row
        store.append_events(_sid(115), [_event(3), _event(4)])
        store.set_acked_seq(_sid(115), 1)
        row = _one(store.latest_active("a"))
        assert (row.last_seq, row.acked_seq, row.queued) == (4, 1, 3)
        store.drop_session(_sid(115))
        assert _one(store.latest_active("a")).id == _sid(113)
        assert len(store.session_page(None)) == 119


def test_resume_by_default_finds_the_newest_active_session_of_the_flow(tmp_path: Path) -> None:
    flow = load_flow(DEMO)
    clock = iter(datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in range(60))
    with Store.open(tmp_path / "s.db") as store:
        ids = []
        for _ in range(3):
            session = Session.start(store, flow, clock=lambda: next(clock))
            ids.append(session.id)
            session.close()
        assert _one(latest_active_session(store, flow.id)).id == ids[-1]
        assert [s.id for s in store.session_page(2)] == ids[:0:-1]


def _old_layout(path: Path, records: list[SessionRecord], events: dict[str, list[StoredEvent]]) -> None:
    """A store exactly as SteadyChat wrote it before the index: sqlitedict's six tables of
    (key TEXT PRIMARY KEY, value BLOB) holding compact JSON text, in WAL mode."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    for table in OLD_TABLES:
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (key TEXT PRIMARY KEY, value BLOB)')

    def put(table: str, key: str, value: object) -> None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        conn.execute(f'REPLACE INTO "{table}" (key, value) VALUES (?, ?)', (key, text))

    put("meta", "app", {"name": "steadychat", "schema": 1})
    put("meta", "device_id", "d" * 32)
    for record in records:
        put("sessions", record.id, as_json_data(record))
        for event in events.get(record.id, []):
            put("events", f"{record.id}:{event.seq:010d}", as_json_data(event))
    put("sync", records[0].id, 1)
    put("conflicts", records[1].id, {"detail": "diverged", "server_seq": 3})
    conn.commit()
    conn.close()
    os.chmod(path, 0o600)


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f'SELECT key, value FROM "{t}" ORDER BY key').fetchall() for t in OLD_TABLES}
    finally:
        conn.close()


def test_a_store_made_before_the_index_gets_it_on_open_without_loss(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    flow = load_flow(DEMO)
    # a real session, written by today's code, to resume after the migration
    with Store.open(tmp_path / "donor.db") as donor:
        real = Session.start(donor, flow, seed=7)
        real.answer("Ada")
        real.close()
        real_events = donor.events(real.id)
        donor_record = donor.get_session(real.id)
        assert donor_record is not None
        real_record = copy_with(donor_record, {"created_at": "2026-01-01T00:00:30.000Z"})
    records = [_record(_sid(i), "a", f"2026-01-01T00:00:{i:02d}.000Z", last_seq=2) for i in range(20)]
    records.append(real_record)
    _old_layout(path, records, {r.id: [_event(1), _event(2)] for r in records[:20]} | {real.id: real_events})
    before = _dump(path)

    with Store.open(path, create=False) as store:  # even a read-only command migrates
        assert [s.id for s in store.session_page(3)] == [real.id, _sid(19), _sid(18)]
        assert _one(store.latest_active(flow.id)).id == real.id
        assert _one(store.latest_active("a")).id == _sid(19)
        first = store.session_page(None)[-1]
        assert (first.id, first.last_seq, first.acked_seq) == (_sid(0), 2, 1)
        store.put_flow(real_record.flow_hash, flow.canonical_json())
    after = _dump(path)
    flows = after.pop("flows")
    assert after == {t: rows for t, rows in before.items() if t != "flows"}  # nothing lost or changed
    assert [key for key, _ in flows] == [real_record.flow_hash]

    with Store.open(path) as store:
        session = Session.resume(store, _one(latest_active_session(store, flow.id)).id)
        assert session.waiting_input is not None and session.last_seq == real_record.last_seq
        session.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes a 0400 file anyway")
def test_a_read_only_old_store_is_listed_without_the_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    records = [_record(_sid(i), "a", f"2026-01-01T00:00:{i:02d}.000Z") for i in range(5)]
    _old_layout(path, records, {})
    before = path.read_bytes()
    os.chmod(path, 0o400)
    try:
        with Store.open(path, create=False) as store:
            assert [s.id for s in store.session_page(2)] == [_sid(4), _sid(3)]
            assert _one(store.latest_active("a")).id == _sid(4)
    finally:
        os.chmod(path, 0o600)
    assert path.read_bytes() == before


def test_a_planted_record_is_refused_by_the_listing_too(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        _fill(store, 3)
    conn = sqlite3.connect(path)
    conn.execute("REPLACE INTO sessions VALUES (?, ?)", (_sid(9), b"\x80\x04not json"))
    conn.execute("REPLACE INTO sessions VALUES (?, ?)", (_sid(8), '{"id": 5}'))
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        with pytest.raises(StoreError, match="not JSON"):
            store.session_page()
        conn = sqlite3.connect(path)
        conn.execute("DELETE FROM sessions WHERE key = ?", (_sid(9),))
        conn.commit()
        conn.close()
        with pytest.raises(StoreError, match="not SteadyChat JSON"):
            store.session_page()
