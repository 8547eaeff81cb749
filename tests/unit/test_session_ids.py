"""Session ids by unique prefix (≥ 4 characters), the one rule every command uses; and the
store's conflict marks and all-or-nothing rewrites that pull and resolve rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.errors import UsageError
from tui.session_ids import pick
from tui.steps import StoredEvent
from tui.store import SessionRecord, SessionRewrite, Store

A1 = "abcd1111" + "0" * 24
A2 = "abcd2222" + "0" * 24
B1 = "beef" + "0" * 28


@pytest.mark.parametrize(
    ("text", "found"),
    [("abcd1", A1), ("ABCD2", A2), (" beef ", B1), (A1, A1)],
)
def test_a_unique_prefix_names_its_session(text: str, found: str) -> None:
    assert pick(text, [A1, A2, B1], "here") == found


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("abcd", "ambiguous in here: it matches abcd1111, abcd2222"),
        ("abc", "too short: give at least 4 characters"),
        ("cafe", "no session cafe in here"),
        ("xyz!", "is not a session id"),
        ("a" * 33, "is not a session id"),
        ("", "is not a session id"),
    ],
)
def test_other_prefixes_are_one_clear_line(text: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        pick(text, [A1, A2, B1], "here")
    assert words in str(caught.value) and "\n" not in str(caught.value)


def _record(sid: str) -> SessionRecord:
    return SessionRecord(id=sid, flow_id="f", flow_name="F", flow_hash="h", device_id="d", created_at="t")


def _events(first: int, last: int, text: str) -> list[StoredEvent]:
    return [StoredEvent(seq=s, type="message", ts="t", data={"text": text}) for s in range(first, last + 1)]


def test_store_resolves_prefixes_from_its_own_sessions(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        for sid in (A1, A2, B1):
            store.put_session(_record(sid))
        assert store.resolve_id("beef0") == B1 and store.resolve_id("abcd2") == A2
        with pytest.raises(UsageError, match="ambiguous"):
            store.resolve_id("abcd")
        with pytest.raises(UsageError, match=f"no session abce in {tmp_path}"):
            store.resolve_id("abce")


def test_rewrite_replaces_a_tail_and_clears_the_conflict_in_one_go(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.put_session(_record(A1))
        store.append_events(A1, _events(1, 5, "mine"))
        store.mark_conflict(A1, "diverged", 4)
        assert store.conflicts() == {A1: {"detail": "diverged", "server_seq": 4}}
        store.rewrite(
            SessionRewrite(A1, _events(3, 4, "theirs"), keep_upto=2, acked_seq=4, conflict=False),
            SessionRewrite(B1, _events(1, 5, "mine"), keep_upto=0, acked_seq=0, record=_record(B1)),
        )
        assert [e.data["text"] for e in store.events(A1)] == ["mine", "mine", "theirs", "theirs"]
        assert store.acked_seq(A1) == 4 and store.conflict(A1) is None
        assert store.last_seq(B1) == 5 and store.pending_count(B1) == 5
    with Store.open(tmp_path / "s.db") as again:  # durable
        assert again.last_seq(A1) == 4 and again.conflicts() == {}
