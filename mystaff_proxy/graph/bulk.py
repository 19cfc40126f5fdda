"""Graph calls for many people at once (a bulk password reset), packed into ``$batch``es.

A ``$batch`` holds at most 20 sub-requests, and one person's live check is 6 or more
(``target_requests``), so the checks of N people are packed densely — one person's requests
may straddle two batches — and every batch is sent at once: one round trip for up to 50
people (15 batches of 20 for 50 resets). A batch that fails as a whole fails the people whose
sub-requests it carried, and only them.

The changes are packed the same way, one sub-request per person:

* app mode: ``PATCH /users/{id}`` ``passwordProfile``; the same body may be sent again
  safely (README), so throttled or lost ones are sent again by ``GraphClient.batch``.
* manager mode: ``POST …/resetPassword`` with the manager's token (never sent twice), then
  each accepted reset's operation, read in batches after Graph's ``Retry-After`` until it is
  done or ``wait_seconds`` pass (``GraphOperations.reset_password_as_manager``, for many).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from mystaff_proxy.graph.client import (
    BATCH_LIMIT,
    BatchRequest,
    GraphClient,
    GraphResponse,
    raise_for,
    retry_after,
)
from mystaff_proxy.graph.exceptions import GraphError, GraphUnavailable
from mystaff_proxy.graph.operations import (
    PASSWORD_METHOD_ID,
    GraphOperations,
    ResetFailed,
    TargetSnapshot,
    target_requests,
)
from mystaff_proxy.ids import canonical_guid

#: Each person's requests are renamed ``{their own id}~{person's index}``: unique in a batch.
_SEP = "~"


def tagged(index: int, requests: Sequence[BatchRequest]) -> list[BatchRequest]:
    """One person's requests with ids unique among everyone's (``{id}~{index}``)."""
    return [dataclasses.replace(r, id=f"{r.id}{_SEP}{index}") for r in requests]


def untagged(request_id: str) -> tuple[str, int]:
    """(the request's own id, the person's index) of a ``tagged`` id."""
    own, _, index = request_id.rpartition(_SEP)
    return own, int(index)


def pack(people: Sequence[Sequence[BatchRequest]],
         limit: int = BATCH_LIMIT) -> list[list[BatchRequest]]:
    """Everyone's requests (already ``tagged``), in order, cut into batches of ``limit``:
    ⌈total / limit⌉ batches, none empty, the fewest possible. A person's requests are
    adjacent and may straddle two batches (never three while they are fewer than ``limit``)."""
    flat = [r for requests in people for r in requests]
    return [flat[i:i + limit] for i in range(0, len(flat), limit)]


async def send_packed(client: GraphClient, batches: Sequence[Sequence[BatchRequest]], *,
                      op: str, retry: bool = True, token: str | None = None
                      ) -> dict[str, GraphResponse | GraphError]:
    """Every batch at once; each sub-request's answer by id, or the error that failed its
    whole batch (after ``GraphClient``'s retries, when ``retry``)."""
    outcomes = await asyncio.gather(
        *(client.batch(b, op=op, retry=retry, token=token) for b in batches),
        return_exceptions=True)
    out: dict[str, GraphResponse | GraphError] = {}
    for requests, outcome in zip(batches, outcomes, strict=True):
        if isinstance(outcome, GraphError):
            out.update((r.id, outcome) for r in requests)
        elif isinstance(outcome, BaseException):
            raise outcome  # cancelled, or a bug: not one person's failure
        else:
            out.update((r.id, outcome[r.id]) for r in requests)
    return out


def _split(answers: Mapping[str, GraphResponse | GraphError], count: int
           ) -> list[dict[str, GraphResponse] | GraphError]:
    """Per person: their answers by their own ids, or the first error that failed a batch
    carrying one of their requests."""
    people: list[dict[str, GraphResponse] | GraphError] = [{} for _ in range(count)]
    for request_id, answer in answers.items():
        own, index = untagged(request_id)
        mine = people[index]
        if isinstance(mine, GraphError):
            continue
        if isinstance(answer, GraphError):
            people[index] = answer
        else:
            mine[own] = answer
    return people


async def fetch_targets(ops: GraphOperations, au_id: str, user_ids: Sequence[str]
                        ) -> list[TargetSnapshot | GraphError]:
    """The live check of each person (``fetch_target`` without phones), in order: their
    snapshot, or the Graph error that makes their check fail (closed). One round trip."""
    people = [tagged(i, target_requests(au_id, uid, with_phones=False))
              for i, uid in enumerate(user_ids)]
    answers = await send_packed(ops.client, pack(people), op="fetch_target")

    async def one(uid: str, mine: dict[str, GraphResponse] | GraphError
                  ) -> TargetSnapshot | GraphError:
        if isinstance(mine, GraphError):
            return mine
        try:  # a next page of someone's groups is read here: their own round trip
            return await ops.target_snapshot(uid, mine, with_phones=False)
        except GraphError as exc:
            return exc

    split = _split(answers, len(user_ids))
    return list(await asyncio.gather(*(one(uid, mine) for uid, mine in zip(
        user_ids, split, strict=True))))


def _outcomes(answers: Mapping[str, GraphResponse | GraphError], count: int
              ) -> list[GraphResponse | GraphError]:
    """Per person (one sub-request each): the answer, or its batch's error."""
    out: list[GraphResponse | GraphError | None] = [None] * count
    for request_id, answer in answers.items():
        out[untagged(request_id)[1]] = answer
    missing = GraphUnavailable(502, "malformed", "Graph's batch answer lacks a response")
    return [missing if a is None else a for a in out]


async def reset_passwords(client: GraphClient, passwords: Sequence[tuple[str, str]]
                          ) -> list[GraphError | None]:
    """App mode: ``PATCH /users/{id}`` ``passwordProfile`` for each (user id, password), in
    ``$batch``es of 20 sent at once. Per person: None (done) or the GraphError (a failed
    sub-request, or its whole batch; ``outcome_unknown`` when the answer was lost)."""
    people = [tagged(i, [BatchRequest("reset", "PATCH", f"/users/{canonical_guid(uid)}", body={
        "passwordProfile": {"password": password, "forceChangePasswordNextSignIn": True}})])
        for i, (uid, password) in enumerate(passwords)]
    answers = await send_packed(client, pack(people), op="reset_password")
    results: list[GraphError | None] = []
    for answer in _outcomes(answers, len(people)):
        if isinstance(answer, GraphResponse):
            try:
                raise_for(answer)
            except GraphError as exc:
                answer = exc
            else:
                results.append(None)
                continue
        results.append(answer)
    return results


async def reset_passwords_as_manager(client: GraphClient, passwords: Sequence[tuple[str, str]],
                                     token: str, *, wait_seconds: float
                                     ) -> list[bool | GraphError]:
    """Manager mode: ``resetPassword`` as the manager for each (user id, password), in
    ``$batch``es sent at once and never repeated, then the accepted resets' operations read
    in batches (after the longest ``Retry-After``) until each is done or ``wait_seconds``
    have passed. Per person: True (succeeded), False (accepted, not confirmed: the manager's
    role may not read the operation, or it did not finish in time), or the GraphError
    (refused, failed — ``ResetFailed`` — or lost: ``outcome_unknown``)."""
    people = [tagged(i, [BatchRequest(
        "reset", "POST",
        f"/users/{canonical_guid(uid)}/authentication/methods/{PASSWORD_METHOD_ID}/resetPassword",
        body={"newPassword": password})]) for i, (uid, password) in enumerate(passwords)]
    answers = await send_packed(client, pack(people), op="reset_password", retry=False,
                                token=token)
    results: list[bool | GraphError] = []
    operations: dict[int, str] = {}  # person -> their operation, relative to the version root
    wait = 0.0
    for i, answer in enumerate(_outcomes(answers, len(people))):
        if isinstance(answer, GraphError):
            results.append(answer)
            continue
        try:
            raise_for(answer)
        except GraphError as exc:
            results.append(exc)
            continue
        results.append(False)
        uid = canonical_guid(passwords[i][0])
        location = answer.headers.get("Location") or answer.headers.get("location") or ""
        prefix = client.url(f"users/{uid}/authentication/operations/")
        # Only Graph's own operation URL for this user is followed (never a foreign host).
        if location.startswith(prefix):
            operations[i] = "/" + location[len(client.url("")):]
            after = retry_after(answer.headers)
            wait = max(wait, 1.0 if after is None else after)
    await _follow(client, operations, results, token, wait, wait_seconds)
    return results


async def _follow(client: GraphClient, operations: dict[int, str],
                  results: list[bool | GraphError], token: str, wait: float,
                  wait_seconds: float) -> None:
    """Read the operations until each is done or the time is up (``results`` updated)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while operations:
        if loop.time() + wait > deadline:
            return  # the rest stay "accepted, not confirmed"
        await client.sleep(wait)
        people = [tagged(i, [BatchRequest("operation", "GET", url)])
                  for i, url in operations.items()]
        try:
            answers = await send_packed(client, pack(people), op="reset_operation",
                                        token=token)
        except GraphError:
            return
        wait = 0.0
        for request_id, answer in answers.items():
            index = untagged(request_id)[1]
            status = _status(answer)
            if status == "succeeded":
                results[index] = True
            elif status == "failed":
                results[index] = ResetFailed(502, "operation_failed",
                                             "Microsoft Entra ID reports that the reset failed")
            elif status is not None:
                after = retry_after(answer.headers) if isinstance(answer, GraphResponse) \
                    else None
                wait = max(wait, 1.0 if after is None else after)
                continue
            del operations[index]  # done, or not readable by this manager's role


def _status(answer: GraphResponse | GraphError) -> str | None:
    """An operation's status, lower-cased; None when it cannot be read (403/404: the
    manager's role may not; any other failure: accepted all the same, never sent again)."""
    if isinstance(answer, GraphError) or answer.status >= 400:
        return None
    body: Any = answer.body
    return str(body.get("status", "")).lower() if isinstance(body, dict) else ""
