"""Retry timing: exponential backoff with full jitter, and the server's Retry-After.

Full jitter (a uniform delay in [0, min(cap, base * 2**n)]) spreads reconnecting clients so a
flapping link never turns into a synchronized storm. The backoff resets only after a healthy
period, so a link that flaps faster than that keeps backing off. Delays are plain seconds and
all scheduling happens on a monotonic clock (injectable), so wall-clock jumps neither stall nor
flood the retries; only an HTTP-date Retry-After needs the wall clock, once, to become a delay.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 3600.0
"""A Retry-After beyond this (seconds) is clamped: a hostile header must not park us for days."""


class Backoff:
    """Exponential backoff with full jitter, reset after `healthy_period` seconds of success."""

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 30.0,
        *,
        healthy_period: float = 0.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.cap = cap
        self.healthy_period = healthy_period
        self._rng = rng or random.Random()
        self._clock = clock
        self.failures = 0
        self._healthy_since: float | None = None

    def ceiling(self) -> float:
        """The upper bound of the next delay: min(cap, base * 2**failures)."""
        return min(self.cap, self.base * float(2 ** min(self.failures, 32)))

    def next(self, limit: float | None = None) -> float:
        """Record a failure and return the delay before the next attempt (full jitter).

        `limit` lowers the cap for this draw (an offline probe never waits past a heartbeat)
        while keeping the jitter spread over the whole allowed range.
        """
        ceiling = self.ceiling() if limit is None else min(self.ceiling(), limit)
        delay = self._rng.uniform(0.0, ceiling)
        self.failures += 1
        self._healthy_since = None
        return delay

    def success(self) -> None:
        """Record a success; the backoff resets once successes have lasted `healthy_period`."""
        now = self._clock()
        if self._healthy_since is None:
            self._healthy_since = now
        if now - self._healthy_since >= self.healthy_period:
            self.reset()
            self._healthy_since = now

    def reset(self) -> None:
        """Forget past failures: the next delay is drawn from [0, base] again."""
        self.failures = 0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None.

    Negative or past values give 0; unparsable values give None (the caller's backoff applies).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)
