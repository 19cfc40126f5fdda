"""Bulk password reset: up to 50 people of one location in one request (docs/bulk-reset.md).

Each person gets exactly what a single reset would give them — the same live check and
decision (``StaffCheck.decide``), their own place in the manager's hourly limit, their own
``password_reset`` record (written before the change, completed after), their own password in
the policy's style, their own mail when staff are told of changes — but the Graph calls are
shared: every check in one round of packed ``$batch``es, every change in another
(graph/bulk.py). What applies to the request as a whole is refused as a whole, before anything
is read: a manager of no location, a location not theirs (``not_found``), a location where
they may not reset (``forbidden``), a body that is not 1 to 50 distinct user ids
(``invalid_request``). Everything after that is per person: the
answer is 200 with one entry each, in the order asked, each a password or an error.

This module is the staff service's companion: it uses the shared check's public helpers
(check.py: check, limit, audit and delegation), so that a bulk reset cannot drift from a single
one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from mystaff_proxy.audit.log import (
    AuditEvent,
    AuditUnavailable,
    EventType,
    Outcome,
    PendingRecord,
    Principal,
)
from mystaff_proxy.auth.delegation import ReauthenticationRequired
from mystaff_proxy.errors import ApiError
from mystaff_proxy.graph import bulk
from mystaff_proxy.graph.exceptions import GraphError
from mystaff_proxy.graph.operations import TargetSnapshot
from mystaff_proxy.ids import is_guid
from mystaff_proxy.policy.model import Action
from mystaff_proxy.policy.passwords import temporary_password
from mystaff_proxy.staff.check import Caller, StaffCheck, reauth_url

MAX_PEOPLE: Final = 50
EVENT: Final = EventType.PASSWORD_RESET
ACTION: Final = Action.RESET_PASSWORD.value
DETAIL: Final = {"method": "generated"}  # each record's detail, as a single generated reset's
AUDIT_DOWN_MESSAGE: Final = ("The audit log cannot be written, so nothing was changed. "
                             "Contact IT.")


@dataclass(frozen=True)
class ResetEntry:
    """One person's outcome: a password, or an error. ``display_name`` and
    ``user_principal_name`` are None when the person may not be named (not a member, or
    Graph could not say)."""

    id: str
    display_name: str | None
    user_principal_name: str | None
    password: str | None = None
    error: ApiError | None = None
    confirmed: bool = True  # manager mode: False = accepted, not confirmed


@dataclass
class _Person:
    index: int
    user_id: str
    snapshot: TargetSnapshot | None = None
    target: Principal | None = None
    password: str | None = None
    error: ApiError | None = None
    pending: PendingRecord | None = None
    confirmed: bool = True

    def entry(self) -> ResetEntry:
        profile = self.snapshot.profile if self.snapshot is not None else None
        named = profile is not None and self.snapshot is not None and self.snapshot.is_member \
            and (self.error is None or self.error.code != "not_found")
        return ResetEntry(
            self.user_id,
            profile.display_name if named and profile else None,
            profile.user_principal_name if named and profile else None,
            self.password if self.error is None else None, self.error,
            self.confirmed)


def user_ids(body: Any) -> list[str] | None:
    """The body's ``userIds``, canonical (lower case), when the body is exactly
    ``{"userIds": [1 to 50 distinct GUIDs]}``; else None."""
    if not isinstance(body, dict) or set(body) != {"userIds"}:
        return None
    ids = body["userIds"]
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_PEOPLE \
            or not all(isinstance(i, str) and is_guid(i) for i in ids):
        return None
    canonical = [str(i).lower() for i in ids]
    return canonical if len(set(canonical)) == len(canonical) else None


async def reset_passwords(staff: StaffCheck, caller: Caller, loc: str,
                          body: Any) -> list[ResetEntry]:
    """Reset each listed person's password, as ``StaffService.reset_password`` would, in a
    few round trips. Refusals of the whole request raise ``ApiError``."""
    return await _BulkReset(staff, caller, loc).run(body)


@dataclass(frozen=True)
class Selected:
    """A person a bulk reset is about to be asked for, as the page's confirmation names them."""

    id: str
    display_name: str
    user_principal_name: str


