"""`Backend.sync_sessions` on SQLite and PostgreSQL alike: entries applied in order, each all or
nothing, one outcome per entry; concurrent requests carrying the same session store it once."""

from __future__ import annotations

import asyncio

import pytest

from tests.backend_rows import ALICE, BOB, META, rows, sid
from tui.server.backend import Backend, NotFound, SyncEntry, SyncOutcome, canonical_meta

OTHER_META = {**META, "device_id": "e" * 32}


def entry(n: int, first: int, last: int, *, meta: dict[str, str] | None = META, text: str = "hi") -> SyncEntry:
    return SyncEntry(sid(n), None if meta is None else canonical_meta(meta), rows(first, last, text) if last else [])


async def _scenario(backend: Backend) -> None:
    await backend.open()
    try:
        first = await backend.sync_sessions(ALICE, [entry(1, 1, 3), entry(2, 1, 2), entry(9, 1, 1)])
        assert first == [SyncOutcome(sid(1), 3), SyncOutcome(sid(2), 2), SyncOutcome(sid(9), 1)]
        await backend.register(sid(8), BOB, canonical_meta(META))

        mixed = await backend.sync_sessions(
            ALICE,
            [
                entry(1, 1, 5),  # a resend with more: the new part is stored
                entry(2, 2, 4, text="other"),  # seq 2 holds other content
                entry(3, 2, 3),  # new session, but a gap: registration undone too
                entry(4, 1, 2, meta=None),  # unknown, no meta
                entry(8, 1, 1),  # Bob's
                entry(9, 2, 2, meta=OTHER_META),  # other meta
                entry(5, 0, 0),  # meta only
            ],
        )
        assert mixed == [
            SyncOutcome(sid(1), 5),
            SyncOutcome(sid(2), 2, "diverged"),
            SyncOutcome(sid(3), 0, "gap"),
            SyncOutcome(sid(4), None, "not_found"),
            SyncOutcome(sid(8), None, "not_found"),
            SyncOutcome(sid(9), 1, "diverged", "meta"),
            SyncOutcome(sid(5), 0),
        ]
        assert [r[0] for r in await backend.events(sid(1), ALICE, 0, 100)] == [1, 2, 3, 4, 5]
        assert await backend.events(sid(2), ALICE, 0, 100) == rows(1, 2)
        assert await backend.events(sid(9), ALICE, 0, 100) == rows(1, 1)
        with pytest.raises(NotFound):
            await backend.get_session(sid(3), ALICE)
        assert (await backend.get_session(sid(5), ALICE)).last_seq == 0
        assert (await backend.get_session(sid(8), BOB)).last_seq == 0

        # the same sessions in concurrent requests, in either order (a resend racing its
        # original): stored once, and no deadlock between them
        pair = [entry(6, 1, 4), entry(7, 1, 3)]
        racing = await asyncio.gather(
            *(backend.sync_sessions(ALICE, pair if n % 2 else pair[::-1]) for n in range(6)), return_exceptions=True
        )
        want = [SyncOutcome(sid(6), 4), SyncOutcome(sid(7), 3)]
        assert all(r == (want if n % 2 else want[::-1]) for n, r in enumerate(racing)), racing
        assert [r[0] for r in await backend.events(sid(6), ALICE, 0, 100)] == [1, 2, 3, 4]
    finally:
        await backend.close()


def test_sync_sessions_behaves_the_same_on_both(backend: Backend) -> None:
    asyncio.run(_scenario(backend))
