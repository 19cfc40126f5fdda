"""Pending sign-ins (signin.MemoryFlowStore): single-use, and bounded per client address so
that a flood of sign-in starts from some addresses never pushes out anyone else's."""

from __future__ import annotations

import time

import pytest

from mystaff_proxy.netaddr import address_block
from mystaff_proxy.stores.signin_flows import MAX_PENDING, MAX_PENDING_PER_ADDRESS, MemoryFlowStore


def _flow(i: int) -> dict[str, object]:
    return {"flow": {"state": f"s{i}"}, "browser": "b", "next": "/"}


async def test_a_flow_is_taken_once() -> None:
    store = MemoryFlowStore()
    await store.put("s1", _flow(1), 600, address="203.0.113.1")
    assert await store.take("s1") == _flow(1)
    assert await store.take("s1") is None
    assert len(store) == 0 and store.pending("203.0.113.1") == 0


async def test_an_expired_flow_is_not_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryFlowStore()
    await store.put("s1", _flow(1), 600, address="203.0.113.1")
    later = time.time() + 601
    monkeypatch.setattr(time, "time", lambda: later)
    assert await store.take("s1") is None


async def test_one_address_holds_at_most_its_share_oldest_dropped_first() -> None:
    store = MemoryFlowStore(per_address=5)
    for i in range(12):
        await store.put(f"s{i}", _flow(i), 600, address="203.0.113.1")
    assert store.pending("203.0.113.1") == 5 and len(store) == 5
    assert [await store.take(f"s{i}") is not None for i in range(12)] == [False] * 7 + [True] * 5


async def test_a_flood_from_hundreds_of_addresses_locks_nobody_out() -> None:
    """The pen test's flood: 10,000 sign-in starts from 300 addresses filled the old global
    store (10,000) and every manager got "Too many sign-ins in progress"."""
    store = MemoryFlowStore()
    for i in range(10_000):
        await store.put(f"flood{i}", _flow(i), 600, address=f"198.51.{i % 300 // 256}.{i % 256}")
    assert len(store) <= 300 * MAX_PENDING_PER_ADDRESS < MAX_PENDING
    await store.put("manager", _flow(-1), 600, address="203.0.113.7")
    assert await store.take("manager") == _flow(-1)


async def test_the_total_bound_drops_the_oldest_instead_of_refusing() -> None:
    store = MemoryFlowStore(per_address=3, total=10)
    for i in range(30):
        await store.put(f"s{i}", _flow(i), 600, address=f"198.51.100.{i}")
    assert len(store) == 10
    await store.put("manager", _flow(-1), 600, address="203.0.113.7")
    assert await store.take("manager") == _flow(-1)
    assert await store.take("s0") is None and await store.take("s29") == _flow(29)


async def test_expired_flows_make_room_first(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryFlowStore(per_address=2)
    await store.put("old", _flow(0), 10, address="203.0.113.1")
    now = time.time() + 11
    monkeypatch.setattr(time, "time", lambda: now)
    await store.put("new", _flow(1), 600, address="203.0.113.1")
    assert len(store) == 1 and store.pending("203.0.113.1") == 1


def test_an_ipv6_client_counts_as_its_64() -> None:
    assert address_block("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_block("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert address_block("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert address_block("::ffff:198.51.100.9") == "198.51.100.9"
    assert address_block("198.51.100.9") == "198.51.100.9"
    assert address_block("") == ""  # no peer address (a Unix socket): one shared block
