"""Many batches arriving at once (the PostgreSQL backend applies those waiting together as one
statement): each still lands exactly once, all or nothing, with its data stored as sent; a bad
or stale batch among them changes nothing and does not fail the others. Runs on both databases."""

from __future__ import annotations

import asyncio

from tests.backend_rows import ALICE, BOB, META, rows, sid
from tui.server.backend import Backend, NotFound, Rejected, canonical_meta

SESSIONS = 40


async def _many_at_once(backend: Backend) -> None:
    await backend.open()
    try:
        for n in range(SESSIONS):
            await backend.register(sid(n), ALICE, canonical_meta(META))
        # three rounds of one batch per session, all sent at once; among them: one session's
        # batch resent twice in the same round, one with a gap, one from another owner, one
        # for a session that does not exist, and data with escapes the database must keep as is
        odd = '{"text": "nul \\u0000 and \\ud83d\\ude00 and \\"quotes\\"", "n": 1.50}'
        for round_no in range(3):
            first, last = 5 * round_no + 1, 5 * round_no + 5
            calls = [backend.apply_batch(sid(n), ALICE, rows(first, last, f"s{n}")) for n in range(2, SESSIONS)]
            calls += [backend.apply_batch(sid(0), ALICE, rows(first, last)) for _ in range(3)]
            calls.append(backend.apply_batch(sid(1), ALICE, [(first, "message", "t", odd), *rows(first + 1, last)]))
            calls.append(backend.apply_batch(sid(2), ALICE, rows(last + 2, last + 4)))  # gap
            calls.append(backend.apply_batch(sid(3), BOB, rows(first, last)))  # not Bob's
            calls.append(backend.apply_batch(sid(SESSIONS + 1), ALICE, rows(1, 5)))  # unknown
            results = await asyncio.gather(*calls, return_exceptions=True)
            *applied, gap, bob, unknown = results
            assert applied == [last] * len(applied), applied
            # the gap races sid(2)'s own batch of this round: either order is right, and the
            # server names what it held at that moment
            assert isinstance(gap, Rejected) and gap.error == "gap" and gap.acked_seq in (first - 1, last)
            assert isinstance(bob, NotFound) and isinstance(unknown, NotFound)
        for n in range(SESSIONS):
            stored = await backend.events(sid(n), ALICE, 0, 100)
            assert [r[0] for r in stored] == list(range(1, 16))
            assert (await backend.get_session(sid(n), ALICE)).last_seq == 15
        assert (await backend.events(sid(1), ALICE, 0, 1))[0][3] == odd
        assert (await backend.events(sid(7), ALICE, 5, 1))[0] == (6, "message", "t", '{"text": "s7 6"}')
        # a resend with other content is refused as diverged, whatever else arrives with it
        diverged = await asyncio.gather(
            backend.apply_batch(sid(4), ALICE, rows(11, 15, "other")),
            backend.apply_batch(sid(5), ALICE, rows(16, 20)),
            return_exceptions=True,
        )
        assert isinstance(diverged[0], Rejected) and diverged[0].error == "diverged", diverged
        assert diverged[1] == 20
    finally:
        await backend.close()


def test_batches_sent_together_each_land_exactly_once(backend: Backend) -> None:
    asyncio.run(_many_at_once(backend))
