"""Pilot-test fixtures: a tmp store, fixed clock and ids, no typing pause, no blink, no animation."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui.app.app import SteadyChatApp
from tui.app.testing import build_app
from tui.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "store.db")
    yield opened
    opened.close()


@pytest.fixture
def flow_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write a small YAML flow to a tmp file and return its path."""
    counter = iter(range(1000))

    def write(text: str) -> Path:
        path = tmp_path / f"flow{next(counter)}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_app(store: Store) -> Iterator[Callable[..., SteadyChatApp]]:
    """Build apps on the tmp store; their sessions are closed (locks released) afterwards."""
    apps: list[SteadyChatApp] = []

    def make(flow: Any = None, **settings: Any) -> SteadyChatApp:
        app = build_app(store, flow, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.session.close()
