"""The sync server's HTTP face: Sync protocol v1 as an ASGI app (FastAPI).

Every request is authenticated first (401), then its path and body are validated (404/413/422),
and only then does the database see it, so malformed, oversized or unauthorized requests change
nothing. Bodies are read here with a byte cap instead of trusting Content-Length. Decisions:

- A sid that is not 32 lowercase hex digits is answered 404: it names no session that can exist.
- Another token's session answers exactly like an unknown one (404), including on PUT. Session
  ids are random 128-bit uuids, so refusing a PUT on a foreign sid reveals nothing guessable.
- `limit` above 500 is clamped to 500; a non-integer or negative `after`/`limit` is 422.
- `GET /v1/sessions` lists only the caller's sessions (newest first); `before` is the
  `next_before` cursor of the previous page (or a bare `updated_at`); over 200 characters is 422.
- A database that is locked or failing answers 503 with `Retry-After: 1`.
- The OpenAPI/docs routes are off: they would be the only unauthenticated pages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from tui.server.db import ListedSession, NotFound, Rejected, ServerDB, StoredSession
from tui.sync.protocol import (
    ERR_INVALID,
    ERR_NOT_FOUND,
    ERR_TOO_LARGE,
    ERR_UNAUTHORIZED,
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    EventBatch,
    SessionInfo,
    SessionList,
    SessionMeta,
    valid_sid,
)


class ApiError(Exception):
    """An answer with a JSON error body: `{"error": code, ...extra}`."""

    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"error": error, **extra}
        self.headers = headers


def _too_large(what: str) -> ApiError:
    return ApiError(413, ERR_TOO_LARGE, detail=what)


def _invalid(detail: Any) -> ApiError:
    return ApiError(422, ERR_INVALID, detail=detail)


class _Auth:
    """Bearer-token check against the configured tokens; owners are sha256 hex of the token."""

    def __init__(self, tokens: list[str]) -> None:
        if any(not t for t in tokens):
            raise ValueError("empty token")
        self._tokens = [t.encode() for t in tokens]

    def owner(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        presented = value.strip().encode("utf-8", "surrogateescape")
        match: bytes | None = None
        if scheme.lower() == "bearer" and presented:
            for token in self._tokens:  # no early exit: timing says nothing about which token
                if hmac.compare_digest(presented, token):
                    match = token
        if match is None:
            raise ApiError(401, ERR_UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
        return hashlib.sha256(match).hexdigest()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def _read_json(request: Request) -> Any:
    """The body as JSON, read with a 1 MiB cap (413) and parsed strictly (422)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise _invalid("bad Content-Length")
        if int(declared) > MAX_BODY_BYTES:
            raise _too_large(f"body over {MAX_BODY_BYTES} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise _too_large(f"body over {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(bytes(raw), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _invalid(f"body is not JSON: {type(exc).__name__}") from None


def _validate(model: type[Any], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc.errors(include_url=False, include_input=False, include_context=False)) from None
    except RecursionError:
        raise _invalid("body nested too deeply") from None


def _int_param(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise _invalid(f"{name} must be a non-negative integer")
    return int(text)


def _checked_sid(sid: str) -> str:
    if not valid_sid(sid):
        raise ApiError(404, ERR_NOT_FOUND)
    return sid


def _info(session: StoredSession) -> dict[str, Any]:
    return SessionInfo(sid=session.sid, last_seq=session.last_seq, **session.meta).model_dump()


def _listing(rows: list[ListedSession], limit: int) -> dict[str, Any]:
    sessions = [
        {
            "id": row.sid,
            "flow_id": str(row.meta.get("flow_id", "")),
            "flow_hash": str(row.meta.get("flow_hash", "")),
            "device_id": str(row.meta.get("device_id", "")),
            "created_at": str(row.meta.get("created_at", "")),
            "last_seq": row.last_seq,
            "updated_at": row.updated_at,
        }
        for row in rows
    ]
    next_before = rows[-1].cursor if len(rows) == limit else None
    return SessionList.model_validate({"sessions": sessions, "next_before": next_before}).model_dump()


def create_app(db_path: str | Path, tokens: list[str]) -> FastAPI:
    """The sync server app over the SQLite file `db_path`, accepting each of `tokens`."""
    db = ServerDB(db_path)
    auth = _Auth(list(tokens))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            db.close()

    app = FastAPI(title="steadychat sync", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db = db

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = ERR_NOT_FOUND if exc.status_code == 404 else str(exc.detail).lower().replace(" ", "_")
        return JSONResponse({"error": code}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": ERR_INVALID, "detail": str(exc)}, status_code=422)

    @app.exception_handler(sqlite3.OperationalError)
    async def _db_busy(_request: Request, _exc: sqlite3.OperationalError) -> JSONResponse:
        return JSONResponse({"error": "unavailable"}, status_code=503, headers={"Retry-After": "1"})

    @app.get("/v1/health")
    async def health(request: Request) -> dict[str, bool]:
        auth.owner(request)
        return {"ok": True}

    @app.put("/v1/sessions/{sid}")
    async def put_session(sid: str, request: Request) -> JSONResponse:
        owner = auth.owner(request)
        _checked_sid(sid)
        meta: SessionMeta = _validate(SessionMeta, await _read_json(request))
        try:
            created, session = await run_in_threadpool(db.register, sid, owner, meta.model_dump())
        except NotFound:
            raise ApiError(404, ERR_NOT_FOUND) from None
        except Rejected as exc:
            raise ApiError(409, exc.error, acked_seq=exc.acked_seq) from None
        return JSONResponse(_info(session), status_code=201 if created else 200)

    @app.post("/v1/sessions/{sid}/events")
    async def post_events(sid: str, request: Request) -> dict[str, int]:
        owner = auth.owner(request)
        _checked_sid(sid)
        body = await _read_json(request)
        if isinstance(body, dict) and isinstance(body.get("events"), list):
            if len(body["events"]) > MAX_BATCH_EVENTS:
                raise _too_large(f"more than {MAX_BATCH_EVENTS} events")
        batch: EventBatch = _validate(EventBatch, body)
        try:
            acked = await run_in_threadpool(db.append, sid, owner, batch.events)
        except NotFound:
            raise ApiError(404, ERR_NOT_FOUND) from None
        except Rejected as exc:
            raise ApiError(409, exc.error, acked_seq=exc.acked_seq) from None
        return {"acked_seq": acked}

    @app.get("/v1/sessions")
    async def list_sessions(request: Request) -> dict[str, Any]:
        owner = auth.owner(request)
        limit = _int_param(request, "limit", 50)
        if limit < 1:
            raise _invalid("limit must be at least 1")
        limit = min(limit, MAX_BATCH_EVENTS)
        before = request.query_params.get("before") or None
        if before is not None and len(before) > 200:
            raise _invalid("before must be a cursor from next_before")
        rows = await run_in_threadpool(db.list_sessions, owner, before, limit)
        return _listing(rows, limit)

    @app.get("/v1/sessions/{sid}")
    async def get_session(sid: str, request: Request) -> dict[str, Any]:
        owner = auth.owner(request)
        _checked_sid(sid)
        try:
            session = await run_in_threadpool(db.get_session, sid, owner)
        except NotFound:
            raise ApiError(404, ERR_NOT_FOUND) from None
        return _info(session)

    @app.get("/v1/sessions/{sid}/events")
    async def get_events(sid: str, request: Request) -> Response:
        owner = auth.owner(request)
        _checked_sid(sid)
        after = _int_param(request, "after", 0)
        limit = _int_param(request, "limit", MAX_BATCH_EVENTS)
        if limit < 1:
            raise _invalid("limit must be at least 1")
        limit = min(limit, MAX_BATCH_EVENTS)
        try:
            events = await run_in_threadpool(db.events, sid, owner, after, limit)
        except NotFound:
            raise ApiError(404, ERR_NOT_FOUND) from None
        return JSONResponse({"events": events})

    return app
