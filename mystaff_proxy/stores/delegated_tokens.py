"""Manager mode's delegated Graph tokens, sealed, by session id (docs/manager-mode.md).

In memory for one instance; in Redis for several (``stores.redis``). Each is dropped when its
session would have expired.
"""

from __future__ import annotations

import time
from typing import Protocol


class DelegatedTokenStore(Protocol):
    """Sealed token blobs by session id."""

    async def put(self, sid: str, blob: str, ttl: float) -> None: ...

    async def get(self, sid: str) -> str | None: ...

    async def delete(self, sid: str) -> None: ...


class MemoryDelegatedTokens:
    """One instance's delegated tokens, each dropped when its session would have expired."""

    def __init__(self) -> None:
        self._blobs: dict[str, tuple[float, str]] = {}

    async def put(self, sid: str, blob: str, ttl: float) -> None:
        now = time.time()
        if len(self._blobs) > 10_000:
            self._blobs = {k: v for k, v in self._blobs.items() if v[0] > now}
        self._blobs[sid] = (now + ttl, blob)

    async def get(self, sid: str) -> str | None:
        hit = self._blobs.get(sid)
        if hit is None or hit[0] <= time.time():
            self._blobs.pop(sid, None)
            return None
        return hit[1]

    async def delete(self, sid: str) -> None:
        self._blobs.pop(sid, None)
