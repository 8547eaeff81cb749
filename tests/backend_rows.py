"""What the server-backend tests share: a session's meta, two owners, ids and event rows."""

from __future__ import annotations

META = {"flow_id": "demo", "flow_hash": "f" * 64, "device_id": "d" * 32, "created_at": "2026-01-01T00:00:00.000Z"}
ALICE, BOB = "a" * 64, "b" * 64


def sid(n: int) -> str:
    return f"{n:032x}"


def rows(first: int, last: int, text: str = "hi") -> list[tuple[int, str, str, str]]:
    return [(seq, "message", "t", f'{{"text": "{text} {seq}"}}') for seq in range(first, last + 1)]
