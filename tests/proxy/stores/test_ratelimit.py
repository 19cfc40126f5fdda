from __future__ import annotations

import asyncio

from mystaff_proxy.stores.ratelimit import MemoryRateLimiter


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


async def test_pruning_keeps_each_key_for_its_own_window() -> None:
    rl = MemoryRateLimiter(prune_above=100)
    now = [1000.0]
    rl._clock = lambda: now[0]
    for _ in range(3):
        assert await rl.acquire("reset:m1", 3, 3600) is None
    now[0] += 120  # the hourly window is still full; minute windows of others have passed
    for n in range(150):  # sign-ins from many addresses force a prune, with THEIR window
        assert await rl.acquire(f"signin:10.0.0.{n}", 30, 60) is None
    assert await rl.acquire("reset:m1", 3, 3600) is not None  # still limited


async def test_a_table_full_of_live_keys_is_not_rebuilt_at_every_call() -> None:
    rl = MemoryRateLimiter(prune_above=100)
    for n in range(1000):
        await rl.acquire(f"signin:{n}", 30, 60)
    assert rl._next_prune >= 1000 and len(rl._hits) == 1000
