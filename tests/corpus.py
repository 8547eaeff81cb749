"""Where the Typebot example corpus lives, so tests can use it when present and skip otherwise."""

from __future__ import annotations

import os
from pathlib import Path


def corpus_dir() -> Path | None:
    """The Typebot corpus folder: $STEADYCHAT_CORPUS, else ../shared/corpus/typebot; None if absent."""
    override = os.environ.get("STEADYCHAT_CORPUS")
    folder = Path(override) if override else Path(__file__).resolve().parents[1].parent / "shared/corpus/typebot"
    return folder if folder.is_dir() else None
