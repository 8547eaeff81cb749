"""`pull` stores nothing it cannot verify: a gap or a repeated seq in a page, a start on another
flow, an unreadable event, or an older server without `GET /v1/sessions` is one line, and the
store keeps only pages that passed (each with its ack)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tui.errors import SyncError
from tui.flow.loader import load_flow
from tui.pull import pull_session
from tui.store import Store
from tui.sync.remote import ServerApi

SID = "ab" * 16
FLOW = """
name: Loop
id: loop
groups:
  Ask:
    - ask: thing
    - goto: Ask
"""


def flow_hash(tmp_path: Path) -> tuple[Any, str]:
    path = tmp_path / "loop.yaml"
    path.write_text(FLOW)
    flow = load_flow(path)
    return flow, flow.content_hash()


def fake_server(info: dict[str, Any], pages: Callable[[int], list[dict[str, Any]]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == f"/v1/sessions/{SID}":
            return httpx.Response(200, json=info)
        if path == f"/v1/sessions/{SID}/events":
            return httpx.Response(200, json={"events": pages(int(request.url.params["after"]))})
        return httpx.Response(404, json={"error": "not_found"})

    return httpx.MockTransport(handle)


def event(seq: int, kind: str = "message", **data: Any) -> dict[str, Any]:
    return {"seq": seq, "type": kind, "ts": "2026-01-01T00:00:00.000Z", "data": data}


def info(hash_: str, last: int) -> dict[str, Any]:
    meta = {"flow_id": "loop", "flow_hash": hash_, "device_id": "d", "created_at": "2026-01-01T00:00:00.000Z"}
    return {**meta, "sid": SID, "last_seq": last}


@pytest.mark.parametrize(
    ("page", "words"),
    [
        ([event(1, "start"), event(3)], "sent seq 3 where 2 was due"),
        ([event(1, "start"), event(1)], "sent seq 1 where 2 was due"),
        ([event(2, "start")], "sent seq 2 where 1 was due"),
        ([event(1, "message")], "first event is not a start"),
        ([event(1, "start", flow_hash="other"), event(2)], "first event is not a start"),
        ([event(1, "start"), event(2, "no-such-type")], "cannot read"),
    ],
)
def test_a_bad_first_page_stores_nothing(tmp_path: Path, page: list[dict[str, Any]], words: str) -> None:
    flow, hash_ = flow_hash(tmp_path)
    for item in page:
        if item["type"] == "start":
            item["data"].setdefault("flow_hash", hash_)
    transport = fake_server(info(hash_, 2), lambda after: page)
    with Store.open(tmp_path / "s.db") as store, ServerApi("http://127.0.0.1:9", "t", transport=transport) as api:
        with pytest.raises(SyncError) as caught:
            pull_session(store, api, SID, flow=flow)
        assert words in str(caught.value) and "\n" not in str(caught.value)
        assert store.last_seq(SID) == 0 and store.get_session(SID) is None


def test_a_bad_second_page_keeps_the_first_with_its_ack(tmp_path: Path) -> None:
    flow, hash_ = flow_hash(tmp_path)
    first = [event(1, "start", flow_hash=hash_, seed=1), *[event(s, text=str(s)) for s in range(2, 501)]]

    def pages(after: int) -> list[dict[str, Any]]:
        return first if after == 0 else [event(502)]

    transport = fake_server(info(hash_, 600), pages)
    with Store.open(tmp_path / "s.db") as store, ServerApi("http://127.0.0.1:9", "t", transport=transport) as api:
        with pytest.raises(SyncError, match="sent seq 502 where 501 was due"):
            pull_session(store, api, SID, flow=flow)
        assert store.last_seq(SID) == store.acked_seq(SID) == 500


def test_an_older_server_without_the_listing_is_one_line() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404, json={"error": "not_found"}))
    with ServerApi("http://127.0.0.1:9", "t", transport=transport) as api:
        with pytest.raises(SyncError, match=r"does not list sessions .* the server is older"):
            api.list_all()
        assert api.session(SID) is None, "an unknown session is None, not an error"


def test_answers_that_are_not_protocol_are_refused(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"<html>proxy</html>"))
    with ServerApi("http://127.0.0.1:9", "t", transport=transport) as api:
        with pytest.raises(SyncError, match="not SteadyChat protocol v1"):
            api.list_all()
        with pytest.raises(SyncError, match="not SteadyChat protocol v1"):
            api.session(SID)
    refused = httpx.MockTransport(lambda request: httpx.Response(401, content=json.dumps({"error": "x"}).encode()))
    with ServerApi("http://127.0.0.1:9", "t", transport=refused) as api, pytest.raises(SyncError, match="unauthorized"):
        api.session(SID)
