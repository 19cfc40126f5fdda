"""The stores the settings ask for: in memory (and a file) for one instance, Redis for several.

``[session] backend = "redis"`` shares revocations, rate limits, pending sign-ins and manager
mode's delegated tokens between instances; otherwise each instance keeps its own, with
signed-out sessions also in ``[session] revocations_path`` so that a restart does not revive
them (README, "Running several instances").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mystaff_proxy.config import Settings
from mystaff_proxy.sealing import Sealer
from mystaff_proxy.stores.delegated_tokens import DelegatedTokenStore, MemoryDelegatedTokens
from mystaff_proxy.stores.ratelimit import MemoryRateLimiter, RateLimiter
from mystaff_proxy.stores.revocations import FileRevocations, RevocationStore
from mystaff_proxy.stores.signin_flows import FlowStore


@dataclass
class Stores:
    limiter: RateLimiter
    revocations: RevocationStore
    delegated: DelegatedTokenStore
    #: None: the sign-in keeps its own in memory.
    flows: FlowStore | None = None
    #: What to close at shutdown (the Redis connection).
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)


def open_stores(settings: Settings) -> Stores:
    """Raises RuntimeError naming the setting when a one-instance file cannot be kept."""
    if settings.session.backend == "redis":
        # Several instances: revocations, rate limits and pending sign-ins are shared.
        from mystaff_proxy.stores.redis import (
            RedisDelegatedTokens,
            RedisFlowStore,
            RedisRateLimiter,
            RedisRevocations,
            connect,
        )

        redis = connect(settings.session.redis_url)
        return Stores(limiter=RedisRateLimiter(redis), revocations=RedisRevocations(redis),
                      delegated=RedisDelegatedTokens(redis),
                      flows=RedisFlowStore(redis, Sealer(settings.session.secret_bytes,
                                                         b"flow-v1")),
                      closers=[redis.aclose])
    # One instance: signed-out ids in a file too, or a restart would revive them.
    try:
        revocations = FileRevocations(settings.revocations_path)
    except OSError as exc:
        raise RuntimeError(f"[session] revocations_path: cannot keep signed-out sessions "
                           f"in {settings.revocations_path!r}: {exc.strerror}") from None
    return Stores(limiter=MemoryRateLimiter(), revocations=revocations,
                  delegated=MemoryDelegatedTokens())