async def selected(staff: StaffCheck, caller: Caller, loc: str,
                   ids: Sequence[str]) -> list[Selected]:
    """Who a bulk reset of ``ids`` at ``loc`` would be about, named from Graph (never from
    the request), in order: the direct members of the location's unit; anyone else is left
    out, unnamed, as the reset itself would not name them. Nothing is changed or counted;
    what would refuse the whole reset refuses this too (audited as ``access_denied``)."""
    event = EventType.ACCESS_DENIED
    grants = await staff.manager_grants(caller, event, ACTION, loc)
    au = staff.unit_of(grants, loc)
    if au is None:
        await staff.refused(caller, event, "not_found", location=loc, action=ACTION)
    if Action.RESET_PASSWORD not in grants[loc]:
        await staff.refused(caller, event, "forbidden", location=loc, action=ACTION)
    canonical = user_ids({"userIds": list(ids)})
    if canonical is None:
        await staff.refused(caller, event, "invalid_request", location=loc, action=ACTION)
    people = []
    for snapshot in await bulk.fetch_targets(staff.ops, au, canonical):
        if isinstance(snapshot, GraphError):
            await staff.failed(caller, event, snapshot, location=loc)
        if snapshot.is_member and snapshot.profile is not None:
            people.append(Selected(snapshot.user_id, snapshot.profile.display_name,
                                   snapshot.profile.user_principal_name))
    return people


