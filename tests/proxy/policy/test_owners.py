"""The owner set's freshness rule: unknown (so changes refused) past twice the interval."""

from __future__ import annotations

from typing import Any

from mystaff_proxy.graph.exceptions import GraphUnavailable
from mystaff_proxy.policy.owners import OwnerSet

OWNER = "0a000000-0000-4000-8000-000000000001"


class _Ops:
    """Stands in for GraphOperations.owner_ids: the error path the fake reaches by faults."""

    def __init__(self) -> None:
        self.answer: Any = frozenset({OWNER})

    async def owner_ids(self) -> frozenset[str]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return frozenset(self.answer)


async def test_unknown_until_read_then_fresh_then_stale() -> None:
    now = [1000.0]
    ops = _Ops()
    owners = OwnerSet(ops, refresh_seconds=300, clock=lambda: now[0])  # type: ignore[arg-type]
    assert owners.is_owner(OWNER) is None  # never read: unknown
    assert await owners.refresh()
    assert owners.is_owner(OWNER.upper()) is True
    assert owners.is_owner("0b000000-0000-4000-8000-000000000002") is False
    # Graph fails: the last answer serves until it is twice the interval old
    ops.answer = GraphUnavailable(503, "unavailable", "down")
    now[0] += 599
    assert not await owners.refresh()
    assert owners.is_owner(OWNER) is True
    now[0] += 2
    assert owners.is_owner(OWNER) is None
    assert owners.last_error is not None and "503" in owners.last_error
    ops.answer = frozenset()
    assert await owners.refresh()
    assert owners.is_owner(OWNER) is False and owners.last_error is None
