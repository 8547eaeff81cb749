"""The project's own suite loads SteadyChat's pytest plugin from this checkout (so `flows/*.chat.yaml`
run even before `pip install` registers its `pytest11` entry point, of the same name) and pytester."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester", "pytest_steadychat"]

# `-n auto` (pyproject addopts) runs one worker per CPU, at most this many: the tests start servers,
# subprocesses and PostgreSQL databases of their own, and more workers than that only queue on them.
MAX_WORKERS = 4


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook; without xdist, there are no workers
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """The worker count for `-n auto`: every CPU this process may use, capped at MAX_WORKERS."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))
