"""Many session registrations (PUT) arriving at once at a two-worker server, on both databases.

The PostgreSQL backend sends the PUTs a worker has waiting as one statement, and SQLite's workers
take turns writing through a lock file: whatever arrives together, each PUT still gets the answer
it would get alone (201 new, 200 the same session again, 409 other meta, 404 another token's
session) and every session is stored exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from tests.databases import server_session_rows
from tests.servers import ServerProcess

TOKEN_A = "token-alpha-0123456789abcdef"  # the same tokens as conftest's servers
TOKEN_B = "token-beta-fedcba9876543210"
META = {"flow_id": "demo", "flow_hash": "f" * 64, "device_id": "d" * 32, "created_at": "2026-01-01T00:00:00.000Z"}
OTHER_META = {**META, "flow_id": "other"}
BATCH = {"events": [{"seq": n, "type": "message", "ts": "t", "data": {"n": n}} for n in (1, 2, 3)]}


def sid(kind: int, n: int) -> str:
    return f"{kind:04x}{n:028x}"


def answer(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    return response.status_code, body.get("last_seq", body.get("acked_seq"))


async def _put(client: httpx.AsyncClient, token: str, session: str, meta: dict[str, str]) -> tuple[int, Any]:
    response = await client.put(f"/v1/sessions/{session}", json=meta, headers={"Authorization": f"Bearer {token}"})
    return answer(response)


def _existing(url: str) -> tuple[list[str], list[str], str]:
    """Sessions registered before the burst: Alice's (half of them with 3 events) and one of Bob's."""
    olds = [sid(1, n) for n in range(12)]
    fed = olds[::2]
    with httpx.Client(base_url=url, timeout=30) as api:
        for session in olds:
            assert _answer_sync(api, TOKEN_A, session, META) == (201, 0)
        for session in fed:
            posted = api.post(
                f"/v1/sessions/{session}/events", json=BATCH, headers={"Authorization": f"Bearer {TOKEN_A}"}
            )
            assert posted.json() == {"acked_seq": 3}
        bobs = sid(2, 0)
        assert _answer_sync(api, TOKEN_B, bobs, META) == (201, 0)
    return olds, fed, bobs


def _answer_sync(api: httpx.Client, token: str, session: str, meta: dict[str, str]) -> tuple[int, Any]:
    return answer(api.put(f"/v1/sessions/{session}", json=meta, headers={"Authorization": f"Bearer {token}"}))


async def _burst(url: str, olds: list[str], bobs: str) -> dict[str, list[tuple[str, int, Any]]]:
    """Every PUT at once; answers grouped by what was asked."""
    news = [sid(3, n) for n in range(80)]
    twice = [sid(4, n) for n in range(6)]
    contested = [sid(5, n) for n in range(4)]
    asks: list[tuple[str, str, str, dict[str, str]]] = [("new", TOKEN_A, s, META) for s in news]
    asks += [("twice", TOKEN_A, s, META) for s in twice for _ in range(3)]
    asks += [("again", TOKEN_A, s, META) for s in olds[3:]]
    asks += [("other meta", TOKEN_A, s, OTHER_META) for s in olds[:3]]
    asks += [("not yours", TOKEN_A, bobs, META)]
    asks += [(f"contested {who}", token, s, META) for s in contested for who, token in (("a", TOKEN_A), ("b", TOKEN_B))]
    limits = httpx.Limits(max_connections=len(asks), max_keepalive_connections=len(asks))
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        answers = await asyncio.gather(*(_put(client, token, s, meta) for _, token, s, meta in asks))
    out: dict[str, list[tuple[str, int, Any]]] = {}
    for (what, _token, session, _meta), (status, last) in zip(asks, answers, strict=True):
        out.setdefault(what, []).append((session, status, last))
    return out


def test_many_puts_at_once_each_get_their_answer_and_one_row(
    server_db: str, server_process: Callable[..., ServerProcess]
) -> None:
    server = server_process(workers=2)
    olds, fed, bobs = _existing(server.url)
    got = asyncio.run(_burst(server.url, olds, bobs))

    assert {(status, last) for _s, status, last in got["new"]} == {(201, 0)}
    twice: dict[str, list[int]] = {}
    for session, status, last in got["twice"]:
        assert last == 0
        twice.setdefault(session, []).append(status)
    assert all(sorted(statuses) == [200, 200, 201] for statuses in twice.values()), twice
    assert got["again"] == [(s, 200, 3 if s in fed else 0) for s in olds[3:]]
    assert got["other meta"] == [(s, 409, 3 if s in fed else 0) for s in olds[:3]]
    assert [status for _s, status, _last in got["not yours"]] == [404]
    for a, b in zip(got["contested a"], got["contested b"], strict=True):
        assert sorted((a[1], b[1])) == [201, 404], (a, b)  # one token wins, the other sees no session

    every = sorted({s for answers in got.values() for s, _status, _last in answers} | set(olds))
    assert server_session_rows(server_db, every) == dict.fromkeys(every, 1)
