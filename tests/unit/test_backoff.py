"""Backoff: full jitter within [0, min(cap, base·2^n)], reset only after a healthy period."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from tui.sync.backoff import MAX_RETRY_AFTER, Backoff, parse_retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_full_jitter_stays_within_the_growing_ceiling_and_the_cap() -> None:
    backoff = Backoff(0.5, 30.0, rng=random.Random(7))
    ceilings = []
    for _ in range(12):
        ceiling = backoff.ceiling()
        delay = backoff.next()
        assert 0.0 <= delay <= ceiling
        ceilings.append(ceiling)
    assert ceilings[:7] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert set(ceilings[6:]) == {30.0}


def test_jitter_spreads_delays_and_is_reproducible_with_a_seed() -> None:
    def delays(seed: int) -> list[float]:
        backoff = Backoff(rng=random.Random(seed))
        for _ in range(6):
            backoff.next()
        return [backoff.next() for _ in range(20)]  # all drawn from [0, 30]

    first = delays(1)
    assert first == delays(1)
    assert len(set(first)) == 20 and min(first) < 15 < max(first)


def test_many_failures_do_not_overflow() -> None:
    backoff = Backoff(rng=random.Random(0))
    for _ in range(10_000):
        assert backoff.next() <= 30.0


def test_reset_only_after_a_healthy_period() -> None:
    clock = Clock()
    backoff = Backoff(0.5, 30.0, healthy_period=5.0, rng=random.Random(0), clock=clock)
    for _ in range(5):
        backoff.next()
    assert backoff.ceiling() == 16.0
    backoff.success()  # first success after failures: not yet healthy
    clock.now += 2.0
    backoff.success()
    assert backoff.failures == 5
    backoff.next()  # flap: the healthy period starts over
    clock.now += 1.0
    backoff.success()
    clock.now += 4.9
    backoff.success()
    assert backoff.failures == 6
    clock.now += 0.2
    backoff.success()
    assert backoff.failures == 0 and backoff.ceiling() == 0.5


def test_explicit_reset() -> None:
    backoff = Backoff(rng=random.Random(0))
    backoff.next()
    backoff.next()
    backoff.reset()
    assert backoff.ceiling() == 0.5


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=42), usegmt=True), now=now) == 42.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=42), usegmt=True), now=now) == 0.0
    assert parse_retry_after("99999999") == MAX_RETRY_AFTER
    for garbage in (None, "", "-3", "soon", "1.5", "Mon, 99 Foo 2026"):
        assert parse_retry_after(garbage, now=now) is None
