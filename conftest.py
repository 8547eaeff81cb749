"""The project's own suite loads SteadyChat's pytest plugin from this checkout (so `flows/*.chat.yaml`
run even before `pip install` registers its `pytest11` entry point, of the same name) and pytester."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester", "pytest_steadychat"]

# `-n auto` (pyproject addopts) runs two workers per CPU, at most this many. Most tests spend their
# time waiting on a subprocess, a server or PostgreSQL, so two per core keep the cores busy: on 2 cores
# the suite took 5m21 with 2 workers and 3m44 with 4 (quiet machine). More than this only queues.
MAX_WORKERS = 4
WORKERS_PER_CPU = 2


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook; without xdist, there are no workers
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """The worker count for `-n auto`: two per CPU this process may use, capped at MAX_WORKERS."""
    return max(1, min(WORKERS_PER_CPU * len(os.sched_getaffinity(0)), MAX_WORKERS))
