"""The sync server's HTTP face: Sync protocol v1 as a Starlette app over a `Backend`.

Every request is authenticated first (401), then its path and body are validated (404/413/422),
and only then does the database see it, so malformed, oversized or unauthorized requests change
nothing. Bodies are read with a byte cap instead of trusting Content-Length. Decisions:

- Plain Starlette routes, not FastAPI: per request FastAPI added dependency resolution and
  response re-validation, a quarter of the CPU of a small POST; bodies are checked by
  `wire.py` (msgspec + orjson) instead of a pydantic model per event.
- A sid that is not 32 lowercase hex digits is answered 404: it names no session that can exist.
- Another token's session answers exactly like an unknown one (404), including on PUT.
- `limit` above 500 is clamped to 500; a non-integer, negative or out-of-range `after`/`limit`
  is 422.
- `GET /v1/sessions` lists only the caller's sessions (newest first); `before` is the
  `next_before` cursor of the previous page (or a bare `updated_at`); over 200 characters is 422.
- A database that is locked, failing or unreachable answers 503 with `Retry-After: 1`.
- `POST /v1/sync` carries several sessions' batches in one request (`multi.py`); each entry
  gets its own result, so one diverged session never holds back the others.
- No OpenAPI/docs routes: they would be the only unauthenticated pages.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tui.errors import RequestError
from tui.server.backend import Backend, NotFound, Rejected, Unavailable, cursor_of
from tui.server.databases import make_backend, prepare_database
from tui.server.multi import sync_sessions
from tui.server.wire import Invalid, TooMany, events_body, listed_session, parse_batch, parse_meta, session_info
from tui.sync.protocol import (
    ERR_INVALID,
    ERR_NOT_FOUND,
    ERR_TOO_LARGE,
    ERR_UNAUTHORIZED,
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    SYNC_PATH,
    valid_sid,
)

MAX_QUERY_INT = 2**53
LIST_DEFAULT = 50
MAX_CURSOR = 200


class ApiError(RequestError):
    """An answer with a JSON error body: `{"error": code, ...extra}`."""

    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"error": error, **extra}
        self.headers = headers


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer encoded by orjson (bytes are sent as they are)."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def _invalid(detail: Any) -> ApiError:
    return ApiError(422, ERR_INVALID, detail=detail)


class Auth:
    """Bearer-token check against the configured tokens; owners are sha256 hex of the token."""

    def __init__(self, tokens: list[str]) -> None:
        if not tokens or any(not t for t in tokens):
            raise ValueError("empty token")
        self._tokens = [(t.encode(), hashlib.sha256(t.encode()).hexdigest()) for t in tokens]

    def owner(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        presented = value.strip().encode("utf-8", "surrogateescape")
        match: str | None = None
        if scheme.lower() == "bearer" and presented:
            for token, owner in self._tokens:  # no early exit: timing says nothing about which token
                if hmac.compare_digest(presented, token):
                    match = owner
        if match is None:
            raise ApiError(401, ERR_UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
        return match


async def read_body(request: Request) -> bytes:
    """The body, read with a 1 MiB cap (413) whatever Content-Length says."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise _invalid("bad Content-Length")
        if int(declared) > MAX_BODY_BYTES:
            raise ApiError(413, ERR_TOO_LARGE, detail=f"body over {MAX_BODY_BYTES} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, ERR_TOO_LARGE, detail=f"body over {MAX_BODY_BYTES} bytes")
    return bytes(raw)


def int_param(request: Request, name: str, default: int) -> int:
    """A non-negative integer query parameter (422 otherwise, including absurdly large ones)."""
    text = request.query_params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 16 or int(text) > MAX_QUERY_INT:
        raise _invalid(f"{name} must be an integer from 0 to {MAX_QUERY_INT}")
    return int(text)


def checked_sid(request: Request) -> str:
    sid: str = request.path_params["sid"]
    if not valid_sid(sid):
        raise ApiError(404, ERR_NOT_FOUND)
    return sid


Handler = Callable[[Request], Awaitable[Response]]


def _answers_errors(handler: Handler) -> Handler:
    """Map the backend's outcomes to protocol answers (404, 409, 503) in one place."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return json_response(exc.body, exc.status, exc.headers)
        except NotFound:
            return json_response({"error": ERR_NOT_FOUND}, 404)
        except Rejected as exc:
            return json_response({"error": exc.error, "acked_seq": exc.acked_seq}, 409)
        except Invalid as exc:
            return json_response({"error": ERR_INVALID, "detail": str(exc)}, 422)
        except TooMany as exc:
            return json_response({"error": ERR_TOO_LARGE, "detail": str(exc)}, 413)
        except Unavailable:
            return json_response({"error": "unavailable"}, 503, {"Retry-After": "1"})

    return wrapped


_EVENTS_PREFIX = "/v1/sessions/"
_EVENTS_SUFFIX = "/events"


class _App(Starlette):
    """Starlette, with the hot path (POST /v1/sessions/{sid}/events with a well-formed sid)
    handed straight to its handler: routing through every route and three middleware layers
    were a fifth of the app's CPU per small POST. Anything else, including a malformed sid,
    takes the ordinary route, so answers are the same either way."""

    post_events: Handler | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self.post_events is not None:
            path: str = scope["path"]
            if path.startswith(_EVENTS_PREFIX) and path.endswith(_EVENTS_SUFFIX):
                sid = path[len(_EVENTS_PREFIX) : -len(_EVENTS_SUFFIX)]
                if valid_sid(sid):
                    scope["app"] = self
                    scope["path_params"] = {"sid": sid}
                    response = await self.post_events(Request(scope, receive))
                    await response(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


class _Opened:
    """Opens the backend once: at lifespan start under a server, or at the first request when
    the app is driven without a lifespan (httpx.ASGITransport in tests)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.done = False
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            if not self.done:
                await self.backend.open()
                self.done = True


def build_app(backend: Backend, tokens: list[str]) -> Starlette:
    """The protocol's routes over an (unopened) backend; the app opens and closes it."""
    auth = Auth(list(tokens))
    opened = _Opened(backend)

    async def health(request: Request) -> Response:
        auth.owner(request)
        return json_response(b'{"ok":true}')

    async def put_session(request: Request) -> Response:
        owner = auth.owner(request)
        sid = checked_sid(request)
        meta_text = parse_meta(await read_body(request))
        created, session = await backend.register(sid, owner, meta_text)
        return json_response(session_info(session), 201 if created else 200)

    async def post_events(request: Request) -> Response:
        owner = auth.owner(request)
        sid = checked_sid(request)
        body = await read_body(request)
        batch = parse_batch(body)
        acked = await backend.apply_batch(sid, owner, batch, body)
        return json_response(b'{"acked_seq":%d}' % acked)

    async def post_sync(request: Request) -> Response:
        owner = auth.owner(request)
        return json_response(await sync_sessions(backend, owner, await read_body(request)))

    async def get_session(request: Request) -> Response:
        owner = auth.owner(request)
        sid = checked_sid(request)
        return json_response(session_info(await backend.get_session(sid, owner)))

    async def get_events(request: Request) -> Response:
        owner = auth.owner(request)
        sid = checked_sid(request)
        after = int_param(request, "after", 0)
        limit = int_param(request, "limit", MAX_BATCH_EVENTS)
        if limit < 1:
            raise _invalid("limit must be at least 1")
        rows = await backend.events(sid, owner, after, min(limit, MAX_BATCH_EVENTS))
        return json_response(events_body(rows))

    async def list_sessions(request: Request) -> Response:
        owner = auth.owner(request)
        limit = int_param(request, "limit", LIST_DEFAULT)
        if limit < 1:
            raise _invalid("limit must be at least 1")
        limit = min(limit, MAX_BATCH_EVENTS)
        before = request.query_params.get("before") or None
        if before is not None and (len(before) > MAX_CURSOR or "\x00" in before):
            raise _invalid("before must be a cursor from next_before")
        rows = await backend.list_sessions(owner, before, limit)
        next_before = cursor_of(rows[-1]) if len(rows) == limit else None
        return json_response({"sessions": [listed_session(row) for row in rows], "next_before": next_before})

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = ERR_NOT_FOUND if exc.status_code == 404 else str(exc.detail).lower().replace(" ", "_")
        return json_response({"error": code}, exc.status_code, dict(exc.headers or {}))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await opened()
        try:
            yield
        finally:
            await backend.close()

    def endpoint(handler: Handler) -> Handler:
        answered = _answers_errors(handler)

        async def checked(request: Request) -> Response:
            if not opened.done:
                await opened()
            return await answered(request)

        return checked

    routes = [
        Route("/v1/health", endpoint(health), methods=["GET"]),
        Route("/v1/sessions", endpoint(list_sessions), methods=["GET"]),
        Route("/v1/sessions/{sid}", endpoint(put_session), methods=["PUT"]),
        Route("/v1/sessions/{sid}", endpoint(get_session), methods=["GET"]),
        Route("/v1/sessions/{sid}/events", endpoint(post_events), methods=["POST"]),
        Route("/v1/sessions/{sid}/events", endpoint(get_events), methods=["GET"]),
        Route(SYNC_PATH, endpoint(post_sync), methods=["POST"]),
    ]
    app = _App(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.post_events = endpoint(post_events)
    app.state.backend = backend
    return app


def create_app(db: str | Path, tokens: list[str]) -> Starlette:
    """The sync server app over `db` (a SQLite path or a postgresql:// DSN), accepting each of
    `tokens`. The database is checked and its schema prepared here, before anything is served;
    ServerDatabaseError if it is not ours."""
    prepare_database(db)
    return build_app(make_backend(db), tokens)
