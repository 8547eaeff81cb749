"""The multi-session drain: POST /v1/sync carries the next batches of many sessions at once.

A store with a thousand short sessions would otherwise cost a PUT and a POST per session. Here
sessions are packed into requests within the protocol's limits (1 MiB, MAX_SYNC_SESSIONS,
MAX_SYNC_EVENTS, `Pace.limit` events per session), a session not yet registered this run
carries its meta (the PUT folds in), and requests are pipelined: the next request is read
from the store on a worker thread while others are in flight, and up to `depth` are in flight
at once.

Exactly once, in order: a session is in at most one place at a time (the queue, the request
being read, or one request in flight), so its batches go in seq order; it returns to the queue
only after its answer is judged. Its ack is committed only from a parsed 200 whose result
names it with a seq inside the batch. A lost answer, a cut or a cancelled request leaves its
sessions un-acked, and the resend is acknowledged again by the server.

Reading on while a request is in flight: when the queue is empty (one long session, or the
tail of many), the sessions of one request in flight have their next batch read ahead, starting
after the seqs in flight (already committed locally, so nothing changes under the read). That
follow-up is sent only once the request's answer acknowledges every one of its sessions up to
the last seq sent, so batch k+1 still leaves after batch k is acknowledged; the sessions then
move from the answered request to the follow-up, and its ack commit runs while the follow-up
travels (an ack not yet committed only means a resend, acknowledged again). Any other answer
drops the follow-up unread, with no effect. For one session this leaves the link idle only for
the time to judge an answer, not to read and encode the next 500 events as well.

How answers are treated (the whole request, then each session's result):

| answer                              | what happens                                           |
|-------------------------------------|--------------------------------------------------------|
| 404 / 405 on POST /v1/sync          | the server is older: per-session PUT/POST from now on  |
|                                     | (remembered until the connection is lost)              |
| 413                                 | batch size halved, sessions queued again               |
| 422                                 | its sessions go the per-session way this pass, which   |
|                                     | tells the poisoned one from the others                 |
| 200, result `acked_seq`             | ack committed; queued again if more is pending         |
| result `diverged` (detail `meta`)   | CONFLICT for that session only, kept until `resolve`   |
| result `gap`                        | acked seq lowered to the server's; queued again        |
| result `not_found`                  | sent with meta: foreign id, CONFLICT; without: queued  |
|                                     | again with meta (once per pass)                        |
| result `invalid` / `too_large`      | poison for that session (kept locally) / halve, again  |
| unparsable 200, unknown result      | ServerRefusalError: retry after backoff, nothing acked |
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from tui.errors import ServerRefusalError
from tui.sync.batches import Budget, Entry, NoMeta, SyncRequestBody, read_sync_request
from tui.sync.ledger import Ledger, Pace, short
from tui.sync.protocol import (
    ERR_DIVERGED,
    ERR_GAP,
    ERR_INVALID,
    ERR_NOT_FOUND,
    ERR_TOO_LARGE,
    MAX_SYNC_EVENTS,
    SYNC_PATH,
    SyncAnswer,
    SyncResult,
)
from tui.sync.session_drain import FOREIGN_SID, OTHER_META
from tui.sync.transport import Answer, Requester, parse_model

SESSIONS_PER_BATCH_LIMIT = MAX_SYNC_EVENTS // 500
"""A request may hold this many times `Pace.limit` events in all."""

Sent = tuple[SyncRequestBody, Answer]


class MultiDrain:
    """One pass over the due sessions through POST /v1/sync (see the module doc)."""

    def __init__(
        self,
        ledger: Ledger,
        pace: Pace,
        requester: Requester,
        *,
        depth: int,
        log: Callable[[str], None],
        publish: Callable[[], None],
        stopping: Callable[[], bool],
    ) -> None:
        self.ledger = ledger
        self.pace = pace
        self.requester = requester
        self.depth = max(1, depth)
        self._log = log
        self._publish = publish
        self._stopping = stopping
        self.unsupported = False
        self.solo: list[str] = []
        self._queue: deque[str] = deque()
        self._ahead: asyncio.Task[SyncRequestBody] | None = None
        self._follow: tuple[SyncRequestBody, asyncio.Task[SyncRequestBody]] | None = None
        self._with_meta_again: set[str] = set()

    async def run(self, sids: list[str]) -> list[str]:
        """Drain `sids`; returns those left to the per-session path this pass."""
        self._queue = deque(sids)
        inflight: set[asyncio.Task[Sent]] = set()
        try:
            while not self._stopping() and not self.unsupported:
                await self._fill(inflight)
                if not inflight:
                    break
                done, _ = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    inflight.discard(task)
                    await self._answered(inflight, *task.result())
                self._publish()
        finally:
            await _cancel(inflight, self._ahead, self._follow[1] if self._follow else None)
            self._ahead = self._follow = None
        if not self._queue and not self.unsupported:
            self.pace.slow_ceiling = None  # drained: the next backlog may meet a faster link
        return self.solo

    # ----------------------------------------------------------------- reading and sending
    async def _fill(self, inflight: set[asyncio.Task[Sent]]) -> None:
        """Send prepared requests until `depth` are in flight, and read the next one ahead."""
        while len(inflight) < self.depth and not self.unsupported:
            if self._ahead is None:
                if not self._queue:
                    break
                self._ahead = self._read_ahead()
            request = await self._ahead
            self._ahead = None
            if request.entries:
                self._launch(inflight, request)
        if self._ahead is None and self._queue:
            self._ahead = self._read_ahead()

    def _launch(self, inflight: set[asyncio.Task[Sent]], request: SyncRequestBody) -> None:
        """Send `request`; with nothing else to read, read its sessions' next batch meanwhile."""
        inflight.add(asyncio.ensure_future(self._send(request)))
        if self._follow is None and self._ahead is None and not self._queue:
            after = {entry.sid: entry.last for entry in request.entries}
            read = asyncio.to_thread(
                read_sync_request, self.ledger.store, list(after), _registered, self._budget(), after
            )
            self._follow = (request, asyncio.ensure_future(read))

    def _read_ahead(self) -> asyncio.Task[SyncRequestBody]:
        candidates = [self._queue.popleft() for _ in range(len(self._queue))]
        return asyncio.ensure_future(self._read(candidates, self._budget()))

    def _budget(self) -> Budget:
        """What one request may carry at the current pace."""
        limit = self.pace.limit
        return Budget(per_session=limit, total_events=min(MAX_SYNC_EVENTS, limit * SESSIONS_PER_BATCH_LIMIT))

    async def _read(self, candidates: list[str], budget: Budget) -> SyncRequestBody:
        request = await asyncio.to_thread(read_sync_request, self.ledger.store, candidates, self._meta_of, budget)
        self._take(request)
        return request

    def _take(self, request: SyncRequestBody) -> None:
        """Place the sessions a read did not put in the request: back in the queue, poison, solo."""
        self._queue.extendleft(reversed(request.untouched))
        for sid, reason in request.poison.items():
            self.ledger.conflict(sid, f"{reason}; poison, kept locally")
        self.solo += request.solo

    def _meta_of(self, sid: str) -> bytes | None:
        if sid in self.ledger.registered:
            return None
        meta = self.ledger.meta_for(sid)
        if meta is None:
            raise NoMeta()
        return meta.model_dump_json().encode()

    async def _send(self, request: SyncRequestBody) -> Sent:
        self.pace.inflight = _weight(request)
        return request, await self.requester.request("POST", SYNC_PATH, request.body)

    # ----------------------------------------------------------------- judging answers
    async def _answered(self, inflight: set[asyncio.Task[Sent]], request: SyncRequestBody, answer: Answer) -> None:
        """Judge `answer`; when it acknowledges all of `request`, send the follow-up read for it
        first, and leave its sessions to it (see the module doc)."""
        results = _parsed(request, answer)
        follow = await self._follow_up(request, results)
        if follow is None:
            if results is None:
                self._judge(request, answer)
            else:
                self._results(request, results, self.ledger.commit_acks(_acks(request, results)), set())
            return
        if follow.entries:
            self._launch(inflight, follow)
        taken = {entry.sid for entry in follow.entries}
        taken.update(follow.untouched, follow.poison, follow.solo)
        assert results is not None  # a follow-up is only taken on a whole acknowledgement
        # the store's commit (and, the first time, its quick_check) runs while the follow-up travels
        counts = await asyncio.to_thread(self.ledger.commit_acks, _acks(request, results))
        self._results(request, results, counts, taken)
        self._take(follow)

    async def _follow_up(self, request: SyncRequestBody, results: list[SyncResult] | None) -> SyncRequestBody | None:
        """The next batch read ahead for `request`, if there is one and its answer allows it."""
        if self._follow is None or self._follow[0] is not request:
            return None
        _, read = self._follow
        self._follow = None
        if results is None or not all(map(_whole, request.entries, results)):
            await _cancel(set(), read)
            return None
        return await read

    def _judge(self, request: SyncRequestBody, answer: Answer) -> None:
        if answer.status == 200:
            raise ServerRefusalError(f"acknowledgement not understood for {len(request.entries)} sessions")
        elif answer.status in (404, 405):
            self.unsupported = True
        elif answer.status == 413:
            self._whole_too_large(request)
        elif answer.status == 422:  # not ours to tell which session: the per-session path can
            self.solo += [entry.sid for entry in request.entries]
        else:
            raise ServerRefusalError(f"server answered {answer.status} to {SYNC_PATH}")

    def _whole_too_large(self, request: SyncRequestBody) -> None:
        if request.events > 1:
            self.pace.shrink_to(_weight(request))
            self._log(f"batch too large for the server; now {self.pace.limit} events")
            self._queue.extend(entry.sid for entry in request.entries)
            return
        entry = request.entries[0]
        self.ledger.conflict(entry.sid, f"event {entry.first} is too large for the server (413); poison, kept locally")

    def _results(
        self, request: SyncRequestBody, results: list[SyncResult], counts: dict[str, int], taken: set[str]
    ) -> None:
        """A 200 understood for every entry, its acks committed (`counts`: the acked sessions'
        pending counts); sessions in `taken` went on with a follow-up."""
        self.ledger.pending.update(counts)
        for entry, result in zip(request.entries, results, strict=True):
            self._result(entry, result, entry.sid in taken)
        self.pace.grow()

    def _result(self, entry: Entry, result: SyncResult, taken: bool = False) -> None:
        sid = entry.sid
        if result.error is None and result.acked_seq is not None:  # committed by `_results`
            self.ledger.registered.add(sid)
            self._log(f"sent {short(sid)} {entry.first}..{result.acked_seq}")
            if not taken:
                self._again_if_pending(sid)
        elif result.error == ERR_DIVERGED:
            self._diverged(entry, result)
        elif result.error == ERR_GAP:
            held = result.acked_seq
            assert held is not None  # _understood checked it
            self._log(f"gap: server holds {short(sid)} up to {held}; resending from {held + 1}")
            self.ledger.rewind(sid, held)
            self._again_if_pending(sid)
        elif result.error == ERR_NOT_FOUND:
            self._not_found(entry)
        elif result.error == ERR_TOO_LARGE and entry.count > 1:
            self.pace.shrink_to(entry.count)
            self._queue.append(sid)
        else:
            what = "too large" if result.error == ERR_TOO_LARGE else "invalid"
            detail = f"the server refused seqs {entry.first}..{entry.last} as {what} ({result.detail or result.error})"
            self.ledger.conflict(sid, f"{detail}; poison, kept locally")

    def _diverged(self, entry: Entry, result: SyncResult) -> None:
        if result.detail == "meta":
            self.ledger.diverged(entry.sid, OTHER_META, None)
            return
        held = result.acked_seq if result.acked_seq is not None else "?"
        detail = f"the server holds other content for seqs {entry.first}..{entry.last} (server at {held})"
        self.ledger.diverged(entry.sid, detail, result.acked_seq)

    def _not_found(self, entry: Entry) -> None:
        if entry.with_meta:
            self.ledger.conflict(entry.sid, FOREIGN_SID)
            return
        if entry.sid in self._with_meta_again:
            raise ServerRefusalError("session still unknown after registering it again")
        self._with_meta_again.add(entry.sid)  # the server forgot it (a restored backup)
        self.ledger.registered.discard(entry.sid)
        self._queue.append(entry.sid)

    def _again_if_pending(self, sid: str) -> None:
        if self.ledger.pending.get(sid, 0) > 0:
            self._queue.append(sid)


