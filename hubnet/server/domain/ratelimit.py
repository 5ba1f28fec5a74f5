"""Token buckets keyed by an opaque string (a credential's hash, a client address). Pure: the clock is passed in.

Memory stays bounded: at most `max_keys` buckets; when full, buckets that have refilled completely (idle keys,
indistinguishable from new ones) are dropped first, then the least recently used, down to 90 % of the cap.
"""

from __future__ import annotations

import math
from collections import OrderedDict


class Buckets:
    """`take(key, now)` -> 0.0 when allowed, else the seconds until one request would be allowed again."""

    def __init__(self, rate: float, burst: float, *, max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.max_keys = rate, float(burst), max_keys
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, updated)

    def level(self, key: str, now: float) -> float:
        tokens, updated = self._state.get(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - updated) * self.rate)

    def take(self, key: str, now: float, cost: float = 1.0) -> float:
        tokens = self.level(key, now)
        if tokens < cost:
            self._store(key, tokens, now)
            return (cost - tokens) / self.rate
        self._store(key, tokens - cost, now)
        return 0.0

    def empty(self, key: str, now: float) -> float:
        """Like `take` without spending: the wait before one request is allowed (0.0 when it is)."""
        tokens = self.level(key, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._state[key] = (tokens, now)
        self._state.move_to_end(key)
        if len(self._state) > self.max_keys:
            self._prune(now)

    def _prune(self, now: float) -> None:
        full = [k for k in self._state if self.level(k, now) >= self.burst]
        for key in full:
            del self._state[key]
        while len(self._state) > self.max_keys * 0.9:  # headroom: the scan above runs once per 10 % of max_keys
            self._state.popitem(last=False)

    def __len__(self) -> int:
        return len(self._state)


def retry_after(seconds: float) -> int:
    """Whole seconds for the `Retry-After` header: never 0 for a refused request."""
    return max(1, math.ceil(seconds))
