"""Pilot tests: the fixtures are the TUI tests' one set, in tests/tui/helpers.py."""

from tests.tui.helpers import flow_file, make_app, store

__all__ = ["flow_file", "make_app", "store"]  # pytest finds fixtures by name in a conftest
