"""Pending sign-ins (state, nonce, PKCE verifier) by ``state``, single-use and bounded.

Anyone can start a sign-in, so the pending ones are bounded per client address (an IPv6 /64
counts as one): starting more drops that address's oldest, and a flood from some addresses
never pushes out anyone else's (README, "Sign-in"). In memory for one instance; in Redis for
several (``stores.redis``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Protocol

# Pending sign-ins per client address. A sign-in takes ~30 s at Entra, so a busy shared
# address (a shop's or a whole company's NAT) can start ~128 a minute before one still in
# progress is pushed out; a flood from one address pushes out only that address's own.
MAX_PENDING_PER_ADDRESS = 64
# All pending sign-ins of one instance: a memory safety net (1.1 KB each, measured with
# tracemalloc: ~110 MB at most) that only more than 1,500 addresses at their cap reach.
MAX_PENDING = 100_000


class FlowStoreUnavailable(Exception):
    """A pending sign-in could not be stored (a shared store is down): sign-in fails closed."""


class FlowStore(Protocol):
    """Pending sign-ins by ``state``: ``take`` returns a flow once, then never again.
    ``address`` is the client's address block (netaddr.address_block): each holds at most
    MAX_PENDING_PER_ADDRESS, its oldest dropped first. ``put`` raises
    ``FlowStoreUnavailable`` when it cannot store the flow."""

    async def put(self, state: str, data: dict[str, Any], ttl: float, *,
                  address: str) -> None: ...

    async def take(self, state: str) -> dict[str, Any] | None: ...


class MemoryFlowStore:
    """One instance's pending sign-ins, bounded per client address and in total.

    A full address drops its own oldest pending sign-in. The total bound is a safety net
    that only a great many addresses reach; even then the oldest pending sign-in of all is
    dropped instead of refusing everyone (the store answered "too many sign-ins in
    progress" to every manager once a flood had filled it)."""

    def __init__(self, *, per_address: int = MAX_PENDING_PER_ADDRESS,
                 total: int = MAX_PENDING) -> None:
        self._per_address = per_address
        self._total = total
        # state -> (expiry, address, flow), in the order started: all share one lifetime,
        # so the expired ones and the oldest are at the front.
        self._flows: OrderedDict[str, tuple[float, str, dict[str, Any]]] = OrderedDict()
        self._by_address: dict[str, OrderedDict[str, None]] = {}

    def __len__(self) -> int:
        return len(self._flows)

    def pending(self, address: str) -> int:
        return len(self._by_address.get(address, ()))

    async def put(self, state: str, data: dict[str, Any], ttl: float, *,
                  address: str) -> None:
        now = time.time()
        self._remove(state)
        while self._flows:
            oldest, (expiry, _, _) = next(iter(self._flows.items()))
            if expiry > now:
                break
            self._remove(oldest)
        mine = self._by_address.get(address)
        while mine and len(mine) >= self._per_address:
            self._remove(next(iter(mine)))
        while len(self._flows) >= self._total:
            self._remove(next(iter(self._flows)))
        self._flows[state] = (now + ttl, address, data)
        self._by_address.setdefault(address, OrderedDict())[state] = None

    async def take(self, state: str) -> dict[str, Any] | None:
        entry = self._flows.get(state)
        self._remove(state)
        if entry is None or entry[0] < time.time():
            return None
        return entry[2]

    def _remove(self, state: str) -> None:
        entry = self._flows.pop(state, None)
        if entry is None:
            return
        mine = self._by_address.get(entry[1])
        if mine is not None:
            mine.pop(state, None)
            if not mine:
                del self._by_address[entry[1]]
