"""The per-session drain: PUT the session, then POST its batches in seq order.

The path of servers without POST /v1/sync (and of a session whose next event only fits a body
of its own). While one batch is in flight the next one is read on a worker thread, so the
store and the network overlap; the prefetch is used only if the ack is exactly the batch's
last seq and the batch size did not change, otherwise the next batch is read again.

How each answer is treated is in `SyncClient`'s table; 401/403, 429 and 5xx never get here
(the `Requester` raises them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import Enum

from tui.errors import ServerRefusalError
from tui.sync.batches import Batch, read_batch
from tui.sync.ledger import Ledger, Pace, short
from tui.sync.protocol import ERR_DIVERGED, ERR_GAP, Ack, ErrorBody
from tui.sync.transport import Answer, Requester, parse_model


class Step(Enum):
    NEXT = "next"  # acked as sent: the prefetched batch may follow
    AGAIN = "again"  # read the next batch again from the acked seq
    STOP = "stop"  # this session is done for this pass


class SessionDrain:
    """Drains one session at a time through PUT /v1/sessions/{sid} and POST …/events."""

    def __init__(
        self,
        ledger: Ledger,
        pace: Pace,
        requester: Requester,
        *,
        log: Callable[[str], None],
        publish: Callable[[], None],
        stopping: Callable[[], bool],
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.pace = pace
        self.requester = requester
        self._log = log
        self._publish = publish
        self._stopping = stopping
        self._reregistered = False

    async def run(self, sid: str) -> None:
        """Send `sid`'s queued events until none is left or a failure stops it."""
        if sid not in self.ledger.registered and not await self.register(sid):
            return
        self._reregistered = False
        batch: Batch | None = None
        while not self._stopping():
            acked = self.store.acked_seq(sid)
            batch = await self._next(sid, acked, batch)
            if batch.poison:
                self.ledger.conflict(sid, f"{batch.poison}; poison, kept locally")
                return
            if batch.count == 0:
                self.ledger.pending[sid] = 0
                self.pace.slow_ceiling = None  # drained: the next backlog may meet a faster link
                return
            answer, prefetched = await self._send(sid, batch, acked)
            step = await self._judge(sid, batch, acked, answer)
            if step is Step.STOP:
                return
            batch = prefetched if step is Step.NEXT else None

    async def _next(self, sid: str, acked: int, batch: Batch | None) -> Batch:
        if batch is None or batch.after != acked or batch.limit_used != self.pace.limit:
            return await asyncio.to_thread(read_batch, self.store, sid, acked, self.pace.limit)
        return batch

    async def _send(self, sid: str, batch: Batch, acked: int) -> tuple[Answer, Batch | None]:
        """POST the batch while the next one is read; (answer, that next batch if usable)."""
        self.ledger.pending[sid] = max(0, self.store.last_seq(sid) - acked)
        self._publish()
        limit = self.pace.limit
        self.pace.inflight = batch.count
        prefetch = asyncio.ensure_future(asyncio.to_thread(read_batch, self.store, sid, batch.last, limit))
        try:
            answer = await self.requester.request("POST", f"/v1/sessions/{sid}/events", batch.body)
        finally:
            if not prefetch.done():
                prefetch.cancel()
                await asyncio.gather(prefetch, return_exceptions=True)
        usable = prefetch.done() and not prefetch.cancelled() and prefetch.exception() is None
        return answer, prefetch.result() if usable else None

    async def _judge(self, sid: str, batch: Batch, acked: int, answer: Answer) -> Step:
        if answer.status == 200:
            return self._acked(sid, batch, acked, answer)
        if answer.status == 409:
            return self._rejected(sid, batch, acked, answer)
        if answer.status == 404:
            return await self._unknown(sid)
        if answer.status == 413:
            return self._too_large(sid, batch)
        if answer.status == 422:
            detail = f"the server refused seqs {batch.first}..{batch.last} as invalid (422); poison, kept locally"
            self.ledger.conflict(sid, detail)
            return Step.STOP
        raise ServerRefusalError(f"server answered {answer.status}")

    def _acked(self, sid: str, batch: Batch, acked: int, answer: Answer) -> Step:
        ack = parse_model(Ack, answer.body)
        if ack is None or not batch.first <= ack.acked_seq <= batch.last:
            raise ServerRefusalError(f"acknowledgement not understood for seqs {batch.first}..{batch.last}")
        self.ledger.acked(sid, ack.acked_seq)
        limit = self.pace.limit
        self.pace.grow()
        self._log(f"sent {short(sid)} {batch.first}..{ack.acked_seq}")
        return Step.NEXT if ack.acked_seq == batch.last and limit == self.pace.limit else Step.AGAIN

    def _rejected(self, sid: str, batch: Batch, acked: int, answer: Answer) -> Step:
        error = ErrorBody.parse(answer.body)
        if error is not None and error.error == ERR_GAP and error.acked_seq is not None and error.acked_seq < acked:
            held = error.acked_seq
            self._log(f"gap: server holds {short(sid)} up to {held}; resending from {held + 1}")
            self.ledger.rewind(sid, held)
            return Step.AGAIN
        if error is not None and error.error == ERR_DIVERGED:
            held_text = error.acked_seq if error.acked_seq is not None else "?"
            detail = f"the server holds other content for seqs {batch.first}..{batch.last} (server at {held_text})"
            self.ledger.diverged(sid, detail, error.acked_seq)
            return Step.STOP
        raise ServerRefusalError("409 answer not understood")

    async def _unknown(self, sid: str) -> Step:
        """404 on POST: the server forgot the session (restored from a backup): register again."""
        if self._reregistered:
            raise ServerRefusalError("session still unknown after registering it again")
        self._reregistered = True
        self.ledger.registered.discard(sid)
        return Step.AGAIN if await self.register(sid) else Step.STOP

    def _too_large(self, sid: str, batch: Batch) -> Step:
        if batch.count > 1:
            self.pace.shrink_to(batch.count)
            self._log(f"batch too large for the server; now {self.pace.limit} events")
            return Step.AGAIN
        self.ledger.conflict(sid, f"event {batch.first} is too large for the server (413); poison, kept locally")
        return Step.STOP

    async def register(self, sid: str) -> bool:
        """PUT the session's meta; False if the session cannot be synced (now a conflict)."""
        meta = self.ledger.meta_for(sid)
        if meta is None:
            self.ledger.conflict(sid, "no session record or start event to register the session with")
            return False
        answer = await self.requester.request("PUT", f"/v1/sessions/{sid}", meta.model_dump_json().encode())
        if answer.status in (200, 201):
            self.ledger.registered.add(sid)
            return True
        if answer.status == 409:
            self.ledger.diverged(sid, OTHER_META, None)
        elif answer.status == 404:
            self.ledger.conflict(sid, FOREIGN_SID)
        elif answer.status == 422:
            self.ledger.conflict(sid, "the server refused the session details as invalid (422)")
        else:
            raise ServerRefusalError(f"registering the session: server answered {answer.status}")
        return False


OTHER_META = "the server has this session with other flow or device details"
FOREIGN_SID = "the server refuses this session id (another identity owns it)"
