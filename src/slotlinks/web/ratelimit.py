"""Rate limits: small in-process token buckets keyed by client (or username).

Each key has a bucket of `attempts` tokens that refills at `attempts / window` tokens per second; an
attempt takes one token, and an empty bucket answers how long until the next token (the Retry-After
that a caller raises as `errors.RateLimited`). Used for booking attempts per client (the portal's hold
and book POSTs) and for failed staff sign-ins per client and per username.

The buckets live in the process: several server processes each allow the full rate. That bounds abuse
cheaply without a shared store; a deployment that needs a global limit puts one in its proxy.

The client is the TCP peer, unless the server is configured as behind a trusted proxy: then it is the
last address of X-Forwarded-For (the one that proxy saw). Without that setting the header is ignored,
since any client can send it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "client_key", "wait_in_words"]

# Buckets kept at most; beyond it, full (idle) buckets are dropped first, then the oldest.
MAX_KEYS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets of `attempts` per `window_seconds`, one per key. Thread-safe."""

    def __init__(self, attempts: int, window_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if attempts < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs at least one attempt per positive window")
        self.capacity = float(attempts)
        self.rate = attempts / window_seconds
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket

    def _wait(self, bucket: _Bucket) -> int:
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))

    def take(self, key: str) -> int:
        """Takes one token from `key`'s bucket: 0 when the attempt is allowed, else the seconds to wait
        (nothing taken)."""
        with self._lock:
            bucket = self._refilled(key, self.clock())
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return self._wait(bucket)

    def check(self, key: str) -> int:
        """Like `take`, but takes nothing: 0 when an attempt would be allowed, else the seconds to wait."""
        with self._lock:
            bucket = self._refilled(key, self.clock())
            return 0 if bucket.tokens >= 1.0 else self._wait(bucket)

    def refund(self, key: str) -> None:
        """Gives back a token taken for an attempt that turned out not to count (e.g. a sign-in that
        succeeded: only failed ones are limited). Taking first, then refunding, keeps parallel
        attempts from slipping past the limit."""
        with self._lock:
            bucket = self._refilled(key, self.clock())
            bucket.tokens = min(self.capacity, bucket.tokens + 1.0)

    def _prune(self, now: float) -> None:
        idle = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.capacity]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= MAX_KEYS:
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].at)[: len(self._buckets) // 2]
            for key in oldest:
                del self._buckets[key]


def client_key(peer: str | None, forwarded_for: str | None, *, behind_proxy: bool) -> str:
    """The client an attempt is counted against: the peer address, or behind a trusted proxy the last
    X-Forwarded-For entry (the address that proxy saw)."""
    if behind_proxy and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return peer or "unknown"


def wait_in_words(seconds: int) -> str:
    """A Retry-After wait as a page says it: "a minute", "5 minutes" (rounded up, at least a minute)."""
    minutes = max(1, -(-seconds // 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"