def _weight(request: SyncRequestBody) -> int:
    """The request's size in `Pace.limit` units: halving this halves the request."""
    largest = max(entry.count for entry in request.entries)
    return max(largest, -(-request.events // SESSIONS_PER_BATCH_LIMIT))


def _registered(_sid: str) -> bytes | None:
    """`MetaOf` for a follow-up: it is sent only after its sessions were acknowledged, hence
    registered."""
    return None


def _parsed(request: SyncRequestBody, answer: Answer) -> list[SyncResult] | None:
    """The results of a 200 that answers every entry of `request` understandably, else None."""
    if answer.status != 200:
        return None
    parsed = parse_model(SyncAnswer, answer.body)
    results = [] if parsed is None else parsed.results
    if len(results) != len(request.entries) or not all(map(_understood, request.entries, results)):
        return None
    return results


def _acks(request: SyncRequestBody, results: list[SyncResult]) -> dict[str, int]:
    """sid → acked seq for the entries `results` acknowledges."""
    pairs = zip(request.entries, results, strict=True)
    return {e.sid: r.acked_seq for e, r in pairs if r.error is None and r.acked_seq is not None}


def _whole(entry: Entry, result: SyncResult) -> bool:
    """Does `result` acknowledge `entry` up to its last seq?"""
    return result.error is None and result.acked_seq == entry.last


def _understood(entry: Entry, result: SyncResult) -> bool:
    """Does `result` answer `entry` in a way this client can act on without guessing?"""
    if result.sid != entry.sid:
        return False
    if result.error is None:
        return result.acked_seq is not None and entry.first <= result.acked_seq <= entry.last
    if result.error == ERR_GAP:
        return result.acked_seq is not None and result.acked_seq < entry.after
    return result.error in (ERR_DIVERGED, ERR_NOT_FOUND, ERR_INVALID, ERR_TOO_LARGE)


async def _cancel(inflight: set[asyncio.Task[Sent]], *reads: asyncio.Task[SyncRequestBody] | None) -> None:
    tasks: list[asyncio.Future[Any]] = [*inflight, *(read for read in reads if read is not None)]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
