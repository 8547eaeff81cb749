"""The sync server: Sync protocol v1 over HTTP, on SQLite (WAL) or PostgreSQL.

`create_app(db, tokens)` builds the ASGI app; `run_server` and `ServerThread` run it;
`backend.Backend` is what a database offers the app (sqlite_backend, pg_backend).
"""

from tui.server.app import create_app
from tui.server.run import ServerThread, run_server

__all__ = ["ServerThread", "create_app", "run_server"]
