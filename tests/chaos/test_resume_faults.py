"""Resume anywhere under the fault proxy: a cut during a pull and during a resolve.

Two stores (devices A and B) and one real server; B reaches it through the project's fault
proxy. A cut leaves either a clean prefix (pull: each page is committed with its ack) or nothing
changed (resolve: the server's events are fetched before one transaction writes), and running the
command again finishes the job. After each scenario the server and both stores hold every answer
given exactly once.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tui.errors import SyncError
from tui.flow.loader import load_flow
from tui.pull import pull_session
from tui.resolve import resolve_session
from tui.session import Session
from tui.store import Store
from tui.sync.background import sync_all
from tui.sync.remote import ServerApi

from .helpers import TOKEN_A, start_session
from .invariant import local_events, server_events

pytestmark = pytest.mark.chaos


def answers(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["text"] for e in events if e["type"] == "answer"]


def answer(store: Store, sid: str, *texts: str) -> None:
    session = Session.resume(store, sid)
    try:
        for text in texts:
            session.answer(text)
    finally:
        session.close()


def synced(store: Store, url: str) -> int:
    return sync_all(store, url, TOKEN_A, 20.0)


def assert_same_everywhere(url: str, sid: str, *stores: Store) -> list[dict[str, Any]]:
    remote = server_events(url, TOKEN_A, sid)
    assert remote is not None
    assert [e["seq"] for e in remote] == list(range(1, len(remote) + 1))
    for store in stores:
        assert local_events(store, sid) == remote
        assert store.acked_seq(sid) == len(remote) and store.conflict(sid) is None
    return remote


def test_cut_during_a_pull_leaves_a_clean_prefix_and_the_next_pull_finishes(
    tmp_path: Path, app_server: Any, proxy: Any, loop_flow: Path
) -> None:
    server = app_server()
    px = proxy(server.port)
    given = [f"a{n}" for n in range(300)]
    with Store.open(tmp_path / "a.db") as a, Store.open(tmp_path / "b.db") as b:
        session = start_session(a, loop_flow)
        sid = session.id
        for text in given:
            session.answer(text)
        session.close()
        assert synced(a, server.url) == 0
        total = a.last_seq(sid)
        assert total > 1000, "three pages of 500"

        first_page = httpx.get(
            f"{server.url}/v1/sessions/{sid}/events",
            params={"after": 0, "limit": 500},
            headers={"Authorization": f"Bearer {TOKEN_A}"},
        ).content
        px.configure(cut_downstream_after=len(first_page) + 2000, cut_once=True)  # inside page 2
        with ServerApi(px.url, TOKEN_A) as api, pytest.raises(SyncError, match="cannot reach"):
            pull_session(b, api, sid, flow=load_flow(loop_flow))
        assert any("after" in line for line in px.history), list(px.history)
        assert b.last_seq(sid) == b.acked_seq(sid) == 500, "page 1 kept with its ack, page 2 not at all"
        assert local_events(b, sid) == local_events(a, sid)[:500]

        with ServerApi(px.url, TOKEN_A) as api:
            result = pull_session(b, api, sid)
        assert (result.fetched, result.last_seq) == (total - 500, total)

        answer(b, sid, "on B")
        assert synced(b, px.url) == 0
        with ServerApi(server.url, TOKEN_A) as api:
            assert pull_session(a, api, sid).fetched == b.last_seq(sid) - total
        remote = assert_same_everywhere(server.url, sid, a, b)
        assert Counter(answers(remote)) == Counter([*given, "on B"])


@pytest.mark.parametrize("mode", ["fork", "take-server"])
def test_cut_during_a_resolve_changes_nothing_and_the_next_resolve_finishes(
    tmp_path: Path, app_server: Any, proxy: Any, loop_flow: Path, mode: str
) -> None:
    server = app_server()
    px = proxy(server.port)
    exports = tmp_path / "exports"
    exports.mkdir()
    with Store.open(tmp_path / "a.db") as a, Store.open(tmp_path / "b.db") as b:
        session = start_session(a, loop_flow)
        sid = session.id
        session.answer("shared")
        session.close()
        assert synced(a, server.url) == 0
        with ServerApi(server.url, TOKEN_A) as api:
            pull_session(b, api, sid, flow=load_flow(loop_flow))
        diverged_at = b.last_seq(sid) + 1
        answer(a, sid, *[f"A{n}" for n in range(150)])  # the server's side: two pages
        answer(b, sid, "B1", "B2")  # offline on B meanwhile
        assert synced(a, server.url) == 0
        assert synced(b, px.url) > 0 and sid in b.conflicts(), "the second device to sync is in conflict"

        before = local_events(b, sid)
        px.configure(cut_downstream_after=4000, cut_once=True)  # inside the server's events
        with ServerApi(px.url, TOKEN_A) as api, pytest.raises(SyncError):
            resolve_session(b, api, sid, mode, export_dir=exports)  # type: ignore[arg-type]
        assert local_events(b, sid) == before and sid in b.conflicts(), "a cut resolve changes nothing"
        assert b.session_ids() == [sid] and not list(exports.iterdir())

        with ServerApi(px.url, TOKEN_A) as api:
            result = resolve_session(b, api, sid, mode, export_dir=exports)  # type: ignore[arg-type]
        assert result.diverged_at == diverged_at and result.mine == len(before) - diverged_at + 1
        assert synced(b, px.url) == 0
        remote = assert_same_everywhere(server.url, sid, a, b)
        given = Counter(["shared", *[f"A{n}" for n in range(150)], "B1", "B2"])
        if mode == "fork":
            fork = server_events(server.url, TOKEN_A, result.fork_id)
            assert fork is not None and fork == local_events(b, result.fork_id) == before
            assert b.get_session(result.fork_id).forked_from == sid  # type: ignore[union-attr]
            with ServerApi(px.url, TOKEN_A) as api:
                pull_session(a, api, result.fork_id)  # A holds the fork too (its flow is already there)
            assert local_events(a, result.fork_id) == fork
            kept = answers(fork[diverged_at - 1 :])
        else:
            assert result.export_path is not None and list(exports.iterdir()) == [result.export_path]
            kept = answers(json.loads(result.export_path.read_text())["events"])
        assert Counter(answers(remote) + kept) == given, "every answer once: on the server or in the export"
