"""Rate limits: small in-process token buckets keyed by client, and growing delays keyed by account.

Each key has a bucket of `attempts` tokens that refills at `attempts / window` tokens per second; an
attempt takes one token, and an empty bucket answers how long until the next token (the Retry-After
that a caller raises as `errors.RateLimited`). Used for booking attempts per client (the portal's hold
and book POSTs) and for failed staff sign-ins per client.

`Backoff` slows rather than refuses: it counts a key's recent failures (forgiving one per
`window / free` seconds) and, past `free` of them, answers a delay that doubles with each further
failure up to a cap. Staff sign-ins use it per username, because a refusal keyed by something a
stranger can name (the account) lets that stranger lock the real user out from many addresses; a
capped delay costs the real user a few seconds at worst and still makes every guess slow.

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

__all__ = ["Backoff", "RateLimiter", "client_key", "wait_in_words"]

# Buckets kept at most; beyond it, full (idle) buckets are dropped first, then the oldest.
MAX_KEYS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


def _make_room(entries: dict[str, _Bucket], idle: Callable[[_Bucket], bool]) -> None:
    """Drops the entries that would read as new anyway; if that is not enough, the older half."""
    for key in [k for k, entry in entries.items() if idle(entry)]:
        del entries[key]
    if len(entries) >= MAX_KEYS:
        for key in sorted(entries, key=lambda k: entries[k].at)[: len(entries) // 2]:
            del entries[key]


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
        _make_room(self._buckets, lambda b: b.tokens + (now - b.at) * self.rate >= self.capacity)


class Backoff:
    """Per-key delays growing with recent failures: none for the first `free`, then `first_delay`
    seconds doubling with each further failure, never more than `max_delay`. Thread-safe."""

    def __init__(
        self,
        free: int,
        window_seconds: float,
        *,
        max_delay: float,
        first_delay: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if free < 1 or window_seconds <= 0 or max_delay < 0 or first_delay < 0:
            raise ValueError("a backoff needs at least one free failure, a positive window and delays >= 0")
        self.free = float(free)
        self.rate = free / window_seconds  # failures forgiven per second
        self.first_delay = min(first_delay, max_delay)
        self.max_delay = max_delay
        self.clock = clock
        # The same bookkeeping as a bucket, counting failures instead of tokens.
        self._failures: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _decayed(self, key: str, now: float) -> _Bucket:
        entry = self._failures.get(key)
        if entry is None:
            if len(self._failures) >= MAX_KEYS:
                self._prune(now)
            entry = self._failures[key] = _Bucket(0.0, now)
        else:
            entry.tokens = max(0.0, entry.tokens - (now - entry.at) * self.rate)
            entry.at = now
        return entry

    def delay(self, key: str) -> float:
        """Seconds to wait before `key`'s next attempt is looked at (0 while under `free` failures)."""
        with self._lock:
            beyond = self._decayed(key, self.clock()).tokens - self.free
        if beyond < 0:
            return 0.0
        # Capping the exponent first keeps 2 ** n finite however long an attack goes on.
        return min(self.max_delay, self.first_delay * math.pow(2.0, min(beyond, 64.0)))

    def fail(self, key: str) -> None:
        """Counts one failure against `key`."""
        with self._lock:
            self._decayed(key, self.clock()).tokens += 1.0

    def _prune(self, now: float) -> None:
        _make_room(self._failures, lambda e: e.tokens - (now - e.at) * self.rate <= 0)


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
