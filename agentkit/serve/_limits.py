"""Per-key request rate (token bucket) and token quota (a rolling window, one day by default)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._keys import ApiKey

Clock = Callable[[], float]


@dataclass
class TokenBucket:
    """`rate` tokens per second up to `capacity`; `take()` returns 0 when allowed, else seconds to wait."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def take(self, now: float, amount: float = 1.0) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= amount:
            self.tokens -= amount
            return 0.0
        return (amount - self.tokens) / self.rate


@dataclass
class _Quota:
    window_start: float
    used: int = 0


class Limiter:
    """Rate limits and quotas of every key, in memory (they restart with the server)."""

    def __init__(self, *, quota_window_s: float = 86_400.0, clock: Clock = time.monotonic) -> None:
        self.quota_window_s = quota_window_s
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._quotas: dict[str, _Quota] = {}
        self._lock = threading.Lock()

    def check_rate(self, key: ApiKey) -> float | None:
        """None when the request may go, else the seconds after which to retry."""
        if key.requests_per_minute is None:
            return None
        now = self._clock()
        rate = key.requests_per_minute / 60.0
        with self._lock:
            bucket = self._buckets.get(key.id)
            if bucket is None:
                capacity = float(key.burst or max(1, math.floor(key.requests_per_minute)))
                bucket = self._buckets[key.id] = TokenBucket(rate, capacity, capacity, now)
            wait = bucket.take(now)
        return wait or None

    def check_quota(self, key: ApiKey) -> float | None:
        """None while the key has tokens left in its window, else the seconds until the window resets."""
        if key.tokens_per_day is None:
            return None
        with self._lock:
            quota = self._quota(key)
            if quota.used < key.tokens_per_day:
                return None
            return max(1.0, quota.window_start + self.quota_window_s - self._clock())

    def charge(self, key: ApiKey, tokens: int) -> None:
        if key.tokens_per_day is None or tokens <= 0:
            return
        with self._lock:
            self._quota(key).used += tokens

    def used(self, key: ApiKey) -> int:
        with self._lock:
            return self._quota(key).used

    def _quota(self, key: ApiKey) -> _Quota:
        now = self._clock()
        quota = self._quotas.get(key.id)
        if quota is None or now - quota.window_start >= self.quota_window_s:
            quota = self._quotas[key.id] = _Quota(window_start=now)
        return quota
