"""Where SteadyChat keeps its files, from platformdirs (overridable by flags and environment)."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "steadychat"


def data_dir() -> Path:
    """The per-user data folder (e.g. ~/.local/share/steadychat on Linux)."""
    import platformdirs  # lazy: a store given by --store or STEADYCHAT_STORE never needs it

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_store_path() -> Path:
    """`STEADYCHAT_STORE`, else `<data dir>/steadychat.db`."""
    env = os.environ.get("STEADYCHAT_STORE")
    return Path(env).expanduser() if env else data_dir() / "steadychat.db"


def default_server_db_path() -> Path:
    """The embedded demo server's database, beside the store by default."""
    return data_dir() / "demo-server.db"


def bundled_flows_dir() -> Path:
    """The flows shipped with SteadyChat (the demo's among them).

    An installed wheel has them as package data, `tui/flows/`, copied at build time (setup.py)
    from the repository's `flows/`, their single source; a checkout or an editable install has no
    `tui/flows/` and reads `flows/` itself.
    """
    from importlib import resources  # lazy: only a bare flow name (`play demo`) looks here

    packaged = resources.files("tui") / "flows"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "flows"


def flow_argument(path: Path) -> Path:
    """A FLOW argument: the file when it exists, else a bundled flow named by a bare name
    (`steadychat play demo` works from any folder, and from an installed wheel)."""
    if path.exists() or len(path.parts) != 1:
        return path
    for name in (path.name, f"{path.name}.yaml"):
        bundled = bundled_flows_dir() / name
        if bundled.is_file():
            return bundled
    return path