class _BulkReset:
    def __init__(self, staff: StaffCheck, caller: Caller, loc: str) -> None:
        self.staff = staff
        self.caller = caller
        self.loc = loc

    async def _refuse_all(self, code: str) -> NoReturn:
        await self.staff.refused(self.caller, EVENT, code, location=self.loc, action=ACTION)

    async def run(self, body: Any) -> list[ResetEntry]:
        staff, caller, loc = self.staff, self.caller, self.loc
        grants = await staff.manager_grants(caller, EVENT, ACTION, loc)
        au = staff.unit_of(grants, loc)
        if au is None:
            await self._refuse_all("not_found")
        if Action.RESET_PASSWORD not in grants[loc]:
            await self._refuse_all("forbidden")
        ids = user_ids(body)
        if ids is None:
            await self._refuse_all("invalid_request")
        people = [_Person(i, uid) for i, uid in enumerate(ids)]
        await self._check(people, grants, au)
        allowed = [p for p in people if p.error is None]
        await self._limit(allowed)
        allowed = [p for p in allowed if p.error is None]
        if allowed:
            await self._change(allowed)
        return [p.entry() for p in people]

    async def _check(self, people: Sequence[_Person], grants: Mapping[str, frozenset[Action]],
                     au: str) -> None:
        """Each person's live check (one round trip for all) and decision, audited each."""
        snapshots = await bulk.fetch_targets(self.staff.ops, au, [p.user_id for p in people])
        for person, snapshot in zip(people, snapshots, strict=True):
            try:
                if isinstance(snapshot, GraphError):
                    await self.staff.failed(self.caller, EVENT, snapshot, location=self.loc,
                                            target_id=person.user_id)
                person.snapshot = snapshot
                await self.staff.decide(self.caller, grants, self.loc, ACTION, EVENT, snapshot)
            except ApiError as exc:
                person.error = exc
                continue
            profile = snapshot.profile
            assert profile is not None
            person.target = Principal(snapshot.user_id, profile.user_principal_name)

    async def _limit(self, people: Sequence[_Person]) -> None:
        """One reset each from the manager's hourly limit, in the order asked: once it is
        spent, everyone after gets ``rate_limited`` (each audited)."""
        staff = self.staff
        limit = staff.policy_in_force().policy.limits.password_resets_per_manager_per_hour
        for person in people:
            assert person.target is not None
            try:
                await staff.take(self.caller, EVENT, f"reset:{self.caller.oid}", limit,
                                 self.loc, person.target)
            except ApiError as exc:
                person.error = exc

    async def _token(self, people: Sequence[_Person]) -> tuple[bool, str | None]:
        """Manager mode: the manager's delegated token, asked for once; when it cannot be
        had, each person is refused as a single reset would be (audited). (False, None):
        nobody can be reset."""
        staff, caller = self.staff, self.caller
        delegation = staff.delegation
        if delegation is None:
            return True, None
        try:
            if caller.assertion is not None:
                return True, await delegation.for_assertion(caller.assertion)
            if caller.session_id is not None:
                return True, await delegation.for_session(caller.session_id)
            raise ReauthenticationRequired("no_delegation")
        except (ReauthenticationRequired, GraphError) as exc:
            for person in people:
                assert person.target is not None
                try:
                    if isinstance(exc, ReauthenticationRequired):
                        await staff.refused(caller, EVENT, "reauthentication_required",
                                            location=self.loc, target=person.target,
                                            why=exc.why, reauth_url=reauth_url(caller))
                    await staff.failed(caller, EVENT, exc, location=self.loc,
                                       target=person.target)
                except ApiError as error:
                    person.error = error
            return False, None

    async def _change(self, people: Sequence[_Person]) -> None:
        """Passwords made, each record written, the changes sent together, each record
        completed with its own outcome (StaffCheck.change, for many)."""
        staff, caller = self.staff, self.caller
        rules = staff.policy_in_force().policy.password
        for person in people:
            snapshot = person.snapshot
            assert snapshot is not None and snapshot.profile is not None
            person.password = temporary_password(
                rules.style, rules.length, upn=snapshot.profile.user_principal_name,
                display_name=snapshot.profile.display_name)
        ok, token = await self._token(people)
        if not ok:
            return
        sending = []
        for person in people:
            try:
                person.pending = await staff.audit.begin(AuditEvent(
                    request_id=caller.request_id, event=EVENT, actor=caller.principal,
                    outcome=Outcome.SUCCESS, target=person.target, location=self.loc,
                    detail=dict(DETAIL)))
            except AuditUnavailable:
                person.error = ApiError.upstream("unavailable", AUDIT_DOWN_MESSAGE)
                continue
            sending.append(person)
        if not sending:
            return
        pairs = [(p.user_id, p.password or "") for p in sending]
        outcomes: Sequence[bool | GraphError | None]
        try:
            if token is None:
                outcomes = await bulk.reset_passwords(staff.ops.client, pairs)
            else:
                outcomes = await bulk.reset_passwords_as_manager(
                    staff.ops.client, pairs, token, wait_seconds=staff.operation_wait)
        except BaseException:
            # Cancelled (client gone, shutdown): the records stay "interrupted", as is true.
            for person in sending:
                assert person.pending is not None
                with contextlib.suppress(ApiError):
                    await staff.finish(person.pending, Outcome.FAILED, "interrupted")
            raise
        for person, outcome in zip(sending, outcomes, strict=True):
            assert person.pending is not None
            try:
                await self._finish(person, outcome)
            except ApiError as exc:
                person.error = exc

    async def _finish(self, person: _Person, outcome: bool | GraphError | None) -> None:
        staff = self.staff
        assert person.pending is not None
        if isinstance(outcome, GraphError):
            error, reason = staff.change_error(outcome)
            result = Outcome.DENIED if error.code in ("not_found", "conflict", "forbidden",
                                                      "reauthentication_required") \
                else Outcome.FAILED
            await staff.finish(person.pending, result, reason, {"graphStatus": outcome.status})
            raise error
        person.confirmed = outcome is not False
        after = None if person.confirmed else {"operation": "unconfirmed"}
        await staff.finish(person.pending, Outcome.SUCCESS, None, after)
        assert person.target is not None
        # The person is told, as after a single reset (notify.py: off the request path).
        staff.notify_changed(self.caller, EVENT, self.loc, person.target,
                             {**DETAIL, **(after or {})})
