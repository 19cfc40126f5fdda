"""Shared state for several proxy instances behind a load balancer, in Redis.

Sessions stay in their encrypted cookies (any instance can read them); what must be shared is
what the cookie cannot carry: revoked session ids (sign-out on one instance ends the session
on all), rate-limit counters, and pending sign-ins (the callback may reach another instance),
bounded per client address as in memory (``stores.signin_flows``).
Every Redis failure fails closed: a revocation that cannot be checked refuses the session, a
rate limit that cannot be counted refuses the change, a sign-in that cannot be stored fails.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import time
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from mystaff_proxy.sealing import Sealer
from mystaff_proxy.stores.signin_flows import MAX_PENDING_PER_ADDRESS, FlowStoreUnavailable

_PREFIX = "mystaff:"

# Sliding window in one atomic step: drop old hits, count, add if under the limit.
_ACQUIRE = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
                                        tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, math.ceil(window * 1000))
return false
"""


# A pending sign-in, kept per client address: an index of that address's pending states
# (sorted by expiry: the oldest first), trimmed to the cap, expired with the flows. Flow keys
# are built in the script from ARGV[6], so this needs one Redis, not a cluster.
_PUT_FLOW = """
local index, flow = KEYS[1], KEYS[2]
local now, ttl, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
local extra = redis.call('ZCARD', index) - cap + 1
if extra > 0 then
  for _, state in ipairs(redis.call('ZRANGE', index, 0, extra - 1)) do
    redis.call('DEL', ARGV[6] .. state)
  end
  redis.call('ZREMRANGEBYRANK', index, 0, extra - 1)
end
redis.call('SET', flow, ARGV[5], 'EX', ttl)
redis.call('ZADD', index, now + ttl, ARGV[4])
redis.call('EXPIRE', index, ttl)
return math.max(extra, 0)
"""


class RedisUnavailable(Exception):
    """Redis could not be reached or answered an error; the caller fails closed."""


class RedisRevocations:
    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def revoke(self, sid: str, until: float) -> None:
        ttl = max(1, math.ceil(until - time.time()))
        try:
            await self._redis.set(f"{_PREFIX}revoked:{sid}", b"1", ex=ttl)
        except RedisError as exc:
            raise RedisUnavailable(type(exc).__name__) from None

    async def is_revoked(self, sid: str) -> bool:
        try:
            return bool(await self._redis.exists(f"{_PREFIX}revoked:{sid}"))
        except RedisError:
            return True  # cannot tell: treat the session as ended


class RedisDelegatedTokens:
    """Manager mode with several instances: each session's delegated tokens, sealed by the
    caller (``Delegation``) before they reach Redis, expiring with the session."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def put(self, sid: str, blob: str, ttl: float) -> None:
        try:
            await self._redis.set(f"{_PREFIX}delegated:{sid}", blob.encode(),
                                  ex=max(1, math.ceil(ttl)))
        except RedisError as exc:
            raise RedisUnavailable(type(exc).__name__) from None

    async def get(self, sid: str) -> str | None:
        try:
            raw = await self._redis.get(f"{_PREFIX}delegated:{sid}")
        except RedisError:
            return None  # cannot tell: the manager signs in again (fail closed)
        return raw.decode() if isinstance(raw, bytes) else None

    async def delete(self, sid: str) -> None:
        try:
            await self._redis.delete(f"{_PREFIX}delegated:{sid}")
        except RedisError as exc:
            raise RedisUnavailable(type(exc).__name__) from None


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self._script = client.register_script(_ACQUIRE)

    async def acquire(self, key: str, limit: int, window: float) -> float | None:
        member = f"{time.time():.6f}:{secrets.token_hex(4)}"
        try:
            wait = await self._script(keys=[f"{_PREFIX}rate:{key}"],
                                      args=[time.time(), window, limit, member])
        except RedisError:
            return window  # cannot count: refuse, as if the limit were reached
        return None if wait is None else max(1.0, float(wait))


class RedisFlowStore:
    """Pending sign-ins, sealed (they hold the PKCE verifier), taken with GETDEL; at most
    ``per_address`` per client address, its oldest dropped first (``stores.signin_flows``)."""

    def __init__(self, client: aioredis.Redis, sealer: Sealer, *,
                 per_address: int | None = None) -> None:
        self._redis = client
        self._sealer = sealer
        self._per_address = per_address or MAX_PENDING_PER_ADDRESS
        self._put = client.register_script(_PUT_FLOW)

    async def put(self, state: str, data: dict[str, Any], ttl: float, *,
                  address: str) -> None:
        ttl_s = max(1, math.ceil(ttl))
        sealed = self._sealer.seal({**data, "address": address})
        try:
            await self._put(keys=[f"{_PREFIX}flows:{address}", f"{_PREFIX}flow:{state}"],
                            args=[time.time(), ttl_s, self._per_address, state, sealed,
                                  f"{_PREFIX}flow:"])
        except RedisError:
            raise FlowStoreUnavailable from None

    async def take(self, state: str) -> dict[str, Any] | None:
        try:
            raw = await self._redis.getdel(f"{_PREFIX}flow:{state}")
        except RedisError:
            return None
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        data = self._sealer.open(text)
        if data is not None:
            address = data.pop("address", None)
            if isinstance(address, str):
                # Free its place at once; if this fails it expires or is trimmed anyway.
                with contextlib.suppress(RedisError):
                    await self._redis.zrem(f"{_PREFIX}flows:{address}", state)
        return data


def connect(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


