"""Where SteadyChat keeps its files, from platformdirs (overridable by flags and environment)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "steadychat"


def data_dir() -> Path:
    """The per-user data folder (e.g. ~/.local/share/steadychat on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_store_path() -> Path:
    """`STEADYCHAT_STORE`, else `<data dir>/steadychat.db`."""
    env = os.environ.get("STEADYCHAT_STORE")
    return Path(env).expanduser() if env else data_dir() / "steadychat.db"


def default_server_db_path() -> Path:
    """The embedded demo server's database, beside the store by default."""
    return data_dir() / "demo-server.db"


def bundled_flows_dir() -> Path:
    """The sample flows shipped in the repository (and in an editable install)."""
    return Path(__file__).resolve().parent.parent / "flows"
