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

    def __init__(self, *, prune_above: int = 50_000) -> None:
        # key -> (its window, its hits): each key is pruned by its OWN window. Pruning by the
        # caller's window let a 60 s sign-in call drop managers' hourly windows (their limits
        # started over); found by the memory soak review.
        self._hits: dict[str, tuple[float, deque[float]]] = {}
        self._clock = time.monotonic
        self._prune_above = prune_above
        self._next_prune = prune_above

    async def acquire(self, key: str, limit: int, window: float) -> float | None:
        now = self._clock()
        _, hits = self._hits.setdefault(key, (window, deque()))
        self._hits[key] = (window, hits)
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return max(1.0, hits[0] + window - now)
        hits.append(now)
        if len(self._hits) > self._next_prune:
            self._prune(now)
        return None

    def _prune(self, now: float) -> None:
        self._hits = {k: (w, v) for k, (w, v) in self._hits.items() if v and v[-1] > now - w}
        # Many keys still live (a flood of client addresses): prune again only once the
        # table has doubled, not at every call.
        self._next_prune = max(self._prune_above, 2 * len(self._hits))
