"""Sliding-window rate limits: per manager for changes, per client address for sign-ins.

``acquire`` checks and takes a slot in one step, so two concurrent requests cannot both take
the last one. ``RateLimiter`` is the seam where a shared store plugs in for several instances.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol


class RateLimiter(Protocol):
    async def acquire(self, key: str, limit: int, window: float) -> float | None:
        """Take a slot: None if allowed, else the seconds until one frees up."""
        ...


class MemoryRateLimiter:
    """One instance's counters; old entries fall out as their window passes."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._clock = time.monotonic

    async def acquire(self, key: str, limit: int, window: float) -> float | None:
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return max(1.0, hits[0] + window - now)
        hits.append(now)
        if len(self._hits) > 50_000:
            self._prune(now, window)
        return None

    def _prune(self, now: float, window: float) -> None:
        self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - window}
