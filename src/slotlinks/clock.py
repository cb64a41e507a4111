"""Time as a dependency: services take a `Clock` so expiry and `_since` are testable without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "FixedClock", "now_ms", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def now_ms(clock: Clock) -> int:
    """`clock`'s time in milliseconds since the epoch, as stored."""
    return int(clock().timestamp() * 1000)


class FixedClock:
    """A clock for tests: returns a set time until moved."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)
