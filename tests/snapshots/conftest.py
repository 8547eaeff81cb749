"""Snapshots: the same fixtures as the pilot tests (tests/tui/helpers.py), one set for both."""

from tests.tui.helpers import flow_file, make_app, store

__all__ = ["flow_file", "make_app", "store"]  # pytest finds fixtures by name in a conftest
