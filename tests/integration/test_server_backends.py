"""The `Backend` interface itself, on SQLite and PostgreSQL alike: what endpoints build on
(per-session batches, `list_sessions` newest first with a cursor, `updated_at`)."""

from __future__ import annotations

import asyncio

import pytest

from tests.backend_rows import ALICE, BOB, META, rows, sid
from tui.server.backend import Backend, NotFound, Rejected, canonical_meta


async def _scenario(backend: Backend) -> None:
    await backend.open()
    try:
        for n in (1, 2, 3):
            created, session = await backend.register(sid(n), ALICE, canonical_meta(META))
            assert created and session.last_seq == 0 and session.updated_at
        await backend.register(sid(9), BOB, canonical_meta(META))
        assert await backend.apply_batch(sid(2), ALICE, rows(1, 3)) == 3
        assert await backend.apply_batch(sid(1), ALICE, rows(1, 2)) == 2  # sid 1 is now the newest
        assert await backend.apply_batch(sid(1), ALICE, rows(2, 2)) == 2  # a resend changes nothing

        listed = await backend.list_sessions(ALICE, None, 10)
        assert [s.sid for s in listed] == [sid(1), sid(2), sid(3)]
        assert [s.last_seq for s in listed] == [2, 3, 0]
        assert listed[0].meta == META
        assert listed[0].updated_at > listed[1].updated_at > listed[2].updated_at
        page = await backend.list_sessions(ALICE, listed[0].updated_at, 1)
        assert [s.sid for s in page] == [sid(2)]
        assert [s.sid for s in await backend.list_sessions(BOB, None, 10)] == [sid(9)]

        with pytest.raises(Rejected) as gap:
            await backend.apply_batch(sid(2), ALICE, rows(5, 6))
        assert (gap.value.error, gap.value.acked_seq) == ("gap", 3)
        with pytest.raises(Rejected) as diverged:
            await backend.apply_batch(sid(2), ALICE, rows(3, 4, text="other"))
        assert (diverged.value.error, diverged.value.acked_seq) == ("diverged", 3)
        with pytest.raises(NotFound):
            await backend.apply_batch(sid(2), BOB, rows(4, 4))
        assert [r[0] for r in await backend.events(sid(2), ALICE, 0, 10)] == [1, 2, 3]
        assert (await backend.get_session(sid(2), ALICE)).last_seq == 3

        # concurrent batches of one session: exactly one of each seq range wins, the rest are acked
        # again or refused as a gap, never stored twice
        results = await asyncio.gather(
            *(backend.apply_batch(sid(3), ALICE, rows(1, 5)) for _ in range(8)), return_exceptions=True
        )
        assert all(r == 5 for r in results), results
        assert [r[0] for r in await backend.events(sid(3), ALICE, 0, 100)] == [1, 2, 3, 4, 5]
    finally:
        await backend.close()


def test_the_backend_interface_behaves_the_same_on_both(backend: Backend) -> None:
    asyncio.run(_scenario(backend))
