"""Sync protocol v1, row by row, against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tui.sync.protocol import MAX_BATCH_EVENTS, MAX_BODY_BYTES

TOKEN_A = "token-alpha-0123456789abcdef"  # the same tokens as conftest's server
TOKEN_B = "token-beta-fedcba9876543210"

SID = "0123456789abcdef0123456789abcdef"
META = {"flow_id": "demo", "flow_hash": "f" * 64, "device_id": "d" * 32, "created_at": "2026-01-01T00:00:00.000Z"}


def event(seq: int, text: str = "hi") -> dict[str, Any]:
    return {"seq": seq, "type": "message", "ts": "2026-01-01T00:00:00.000Z", "data": {"kind": "text", "text": text}}


def events(first: int, last: int, text: str = "hi") -> list[dict[str, Any]]:
    return [event(seq, text) for seq in range(first, last + 1)]


@pytest.fixture
def api(live_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {TOKEN_A}"}, timeout=10) as client:
        yield client


@pytest.fixture
def other(live_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {TOKEN_B}"}, timeout=10) as client:
        yield client


def register(api: httpx.Client, sid: str = SID) -> None:
    assert api.put(f"/v1/sessions/{sid}", json=META).status_code in (200, 201)


def post(api: httpx.Client, batch: list[dict[str, Any]], sid: str = SID) -> httpx.Response:
    return api.post(f"/v1/sessions/{sid}/events", json={"events": batch})


def server_events(api: httpx.Client, sid: str = SID) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(1000):  # bounded paging
        page = api.get(f"/v1/sessions/{sid}/events", params={"after": len(out)}).json()["events"]
        if not page:
            return out
        out += page
    raise AssertionError("too many pages")


# ------------------------------------------------------------------ health and auth
def test_health(api: httpx.Client) -> None:
    response = api.get("/v1/health")
    assert response.status_code == 200 and response.json() == {"ok": True}


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN_A}", "Bearer", TOKEN_A])
def test_missing_or_wrong_token_is_401_everywhere(live_server: Any, api: httpx.Client, header: str | None) -> None:
    register(api)
    assert post(api, events(1, 2)).json() == {"acked_seq": 2}
    headers = {} if header is None else {"Authorization": header}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=10) as anon:
        assert anon.get("/v1/health").status_code == 401
        assert anon.put(f"/v1/sessions/{'1' * 32}", json=META).status_code == 401
        response = anon.post(f"/v1/sessions/{SID}/events", json={"events": events(3, 4)})
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"
        assert anon.get(f"/v1/sessions/{SID}").status_code == 401
        assert anon.get(f"/v1/sessions/{SID}/events").status_code == 401
    assert server_events(api) == events(1, 2)  # nothing changed
    assert api.get(f"/v1/sessions/{'1' * 32}").status_code == 404


# ------------------------------------------------------------------ sessions
def test_put_session_is_idempotent_and_get_shows_meta(api: httpx.Client) -> None:
    first = api.put(f"/v1/sessions/{SID}", json=META)
    assert first.status_code == 201
    again = api.put(f"/v1/sessions/{SID}", json=META)
    assert again.status_code == 200
    assert api.get(f"/v1/sessions/{SID}").json() == {**META, "sid": SID, "last_seq": 0}
    post(api, events(1, 3))
    assert api.get(f"/v1/sessions/{SID}").json()["last_seq"] == 3


def test_put_with_other_meta_is_409_diverged(api: httpx.Client) -> None:
    register(api)
    post(api, events(1, 2))
    response = api.put(f"/v1/sessions/{SID}", json={**META, "flow_hash": "0" * 64})
    assert response.status_code == 409
    assert response.json() == {"error": "diverged", "acked_seq": 2}
    assert api.get(f"/v1/sessions/{SID}").json()["flow_hash"] == META["flow_hash"]


@pytest.mark.parametrize("body", [{}, {**META, "flow_id": 3}, {**META, "extra": 1}, [META], "text"])
def test_put_with_invalid_meta_is_422(api: httpx.Client, body: Any) -> None:
    response = api.put(f"/v1/sessions/{SID}", json=body)
    assert response.status_code == 422 and response.json()["error"] == "invalid"
    assert api.get(f"/v1/sessions/{SID}").status_code == 404


@pytest.mark.parametrize("sid", ["xyz", "0123456789ABCDEF0123456789ABCDEF", "0" * 31, "0" * 33])
def test_malformed_sid_is_404(api: httpx.Client, sid: str) -> None:
    assert api.put(f"/v1/sessions/{sid}", json=META).status_code == 404
    assert api.get(f"/v1/sessions/{sid}").status_code == 404
    assert post(api, events(1, 1), sid=sid).status_code == 404


# ------------------------------------------------------------------ events
def test_batch_is_acked_and_identical_resend_is_acked_again(api: httpx.Client) -> None:
    register(api)
    assert post(api, events(1, 5)).json() == {"acked_seq": 5}
    assert post(api, events(1, 5)).json() == {"acked_seq": 5}
    assert post(api, events(2, 3)).json() == {"acked_seq": 3}  # acks what was verified, no more
    assert server_events(api) == events(1, 5)


def test_partly_stored_batch_stores_the_new_part(api: httpx.Client) -> None:
    register(api)
    post(api, events(1, 5))
    assert post(api, events(4, 9)).json() == {"acked_seq": 9}
    assert server_events(api) == events(1, 9)


def test_same_seq_other_content_is_409_diverged_and_changes_nothing(api: httpx.Client) -> None:
    register(api)
    post(api, events(1, 5))
    response = post(api, events(5, 7, text="other"))
    assert response.status_code == 409
    assert response.json() == {"error": "diverged", "acked_seq": 5}
    assert server_events(api) == events(1, 5)


def test_gap_is_409_with_acked_seq(api: httpx.Client) -> None:
    register(api)
    post(api, events(1, 5))
    response = post(api, events(8, 9))
    assert response.status_code == 409
    assert response.json() == {"error": "gap", "acked_seq": 5}
    assert server_events(api) == events(1, 5)


def test_too_many_events_is_413(api: httpx.Client) -> None:
    register(api)
    response = post(api, events(1, MAX_BATCH_EVENTS + 1))
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert post(api, events(1, MAX_BATCH_EVENTS)).json() == {"acked_seq": MAX_BATCH_EVENTS}


def test_body_over_one_mib_is_413_by_header_and_by_counting(api: httpx.Client) -> None:
    register(api)
    big = [event(1, "x" * (MAX_BODY_BYTES + 10))]
    response = post(api, big)
    assert response.status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: the server must count
        yield b'{"events": [{"seq": 1, "type": "message", "ts": "t", "data": {"text": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}}]}'

    response = api.post(f"/v1/sessions/{SID}/events", content=chunked(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert server_events(api) == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"events": [',
        b"",
        b'{"events": [{"seq": 1, "type": "message", "ts": "t", "data": {"n": NaN}}]}',
        b'{"events": []}',
        b'{"events": {}}',
        b'{"event": []}',
        b"[1, 2]",
        b'{"events": [{"seq": "1", "type": "message", "ts": "t", "data": {}}]}',
        b'{"events": [{"seq": true, "type": "message", "ts": "t", "data": {}}]}',
        b'{"events": [{"seq": 0, "type": "message", "ts": "t", "data": {}}]}',
        b'{"events": [{"seq": 1, "type": "message", "ts": "t", "data": []}]}',
        b'{"events": [{"seq": 1, "type": 5, "ts": "t", "data": {}}]}',
        b'{"events": [{"seq": 1, "type": "message", "data": {}}]}',
        b'{"events": [{"seq": 1, "type": "message", "ts": "t", "data": {}, "x": 1}]}',
        b'{"events": [{"seq": 1, "type": "m", "ts": "t"}, {"seq": 3, "type": "m", "ts": "t"}]}',
        b'{"events": [{"seq": 2, "type": "m", "ts": "t"}, {"seq": 1, "type": "m", "ts": "t"}]}',
        b"[" * 100000,
    ],
)
def test_invalid_bodies_are_422_and_change_nothing(api: httpx.Client, body: bytes) -> None:
    register(api)
    post(api, events(1, 2))
    response = api.post(f"/v1/sessions/{SID}/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"
    assert server_events(api) == events(1, 2)


def test_unknown_session_is_404(api: httpx.Client) -> None:
    assert post(api, events(1, 1)).status_code == 404
    assert api.get(f"/v1/sessions/{SID}").status_code == 404
    response = api.get(f"/v1/sessions/{SID}/events")
    assert response.status_code == 404 and response.json() == {"error": "not_found"}


def test_another_tokens_session_is_404_like_an_unknown_one(api: httpx.Client, other: httpx.Client) -> None:
    register(api)
    post(api, events(1, 3))
    unknown = "f" * 32
    for sid in (SID, unknown):
        assert other.get(f"/v1/sessions/{sid}").json() == {"error": "not_found"}
        assert other.get(f"/v1/sessions/{sid}/events").status_code == 404
        assert post(other, events(1, 1, text="intruder"), sid=sid).status_code == 404
    assert other.put(f"/v1/sessions/{SID}", json=META).status_code == 404
    assert post(other, events(4, 4), sid=SID).status_code == 404
    assert server_events(api) == events(1, 3)


def test_get_events_after_and_limit(api: httpx.Client) -> None:
    register(api)
    for first in range(1, 1200, 500):
        post(api, events(first, min(first + 499, 1200)))
    page = api.get(f"/v1/sessions/{SID}/events", params={"after": 10, "limit": 3}).json()["events"]
    assert [e["seq"] for e in page] == [11, 12, 13]
    assert len(api.get(f"/v1/sessions/{SID}/events").json()["events"]) == 500  # default limit
    assert len(api.get(f"/v1/sessions/{SID}/events", params={"limit": 5000}).json()["events"]) == 500  # clamped
    assert api.get(f"/v1/sessions/{SID}/events", params={"after": 1200}).json() == {"events": []}
    for bad in ({"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": "1.5"}):
        assert api.get(f"/v1/sessions/{SID}/events", params=bad).status_code == 422
    assert server_events(api) == events(1, 1200)


def test_errors_are_json_even_for_unknown_routes(api: httpx.Client) -> None:
    assert api.get("/v1/nothing").json() == {"error": "not_found"}
    assert api.delete(f"/v1/sessions/{SID}").status_code == 405
    assert api.get("/docs").status_code == 404


# ------------------------------------------------------------------ durability across restarts
def test_acked_batches_survive_a_restart_on_the_same_db(live_server: Any) -> None:
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {TOKEN_A}"}) as api:
        register(api)
        post(api, events(1, 40))
    live_server.restart()
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {TOKEN_A}"}) as api:
        assert server_events(api) == events(1, 40)
        assert post(api, events(41, 42)).json() == {"acked_seq": 42}
        assert server_events(api) == events(1, 42)


def test_acked_batches_survive_sigkill(server_process) -> None:
    server = server_process()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN_A}"}, timeout=10) as api:
        register(api)
        for first in range(1, 301, 100):
            assert post(api, events(first, first + 99)).json() == {"acked_seq": first + 99}
    server.kill()
    server.start()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN_A}"}, timeout=10) as api:
        assert server_events(api) == events(1, 300)
    assert server.terminate() in (0, -15)  # SIGTERM: graceful exit (uvicorn re-raises the signal)


# ------------------------------------------------------------------ hostile edges (issue 12, item 13)
@pytest.mark.parametrize(
    "params", [{"after": "99999999999999999999"}, {"after": str(2**63)}, {"limit": "1" * 40}, {"after": "1e400"}]
)
def test_get_events_with_out_of_range_numbers_is_422(api: httpx.Client, params: dict[str, str]) -> None:
    register(api)
    response = api.get(f"/v1/sessions/{SID}/events", params=params)
    assert response.status_code == 422 and response.json()["error"] == "invalid", response.text


@pytest.mark.parametrize(
    "data",
    [
        b'{"n": 1e400}',
        b'{"n": -1e400}',
        b'{"text": "\\ud800"}',
        b'{"text": "a\\udc00b"}',
        b'{"text": "\xff\xfe"}',
    ],
)
def test_infinite_numbers_lone_surrogates_and_bad_utf8_in_data_are_422(api: httpx.Client, data: bytes) -> None:
    register(api)
    post(api, events(1, 2))
    body = b'{"events": [{"seq": 3, "type": "message", "ts": "t", "data": ' + data + b"}]}"
    response = api.post(f"/v1/sessions/{SID}/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["error"] == "invalid", response.text
    assert server_events(api) == events(1, 2)


def test_stored_data_is_served_as_sent_and_a_respaced_resend_is_the_same_event(api: httpx.Client) -> None:
    register(api)
    sent = b'{"events": [{"seq": 1, "type": "m", "ts": "t", "data": {"b": [1, 2.5, "\\u00e9"], "a": {"x": null}}}]}'
    headers = {"Content-Type": "application/json"}
    assert api.post(f"/v1/sessions/{SID}/events", content=sent, headers=headers).json() == {"acked_seq": 1}
    respaced = b'{"events":[{"seq":1,"type":"m","ts":"t","data":{"a":{"x":null},"b":[1,2.5,"\xc3\xa9"]}}]}'
    assert api.post(f"/v1/sessions/{SID}/events", content=respaced, headers=headers).json() == {"acked_seq": 1}
    other = b'{"events":[{"seq":1,"type":"m","ts":"t","data":{"a":{"x":null},"b":[1,2.5,"e"]}}]}'
    assert api.post(f"/v1/sessions/{SID}/events", content=other, headers=headers).status_code == 409
    assert server_events(api) == [{"seq": 1, "type": "m", "ts": "t", "data": {"b": [1, 2.5, "é"], "a": {"x": None}}}]


def test_nul_is_refused_in_type_and_kept_escaped_in_data(api: httpx.Client) -> None:
    register(api)
    headers = {"Content-Type": "application/json"}
    bad = b'{"events": [{"seq": 1, "type": "m\\u0000", "ts": "t", "data": {}}]}'
    response = api.post(f"/v1/sessions/{SID}/events", content=bad, headers=headers)
    assert response.status_code == 422 and response.json()["error"] == "invalid"
    good = b'{"events": [{"seq": 1, "type": "m", "ts": "t", "data": {"text": "a\\u0000b"}}]}'
    assert api.post(f"/v1/sessions/{SID}/events", content=good, headers=headers).json() == {"acked_seq": 1}
    assert server_events(api) == [{"seq": 1, "type": "m", "ts": "t", "data": {"text": "a\x00b"}}]
    assert api.put(f"/v1/sessions/{'2' * 32}", json={**META, "flow_id": "a\x00"}).status_code == 422
