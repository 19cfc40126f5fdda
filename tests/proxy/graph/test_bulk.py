"""graph/bulk.py: many people's checks and resets packed into $batches of at most 20, sent at
once, each person's outcome their own (a failed batch fails only the people it carried)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mystaff_proxy.graph import bulk
from mystaff_proxy.graph.client import BATCH_LIMIT, BatchRequest, GraphResponse
from mystaff_proxy.graph.exceptions import (
    GraphBadRequest,
    GraphError,
    GraphForbidden,
    GraphUnavailable,
)
from mystaff_proxy.graph.operations import (
    PASSWORD_METHOD_ID,
    GraphOperations,
    ResetFailed,
    TargetSnapshot,
    target_requests,
)

BASE = "https://graph.test/v1.0"
AU = "a0000000-0000-4000-8000-00000000000a"


def user(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


class StubClient:
    """``GraphClient.batch`` and friends: answers each sub-request with ``answer(request)``,
    or fails a whole batch when ``fail(requests)`` gives an error; records every batch."""

    def __init__(self, answer: Any = None, fail: Any = None) -> None:
        self.answer = answer or (lambda r: GraphResponse(404, {}))
        self.fail = fail or (lambda requests: None)
        self.batches: list[tuple[list[BatchRequest], bool, str | None]] = []
        self.in_flight = self.most_in_flight = 0
        self.slept: list[float] = []

    def url(self, path: str) -> str:
        return f"{BASE}/{path.lstrip('/')}"

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(seconds)

    async def batch(self, requests: Sequence[BatchRequest], *, op: str = "batch",
                    retry: bool = True, token: str | None = None) -> dict[str, GraphResponse]:
        assert 1 <= len(requests) <= BATCH_LIMIT
        assert len({r.id for r in requests}) == len(requests)
        self.batches.append((list(requests), retry, token))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0)  # let the other batches start: they are sent at once
        self.in_flight -= 1
        error = self.fail(requests)
        if error is not None:
            raise error
        return {r.id: self.answer(r) for r in requests}


# -- packing ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=BATCH_LIMIT - 1), min_size=1, max_size=50))
def test_packing_is_dense_keeps_order_and_splits_a_person_at_most_once(sizes: list[int]) -> None:
    people = [bulk.tagged(i, [BatchRequest(f"r{j}", "GET", f"/x/{i}/{j}") for j in range(n)])
              for i, n in enumerate(sizes)]
    batches = bulk.pack(people)
    flat = [r for b in batches for r in b]
    assert flat == [r for p in people for r in p]  # every request once, in order
    assert all(1 <= len(b) <= BATCH_LIMIT for b in batches)
    assert len(batches) == math.ceil(sum(sizes) / BATCH_LIMIT)  # the fewest possible
    for i in range(len(sizes)):
        holding = [k for k, b in enumerate(batches) if any(bulk.untagged(r.id)[1] == i
                                                           for r in b)]
        assert len(holding) <= 2 and holding == list(range(holding[0], holding[-1] + 1))


def test_tagged_ids_are_unique_and_give_the_person_back() -> None:
    requests = target_requests(AU, user(7), with_phones=False)
    assert len(requests) == 6  # a reset's check: member, user, groups, roles, 2 PIM reads
    tagged = bulk.tagged(31, requests)
    assert [bulk.untagged(r.id) for r in tagged] == [(r.id, 31) for r in requests]
    assert [(r.method, r.url) for r in tagged] == [(r.method, r.url) for r in requests]


def test_fifty_checks_are_fifteen_batches_sent_at_once() -> None:
    client = StubClient()
    ops = GraphOperations(client)  # type: ignore[arg-type]
    snapshots = asyncio.run(bulk.fetch_targets(ops, AU, [user(i) for i in range(50)]))
    assert len(client.batches) == 15 == math.ceil(50 * 6 / BATCH_LIMIT)
    assert client.most_in_flight == 15  # one round trip, not fifteen
    assert all(isinstance(s, TargetSnapshot) and not s.is_member for s in snapshots)
    assert [s.user_id for s in snapshots if isinstance(s, TargetSnapshot)] == \
        [user(i) for i in range(50)]


def test_a_failed_batch_fails_exactly_the_people_it_carried() -> None:
    down = GraphUnavailable(503, "unavailable", "down")

    def fail(requests: Sequence[BatchRequest]) -> GraphError | None:
        # The second batch (requests 20..39: people 3 to 6, people 3 and 6 in part).
        return down if any(r.id == "roles~5" for r in requests) else None

    client = StubClient(fail=fail)
    ops = GraphOperations(client)  # type: ignore[arg-type]
    snapshots = asyncio.run(bulk.fetch_targets(ops, AU, [user(i) for i in range(10)]))
    failed = [i for i, s in enumerate(snapshots) if isinstance(s, GraphError)]
    assert failed == [3, 4, 5, 6]
    assert all(snapshots[i] is down for i in failed)


def test_one_persons_bad_answer_is_theirs_alone() -> None:
    def answer(r: BatchRequest) -> GraphResponse:
        if r.id == "member~1":
            return GraphResponse(500, {"error": {"code": "x", "message": "y"}})
        return GraphResponse(404, {})

    ops = GraphOperations(StubClient(answer=answer))  # type: ignore[arg-type]
    snapshots = asyncio.run(bulk.fetch_targets(ops, AU, [user(i) for i in range(3)]))
    assert isinstance(snapshots[1], GraphUnavailable)
    assert isinstance(snapshots[0], TargetSnapshot) and isinstance(snapshots[2], TargetSnapshot)


# -- app mode: PATCH passwordProfile ----------------------------------------------------------


def test_resets_are_patches_in_batches_of_twenty_each_answered_on_its_own() -> None:
    lost = GraphUnavailable(504, "timeout", "no answer")

    def answer(r: BatchRequest) -> GraphResponse:
        if r.url == f"/users/{user(4)}":
            return GraphResponse(400, {"error": {"code": "Request_BadRequest", "message": "no"}})
        return GraphResponse(204, None)

    client = StubClient(answer=answer,
                        fail=lambda rs: lost if any(r.id == "reset~21" for r in rs) else None)
    pairs = [(user(i), f"Pass-word-{i:02d}") for i in range(25)]
    results = asyncio.run(bulk.reset_passwords(client, pairs))  # type: ignore[arg-type]
    assert [len(b) for b, _, _ in client.batches] == [20, 5]
    assert client.most_in_flight == 2
    first = client.batches[0][0][0]
    assert (first.method, first.url, first.body) == ("PATCH", f"/users/{user(0)}", {
        "passwordProfile": {"password": "Pass-word-00", "forceChangePasswordNextSignIn": True}})
    assert all(retry for _, retry, _ in client.batches)  # the same PATCH may be sent again
    assert isinstance(results[4], GraphBadRequest)
    assert all(results[i] is lost and lost.outcome_unknown for i in range(20, 25))
    assert [r for i, r in enumerate(results) if i != 4 and i < 20] == [None] * 19


# -- manager mode: resetPassword, then its operation -------------------------------------------


def _operation(i: int) -> str:
    return f"users/{user(i)}/authentication/operations/op-{i}"


def test_manager_resets_are_posted_once_then_their_operations_read_in_batches() -> None:
    polls: dict[str, int] = {}

    def answer(r: BatchRequest) -> GraphResponse:
        if r.method == "POST":
            i = int(r.url.split("/")[2][-12:])
            assert r.url.endswith(f"/methods/{PASSWORD_METHOD_ID}/resetPassword")
            if i == 3:
                return GraphResponse(403, {"error": {"code": "Forbidden", "message": "no"}})
            location = "https://evil.test/op" if i == 4 else f"{BASE}/{_operation(i)}"
            return GraphResponse(202, None, {"Location": location, "Retry-After": "0.02"})
        i = int(r.url.split("/")[2][-12:])
        polls[r.url] = polls.get(r.url, 0) + 1
        if i == 1:
            return GraphResponse(403, {"error": {"code": "Forbidden", "message": "role"}})
        if i == 2:
            return GraphResponse(200, {"status": "failed"})
        if i == 5 and polls[r.url] == 1:
            return GraphResponse(200, {"status": "running"}, {"Retry-After": "0.01"})
        return GraphResponse(200, {"status": "Succeeded"})

    client = StubClient(answer=answer)
    pairs = [(user(i), f"Pass-word-{i:02d}") for i in range(6)]
    results = asyncio.run(bulk.reset_passwords_as_manager(
        client, pairs, "delegated", wait_seconds=10))  # type: ignore[arg-type]
    assert results[0] is True and results[5] is True
    assert results[1] is False  # the manager's role may not read it: accepted, not confirmed
    assert isinstance(results[2], ResetFailed)
    assert isinstance(results[3], GraphForbidden)
    assert results[4] is False  # a foreign operation URL is never followed
    posts, *reads = client.batches
    assert [r.method for r in posts[0]] == ["POST"] * 6
    assert (posts[1], posts[2]) == (False, "delegated")  # never sent twice; as the manager
    assert [sorted(r.url for r in b) for b, _, _ in reads] == [
        sorted(f"/{_operation(i)}" for i in (0, 1, 2, 5)), [f"/{_operation(5)}"]]
    assert all(token == "delegated" for _, _, token in reads)
    assert client.slept == [0.02, 0.01]  # Graph's Retry-After, the longest of the batch


def test_manager_resets_left_running_are_accepted_not_confirmed() -> None:
    def answer(r: BatchRequest) -> GraphResponse:
        if r.method == "POST":
            return GraphResponse(202, None, {"Location": f"{BASE}/{_operation(0)}",
                                             "Retry-After": "0.3"})
        return GraphResponse(200, {"status": "running"}, {"Retry-After": "0.3"})

    client = StubClient(answer=answer)
    results = asyncio.run(bulk.reset_passwords_as_manager(
        client, [(user(0), "Pass-word-00")], "t", wait_seconds=0.5))  # type: ignore[arg-type]
    # One read after 0.3 s: still running; another 0.3 s would pass the 0.5 s allowed.
    assert results == [False] and client.slept == [0.3]


@pytest.mark.parametrize("count", [1, 20, 21, 50])
def test_one_reset_batch_per_twenty(count: int) -> None:
    client = StubClient(answer=lambda r: GraphResponse(204, None))
    pairs = [(user(i), "Pass-word-00") for i in range(count)]
    assert asyncio.run(bulk.reset_passwords(client, pairs)) == [None] * count  # type: ignore[arg-type]
    assert len(client.batches) == math.ceil(count / BATCH_LIMIT)
