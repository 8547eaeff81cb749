"""POST /v1/sync (several sessions' batches in one request) against a real server on 127.0.0.1,
on SQLite and on PostgreSQL (`live_server` runs each test on both): per-session results, the
same (token, session, seq) rules as POST events, and whole-request limits that change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tui.sync.protocol import MAX_BODY_BYTES, MAX_SYNC_EVENTS, MAX_SYNC_SESSIONS, SyncAnswer

TOKEN_A = "token-alpha-0123456789abcdef"  # the same tokens as conftest's server
TOKEN_B = "token-beta-fedcba9876543210"
META = {"flow_id": "demo", "flow_hash": "f" * 64, "device_id": "d" * 32, "created_at": "2026-01-01T00:00:00.000Z"}


def sid(n: int) -> str:
    return f"{n:032x}"


def events(first: int, last: int, text: str = "hi") -> list[dict[str, Any]]:
    return [
        {"seq": s, "type": "message", "ts": "2026-01-01T00:00:00.000Z", "data": {"text": f"{text} {s}"}}
        for s in range(first, last + 1)
    ]


def entry(n: int, first: int, last: int, *, meta: bool = True, text: str = "hi") -> dict[str, Any]:
    out: dict[str, Any] = {"sid": sid(n), "events": events(first, last, text)}
    if meta:
        out["meta"] = META
    return out


@pytest.fixture
def api(live_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {TOKEN_A}"}, timeout=30) as client:
        yield client


@pytest.fixture
def other(live_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {TOKEN_B}"}, timeout=30) as client:
        yield client


def sync(api: httpx.Client, *entries: dict[str, Any]) -> list[dict[str, Any]]:
    answer = api.post("/v1/sync", json={"sessions": list(entries)})
    assert answer.status_code == 200, answer.text
    SyncAnswer.model_validate_json(answer.content)  # the client's parser accepts it
    results: list[dict[str, Any]] = answer.json()["results"]
    assert [r["sid"] for r in results] == [e["sid"] for e in entries]
    return results


def held(api: httpx.Client, n: int) -> list[dict[str, Any]] | None:
    answer = api.get(f"/v1/sessions/{sid(n)}/events", params={"after": 0})
    return None if answer.status_code == 404 else answer.json()["events"]


def test_many_sessions_in_one_request_are_registered_and_acked(api: httpx.Client) -> None:
    results = sync(api, *(entry(n, 1, 5) for n in range(1, 11)))
    assert results == [{"sid": sid(n), "acked_seq": 5} for n in range(1, 11)]
    for n in range(1, 11):
        assert held(api, n) == events(1, 5)
        assert api.get(f"/v1/sessions/{sid(n)}").json()["flow_id"] == "demo"
    listed = api.get("/v1/sessions", params={"limit": 500}).json()["sessions"]
    assert {s["id"] for s in listed} == {sid(n) for n in range(1, 11)}


def test_a_resend_is_acked_again_and_a_partly_stored_one_stores_the_new_part(api: httpx.Client) -> None:
    assert sync(api, entry(1, 1, 4))[0]["acked_seq"] == 4
    assert sync(api, entry(1, 1, 4))[0]["acked_seq"] == 4  # a lost answer, resent whole
    assert sync(api, entry(1, 3, 7, meta=False))[0]["acked_seq"] == 7
    assert held(api, 1) == events(1, 7)


def test_the_per_session_endpoints_and_the_multi_one_see_the_same_log(api: httpx.Client) -> None:
    assert api.put(f"/v1/sessions/{sid(1)}", json=META).status_code == 201
    assert api.post(f"/v1/sessions/{sid(1)}/events", json={"events": events(1, 3)}).json() == {"acked_seq": 3}
    assert sync(api, entry(1, 1, 6))[0] == {"sid": sid(1), "acked_seq": 6}
    assert api.post(f"/v1/sessions/{sid(1)}/events", json={"events": events(4, 8)}).json() == {"acked_seq": 8}
    assert held(api, 1) == events(1, 8)


def test_a_diverged_session_is_refused_alone(api: httpx.Client) -> None:
    sync(api, entry(1, 1, 3), entry(2, 1, 3))
    results = sync(api, entry(1, 4, 5), entry(2, 3, 5, text="other"), entry(3, 1, 2))
    assert results[0] == {"sid": sid(1), "acked_seq": 5}
    assert results[1] == {"sid": sid(2), "acked_seq": 3, "error": "diverged"}
    assert results[2] == {"sid": sid(3), "acked_seq": 2}
    assert held(api, 2) == events(1, 3)  # nothing overwritten, nothing added


def test_other_meta_is_diverged_with_a_meta_detail(api: httpx.Client) -> None:
    sync(api, entry(1, 1, 2))
    changed = {**entry(1, 3, 4), "meta": {**META, "flow_hash": "0" * 64}}
    assert sync(api, changed)[0] == {"sid": sid(1), "acked_seq": 2, "error": "diverged", "detail": "meta"}
    assert held(api, 1) == events(1, 2)


def test_a_gap_names_the_servers_acked_seq_and_undoes_the_entry(api: httpx.Client) -> None:
    sync(api, entry(1, 1, 2))
    assert sync(api, entry(1, 5, 6, meta=False))[0] == {"sid": sid(1), "acked_seq": 2, "error": "gap"}
    # a new session whose events do not start at 1: the entry, registration included, is undone
    assert sync(api, entry(2, 3, 4))[0] == {"sid": sid(2), "acked_seq": 0, "error": "gap"}
    assert held(api, 2) is None


def test_unknown_or_foreign_sessions_are_not_found(api: httpx.Client, other: httpx.Client) -> None:
    sync(other, entry(7, 1, 2))
    results = sync(api, entry(5, 1, 2, meta=False), entry(7, 1, 2), entry(7 + 1, 1, 1), {"sid": "not-hex"})
    assert [r.get("error") for r in results] == ["not_found", "not_found", None, "not_found"]
    assert held(other, 7) == events(1, 2)


def test_a_meta_only_entry_registers_the_session(api: httpx.Client) -> None:
    assert sync(api, {"sid": sid(1), "meta": META, "events": []})[0] == {"sid": sid(1), "acked_seq": 0}
    assert api.get(f"/v1/sessions/{sid(1)}").json()["last_seq"] == 0


def test_a_number_json_cannot_hold_makes_only_that_entry_invalid(api: httpx.Client) -> None:
    meta = httpx.Request("POST", "/", json=META).content
    good = b'{"sid":"%s","meta":%s,"events":[]}' % (sid(1).encode(), meta)
    for bad in (b'{"seq": 1e400, "type": "m", "ts": "t"}', b'{"seq": 1, "type": "m", "ts": "t", "data": {"x": 1e400}}'):
        body = b'{"sessions":[%s,{"sid":"%s","meta":%s,"events":[%s]}]}' % (good, sid(2).encode(), meta, bad)
        answer = api.post("/v1/sync", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        assert [r.get("error") for r in answer.json()["results"]] == [None, "invalid"]
    assert held(api, 2) is None


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ({"sid": sid(2), "meta": META, "events": [events(1, 1)[0], events(3, 3)[0]]}, "invalid"),
        ({"sid": sid(2), "meta": {**META, "flow_id": 3}, "events": events(1, 1)}, "invalid"),
        ({"sid": sid(2), "meta": META, "events": [{"seq": 1, "type": "m", "ts": "t", "data": [1]}]}, "invalid"),
        ({"sid": sid(2), "meta": META, "events": events(1, 501)}, "too_large"),
    ],
)
def test_an_invalid_entry_is_refused_alone(api: httpx.Client, bad: dict[str, Any], code: str) -> None:
    results = sync(api, entry(1, 1, 2), bad, entry(3, 1, 2))
    assert [r.get("error") for r in results] == [None, code, None]
    assert held(api, 2) is None and held(api, 3) == events(1, 2)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 422),
        (b'{"sessions": [{"sid": "' + sid(1).encode() + b'", "events": [{"seq": 1, "data": {"x": NaN}}]}]}', 422),
        (b'{"sessions": []}', 422),
        (b'{"sessions": [{"sid": "' + sid(1).encode() + b'"}], "x": 1}', 422),
        (b'{"sessions": [{"sid": "' + sid(1).encode() + b'", "meta": {}, "events": [], "more": 1}]}', 422),
    ],
)
def test_a_malformed_request_is_refused_whole(api: httpx.Client, body: bytes, status: int) -> None:
    answer = api.post("/v1/sync", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status and "error" in answer.json()
    assert held(api, 1) is None


def test_limits_refuse_the_whole_request_and_change_nothing(api: httpx.Client) -> None:
    duplicate = api.post("/v1/sync", json={"sessions": [entry(1, 1, 1), entry(1, 1, 1)]})
    assert duplicate.status_code == 422
    crowd = api.post("/v1/sync", json={"sessions": [entry(n, 1, 1) for n in range(1, MAX_SYNC_SESSIONS + 2)]})
    assert crowd.status_code == 413
    count = MAX_SYNC_EVENTS // 500 + 1
    heavy = {"sessions": [{"sid": sid(n), "meta": META, "events": events(1, 500, "")} for n in range(1, count + 1)]}
    assert len(httpx.Request("POST", "/", json=heavy).content) < MAX_BODY_BYTES
    assert api.post("/v1/sync", json=heavy).status_code == 413  # over MAX_SYNC_EVENTS in all
    big = {"sid": sid(1), "meta": META, "events": events(1, 1, "x" * MAX_BODY_BYTES)}
    assert api.post("/v1/sync", json={"sessions": [big]}).status_code == 413
    assert all(held(api, n) is None for n in range(1, 12))
    assert api.get("/v1/sessions").json()["sessions"] == []


def test_the_token_is_checked_first(live_server: Any) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as anonymous:
        answer = anonymous.post("/v1/sync", json={"sessions": [entry(1, 1, 1)]})
        assert answer.status_code == 401
        wrong = anonymous.post(
            "/v1/sync", json={"sessions": [entry(1, 1, 1)]}, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401
