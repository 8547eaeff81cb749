"""A small blocking client for the server's read side: list sessions, read one, page its events.

Used by the commands that act once and exit (`sessions --server`, `pull`, `resolve`) and by the
TUI from a worker thread; the outbox client (`client.py`) stays the only writer. Every failure is
one line: the server unreachable, the token refused, an answer that does not parse (SyncError,
exit 1), or no such session for this token (None from `session`).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

import httpx
import msgspec
from pydantic import BaseModel, ValidationError

from tui.errors import SyncError
from tui.steps import StoredEvent
from tui.sync.protocol import MAX_BATCH_EVENTS, EventPage, ListedSession, SessionInfo, SessionList
from tui.sync.transport import tls_for

ModelT = TypeVar("ModelT", bound=BaseModel)
MAX_LIST_PAGES = 200
"""Listing stops after this many pages (100,000 sessions at 500 a page): every loop is bounded."""


class ServerApi:
    """GET requests to one sync server with one token; use as a context manager."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        timeout = httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout)
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            transport=transport,
            verify=tls_for(self.url),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "steadychat-sync/1"},
        )

    def __enter__(self) -> ServerApi:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ----------------------------------------------------------------- requests
    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response | None:
        """The answer, or None on 404; connectivity, auth and server failures are SyncError."""
        try:
            answer = self._http.get(path, params=params)
        except httpx.TransportError as exc:
            raise SyncError(f"cannot reach {self.url} ({type(exc).__name__}); is the server running?") from None
        if answer.status_code in (401, 403):
            raise SyncError(f"{self.url} refused the token (unauthorized); check --token or STEADYCHAT_TOKEN")
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise SyncError(f"{self.url} answered {answer.status_code} to GET {path}; try again later")
        return answer

    def list_page(self, before: str | None = None, limit: int = 100) -> SessionList:
        """One page of the caller's sessions, most recently updated first."""
        params: dict[str, Any] = {"limit": limit}
        if before:
            params["before"] = before
        answer = self._get("/v1/sessions", params)
        if answer is None:
            raise SyncError(f"{self.url} does not list sessions (GET /v1/sessions): the server is older; upgrade it")
        return _parse(SessionList, answer, self.url)

    def list_all(self, page: int = 500) -> list[ListedSession]:
        """Every session of the caller, newest first (at most MAX_LIST_PAGES pages)."""
        out: list[ListedSession] = []
        before: str | None = None
        for _ in range(MAX_LIST_PAGES):
            listing = self.list_page(before, page)
            out += listing.sessions
            if not listing.next_before or not listing.sessions:
                break
            before = listing.next_before
        return out

    def session(self, sid: str) -> SessionInfo | None:
        """The session's meta and last seq, or None if this token has no such session."""
        answer = self._get(f"/v1/sessions/{sid}")
        return None if answer is None else _parse(SessionInfo, answer, self.url)

    def events(self, sid: str, after: int, limit: int = MAX_BATCH_EVENTS) -> list[StoredEvent]:
        """Up to `limit` events with seq > after, checked to be contiguous from after + 1."""
        answer = self._get(f"/v1/sessions/{sid}/events", {"after": after, "limit": limit})
        if answer is None:
            raise SyncError(f"{self.url} no longer has session {sid}")
        page = _parse(EventPage, answer, self.url)
        try:
            events = [msgspec.convert(event.model_dump(), StoredEvent) for event in page.events]
        except msgspec.ValidationError:
            raise SyncError(f"{self.url} sent an event this SteadyChat cannot read; nothing was stored") from None
        for offset, event in enumerate(events):
            if event.seq != after + 1 + offset:
                raise SyncError(
                    f"{self.url} sent seq {event.seq} where {after + 1 + offset} was due for session {sid}; "
                    "nothing was stored from that page"
                )
        return events

    def events_range(self, sid: str, after: int, upto: int) -> list[StoredEvent]:
        """Every event with after < seq ≤ upto, page by page (bounded by the range)."""
        out: list[StoredEvent] = []
        for _ in range((upto - after) // MAX_BATCH_EVENTS + 2):
            if after >= upto:
                break
            page = self.events(sid, after, min(MAX_BATCH_EVENTS, upto - after))
            if not page:
                raise SyncError(f"{self.url} holds session {sid} only up to seq {after}, not {upto}")
            out += page
            after = page[-1].seq
        return out


def _parse(model: type[ModelT], answer: httpx.Response, url: str) -> ModelT:
    try:
        return model.model_validate_json(answer.content)
    except (ValidationError, ValueError):
        raise SyncError(f"{url} sent an answer that is not SteadyChat protocol v1; nothing was stored") from None
