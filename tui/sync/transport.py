"""One request to the sync server, under a total deadline, with its failures named.

Every outcome that is not an answer to act on becomes one of the error tree's sync kinds
(tui/errors.py): OfflineError (transport error, or a read that never completes), SlowLinkError
(a data request that outlived the deadline while bytes flowed: halve, do not go offline),
UnauthorizedError (401/403) and ServerRefusalError (429/5xx, with Retry-After honoured). Other
statuses come back as an `Answer` for the drain to judge.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from tui.errors import OfflineError, ServerRefusalError, SlowLinkError, UnauthorizedError
from tui.sync.backoff import parse_retry_after
from tui.sync.protocol import Health

ModelT = TypeVar("ModelT", bound=BaseModel)
MAX_ANSWER_BYTES = 1024 * 1024
"""An answer body beyond this is cut and therefore unparsable: a hostile server cannot fill memory."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes


def tls_for(url: str) -> ssl.SSLContext | bool:
    """httpx's `verify` for a client of the server at `url`.

    By default httpx loads the CA bundle into a new SSL context for every client, TLS or not
    (≈ 30–45 ms, as much as draining 3,000 events to a local server). A plain-http server never
    shakes hands, so its client gets a bare context instead, which trusts no certificate at
    all: should TLS happen after all, it fails closed. An https:// server, or an https:// proxy
    from the environment, keeps the default verification."""
    proxies = urllib.request.getproxies().values()
    if url.lower().startswith("http://") and not any(p.lower().startswith("https://") for p in proxies):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True


def parse_model(model: type[ModelT], body: bytes) -> ModelT | None:
    """`body` as `model`, or None when it does not parse."""
    try:
        return model.model_validate_json(body)
    except (ValidationError, ValueError):
        return None


class Requester:
    """Sends requests with the current token; remembers when the server last answered."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        token: Callable[[], str | None],
        *,
        total_timeout: float,
        clock: Callable[[], float],
        wall_clock: Callable[[], datetime],
    ) -> None:
        self.http = http
        self._token = token
        self.total_timeout = total_timeout
        self._clock = clock
        self._wall_clock = wall_clock
        self.last_contact: float | None = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> Answer:
        """One request; connectivity, auth and server failures are raised (see module doc)."""
        try:
            answer = await asyncio.wait_for(self._send(method, path, body), self.total_timeout)
        except TimeoutError:
            if body is None:
                raise OfflineError(f"no answer within {self.total_timeout:g}s") from None
            raise SlowLinkError(f"no complete answer within {self.total_timeout:g}s") from None
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            if body is None:
                raise OfflineError(type(exc).__name__) from None
            # A body that takes longer than the read timeout to upload is a slow link, not a dead
            # one: halve the batch and stay `syncing`; the heartbeat decides about offline.
            raise SlowLinkError(type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise OfflineError(type(exc).__name__) from None
        self.last_contact = self._clock()
        self._refuse(answer)
        return answer

    async def health(self) -> None:
        """GET /v1/health; ServerRefusalError unless it answers `{"ok": true}`."""
        answer = await self.request("GET", "/v1/health")
        parsed = parse_model(Health, answer.body) if answer.status == 200 else None
        if parsed is None or not parsed.ok:
            raise ServerRefusalError(f"health check answered {answer.status} with an unexpected body")

    async def _send(self, method: str, path: str, body: bytes | None) -> Answer:
        headers = {"Authorization": f"Bearer {self._token() or ''}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        async with self.http.stream(method, path, content=body, headers=headers) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    chunks = [b"\x00"]  # unparsable on purpose
                    break
                chunks.append(chunk)
            return Answer(response.status_code, response.headers, b"".join(chunks))

    def _refuse(self, answer: Answer) -> None:
        if answer.status in (401, 403):
            raise UnauthorizedError()
        if answer.status == 429 or answer.status >= 500:
            wait = parse_retry_after(answer.headers.get("retry-after"), now=self._wall_clock())
            reason = f"server answered {answer.status}"
            if wait is not None:
                reason += f" (Retry-After {wait:g}s)"
            raise ServerRefusalError(reason, wait)
