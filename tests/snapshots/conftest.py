"""Snapshot fixtures: a tmp store per test; sessions are closed afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui.app.app import SteadyChatApp
from tui.app.testing import build_app
from tui.store import Store


@pytest.fixture
def snap_store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "store.db")
    yield opened
    opened.close()


@pytest.fixture
def snap_app(snap_store: Store) -> Iterator[Callable[..., SteadyChatApp]]:
    apps: list[SteadyChatApp] = []

    def make(flow: Any = None, **settings: Any) -> SteadyChatApp:
        app = build_app(snap_store, flow, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.session.close()
