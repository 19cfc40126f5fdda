from __future__ import annotations

import asyncio

from mystaff_proxy.ratelimit import MemoryRateLimiter


async def test_limit_then_retry_after() -> None:
    rl = MemoryRateLimiter()
    now = [1000.0]
    rl._clock = lambda: now[0]
    for _ in range(3):
        assert await rl.acquire("m1:reset", 3, 3600) is None
    wait = await rl.acquire("m1:reset", 3, 3600)
    assert wait is not None and 3590 <= wait <= 3600
    assert await rl.acquire("m2:reset", 3, 3600) is None  # per key
    now[0] += 3601
    assert await rl.acquire("m1:reset", 3, 3600) is None


async def test_concurrent_acquires_never_exceed_the_limit() -> None:
    rl = MemoryRateLimiter()
    results = await asyncio.gather(*(rl.acquire("k", 10, 60) for _ in range(50)))
    assert sum(r is None for r in results) == 10
