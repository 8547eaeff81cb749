"""Which backend serves `--db`: a postgresql:// DSN or a SQLite file path.

Its own module, above `backend` and the two implementations, so that `backend` (the interface and
the shared helpers) never imports the implementations that build on it: no import cycle.
"""

from __future__ import annotations

from pathlib import Path

from tui.server.backend import Backend


def is_postgres(target: str | Path) -> bool:
    """Does `--db` name a PostgreSQL database rather than a SQLite file?"""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def make_backend(target: str | Path) -> Backend:
    """The backend for `--db`: a postgresql:// DSN or a SQLite file path."""
    if is_postgres(target):
        from tui.server.pg_backend import PostgresBackend

        return PostgresBackend(str(target))
    from tui.server.sqlite_backend import SQLiteBackend

    return SQLiteBackend(Path(target))


def prepare_database(target: str | Path) -> str:
    """Check the database is ours (or new), then create or migrate its schema, once, before any
    worker starts. Returns a short description for the start-up line. ServerDatabaseError else."""
    if is_postgres(target):
        from tui.server.pg_backend import prepare_postgres

        return prepare_postgres(str(target))
    from tui.server.sqlite_backend import prepare_sqlite

    return prepare_sqlite(Path(target))
