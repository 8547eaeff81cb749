"""The sync server: Sync protocol v1 over HTTP, SQLite (WAL) underneath.

`create_app(db_path, tokens)` builds the ASGI app; `run_server` and `ServerThread` run it.
"""

from tui.server.app import create_app
from tui.server.run import ServerThread, run_server

__all__ = ["ServerThread", "create_app", "run_server"]
