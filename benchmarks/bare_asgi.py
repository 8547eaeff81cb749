"""The baseline of `server_vs_bare_asgi`: the least a Python server can do per POST.

A bare Starlette app under the same uvicorn (uvloop, httptools, same worker count) on the same
database: PUT answers 201 without a query; POST reads the body, decodes it with orjson, and
stores the events with ONE executemany (PostgreSQL: psycopg async pool; SQLite: WAL,
synchronous=FULL, one commit, like the real server). No auth, no validation, no idempotency.

`python -m benchmarks.bare_asgi --db DB --workers N` prints `listening on http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TABLE = "bench_bare_events"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (sid TEXT, seq BIGINT, type TEXT, ts TEXT, data TEXT, PRIMARY KEY (sid, seq))"
)


def _rows(sid: str, body: bytes) -> tuple[list[tuple[Any, ...]], int]:
    events = orjson.loads(body)["events"]
    rows = [(sid, e["seq"], e["type"], e["ts"], orjson.dumps(e["data"]).decode()) for e in events]
    return rows, events[-1]["seq"]


def _app(db: str) -> Starlette:
    async def put(_request: Request) -> Response:
        return Response(b"{}", status_code=201, media_type="application/json")

    if db.startswith("postgresql://"):
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(db, min_size=2, max_size=8, kwargs={"autocommit": True}, open=False)
        sql = f"INSERT INTO {TABLE} (sid, seq, type, ts, data) VALUES (%s, %s, %s, %s, %s)"

        async def post(request: Request) -> Response:
            rows, last = _rows(request.path_params["sid"], await request.body())
            async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                await cur.executemany(sql, rows)
            return Response(b'{"acked_seq":%d}' % last, media_type="application/json")

        async def startup() -> None:
            await pool.open()

        async def shutdown() -> None:
            await pool.close()

    else:
        conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        sql = f"INSERT INTO {TABLE} (sid, seq, type, ts, data) VALUES (?, ?, ?, ?, ?)"

        async def post(request: Request) -> Response:
            rows, last = _rows(request.path_params["sid"], await request.body())
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
            return Response(b'{"acked_seq":%d}' % last, media_type="application/json")

        async def startup() -> None:
            return None

        async def shutdown() -> None:
            conn.close()

    routes = [
        Route("/v1/sessions/{sid}", put, methods=["PUT"]),
        Route("/v1/sessions/{sid}/events", post, methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await startup()
        try:
            yield
        finally:
            await shutdown()

    return Starlette(routes=routes, lifespan=lifespan)


def app_factory() -> Starlette:
    """The app of one worker, on the database named in the environment."""
    return _app(os.environ["BENCH_BARE_DB"])


def create_table(db: str) -> None:
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(_CREATE)
    else:
        lite = sqlite3.connect(db)
        try:
            lite.execute("PRAGMA journal_mode=WAL")
            lite.execute(_CREATE)
            lite.commit()
        finally:
            lite.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_asgi")
    parser.add_argument("--db", required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    create_table(args.db)
    os.environ["BENCH_BARE_DB"] = args.db
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
    uvicorn.run(
        "benchmarks.bare_asgi:app_factory",
        factory=True,
        fd=sock.fileno(),
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
