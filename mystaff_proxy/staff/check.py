"""The one check every capability of the staff service shares (``StaffCheck``).

Every request runs the checks of docs/authorization.md afresh: the manager's grants from the
policy in force (groups at most five minutes old), then one live ``$batch`` about the target,
then ``authz.decide``; only then the body is read, the rate limit taken and the change sent.
Each refusal and each change is audited once; a change is reported done only after its record
is on disk (docs/audit.md).

``StaffCheck`` holds the service's state (one constructor) and the helpers below; each
capability (reading.py, passwords.py, phones.py, access_passes.py, sms_sign_in.py) derives
from it, and so does nothing else: ``StaffService`` (service.py) is all of them at once. The
public helpers are the check's API for the capabilities and for bulk_reset.py, which checks,
limits, audits and delegates through them so that a bulk reset cannot drift from a single
one.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from mystaff_proxy.audit.log import (
    AuditEvent,
    AuditLog,
    AuditUnavailable,
    EventType,
    Outcome,
    PendingRecord,
    Principal,
)
from mystaff_proxy.audit.phone_hash import PhoneHasher
from mystaff_proxy.auth import reauth
from mystaff_proxy.auth.delegation import Delegation, ReauthenticationRequired
from mystaff_proxy.errors import ApiError, audit_unavailable, from_change_error, from_graph_error
from mystaff_proxy.graph.exceptions import GraphError, GraphForbidden, GraphUnauthorized
from mystaff_proxy.graph.operations import GraphOperations, PhoneMethod, ResetFailed, TargetSnapshot
from mystaff_proxy.graph.sign_in_methods import SmsSignInRefused
from mystaff_proxy.i18n import N_
from mystaff_proxy.i18n import current as current_language
from mystaff_proxy.ids import is_guid
from mystaff_proxy.policy import decide as authz
from mystaff_proxy.policy.model import Action
from mystaff_proxy.policy.owners import OwnerSet
from mystaff_proxy.policy.resolve import ResolvedPolicy
from mystaff_proxy.policy.runtime import PolicyRuntime
from mystaff_proxy.sealing import Sealer
from mystaff_proxy.staff.notify import Change, Notifier
from mystaff_proxy.staff.views import SMS_REFUSALS
from mystaff_proxy.stores.ratelimit import RateLimiter

GROUPS_MAX_AGE = 300.0  # a manager's groups are looked up in Graph and kept at most 5 minutes
# The change limits' window ("per hour"). Read at each ``take``: bench/memprobe.py shortens it.
_HOUR = 3600.0
_T = TypeVar("_T")
# A live check's snapshot may serve a second check within the SAME request (see check).
# Held in a context variable: aiohttp serves each request in its own task (context), so
# the snapshot lives and dies with the request — nothing global to bound or leak; the
# request id is checked too. (request id, taken at, AU, user id, snapshot)
SNAPSHOT_REUSE_SECONDS = 5.0
_REQUEST_SNAPSHOT: contextvars.ContextVar[tuple[str, float, str, str, TargetSnapshot] | None] = \
    contextvars.ContextVar("mystaff_request_snapshot", default=None)

GRAPH_DENIED_MESSAGE = (N_("Microsoft Entra refused this change: your own Entra role does not "
                           "cover this person. Nothing was changed; ask IT to check your role."))
RESET_FAILED_MESSAGE = (N_("Microsoft Entra reports that the reset failed; the password was not "
                           "changed. Try again, or contact IT."))


@dataclass(frozen=True)
class Caller:
    """A signed-in user: from a session cookie or a bearer token."""

    oid: str
    upn: str
    name: str
    request_id: str
    #: How Graph can be asked to act as this caller (manager mode): the session's id, or the
    #: bearer token itself for on-behalf-of. Never logged.
    session_id: str | None = field(default=None, repr=False)
    assertion: str | None = field(default=None, repr=False)
    #: When the caller last entered credentials at Entra (reauth.py); None: unknown.
    authenticated_at: float | None = None

    @property
    def principal(self) -> Principal:
        return Principal(self.oid, self.upn)


class ManagerGroups:
    """A manager's transitive group ids, fetched from Graph and kept five minutes."""

    def __init__(self, ops: GraphOperations) -> None:
        self._ops = ops
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def get(self, oid: str) -> frozenset[str]:
        hit = self._cache.get(oid)
        now = time.monotonic()
        if hit is not None and now - hit[0] < GROUPS_MAX_AGE:
            return hit[1]
        groups = await self._ops.transitive_group_ids(oid)
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if now - v[0] < GROUPS_MAX_AGE}
        self._cache[oid] = (now, groups)
        return groups


class StaffCheck:
    """The staff service's state and the check every capability shares.

    Protected attributes (``_policy``, ``_limiter``, ``_cursors``, ``_hasher``,
    ``_default_region``, ``_groups``, ``_unit_names``) are for the capabilities deriving from
    this class; anything else reads the public ones and calls the public helpers."""

    def __init__(self, *, ops: GraphOperations, policy: PolicyRuntime, audit: AuditLog,
                 limiter: RateLimiter, cursor_sealer: Sealer, default_region: str,
                 owners: OwnerSet, phone_hasher: PhoneHasher,
                 delegation: Delegation | None = None,
                 operation_wait: float = 10.0, notifier: Notifier | None = None) -> None:
        self.ops = ops
        #: Tells staff of changes to their account ([notify] sender; None: nobody is told).
        self.notifier = notifier
        self._hasher = phone_hasher
        self.owners = owners
        #: Manager mode: changes go to Graph as the manager (None: as the app).
        self.delegation = delegation
        #: Manager mode: how long a reset's outcome is waited for (Graph's operation).
        self.operation_wait = operation_wait
        self._policy = policy
        self.audit = audit
        self._limiter = limiter
        self._cursors = cursor_sealer
        self._default_region = default_region
        self._groups = ManagerGroups(ops)
        self._unit_names: dict[str, str] = {}  # administrative unit -> name (reading.py)

    # -- who manages what ---------------------------------------------------------------------

    def policy_in_force(self) -> ResolvedPolicy:
        current = self._policy.current
        if current is None:
            raise ApiError.upstream("unavailable", "No policy is in force; contact IT.")
        return current

    async def grants(self, caller: Caller) -> Mapping[str, frozenset[Action]]:
        try:
            return await self._grants(caller)
        except GraphError as exc:
            raise from_graph_error(exc) from None

    async def _grants(self, caller: Caller) -> Mapping[str, frozenset[Action]]:
        """Raises GraphError when the manager's groups cannot be read."""
        policy = self.policy_in_force()
        groups: frozenset[str] = frozenset()
        if policy.manager_group_ids:
            groups = await self._groups.get(caller.oid)
        return policy.locations_for_manager(caller.oid, groups)

    async def manager_grants(self, caller: Caller, event: EventType, action: str,
                             location: str | None = None, *,
                             target_id: str | None = None) -> Mapping[str, frozenset[Action]]:
        """``location``: the one the request is about, named in its records even when the
        caller manages none. A change (any ``event`` but ``access_denied``) first needs a
        recent enough sign-in (``require_recent_sign_in``)."""
        if event is not EventType.ACCESS_DENIED:
            await self.require_recent_sign_in(caller, event, location, target_id)
        try:
            grants = await self._grants(caller)
        except GraphError as exc:  # audited as the request's event, like any Graph failure
            await self.failed(caller, event, exc, location=location)
        if not grants:
            await self.refused(caller, event, "insufficient_permissions", action=action,
                               location=location)
        return grants

    async def require_recent_sign_in(self, caller: Caller, event: EventType, loc: str | None,
                                     target_id: str | None = None) -> None:
        """The policy's ``reauthenticate_after_minutes``: a change by a caller who entered
        their credentials longer ago (or at an unknown time) is refused
        ``reauthentication_required``, audited as that change refused, before anything else
        is looked at (right after the CSRF token; reauth.py)."""
        current = self._policy.current
        limit = current.policy.reauthenticate_after_minutes if current is not None else 0
        why = reauth.refusal(caller.authenticated_at, limit)
        if why is None:
            return
        target = Principal(target_id.lower(), "") if target_id and is_guid(target_id) \
            else None
        await self.refused(caller, event, "reauthentication_required", location=loc,
                           target=target, why=why, reauth_url=reauth.sign_in_again_url(
                               reauth.profile_path(loc, target_id) if loc else "/"))

    def notify_changed(self, caller: Caller, event: EventType, loc: str | None,
                       target: Principal, detail: Mapping[str, Any] | None = None) -> None:
        """After a change's audit record is final (success): the person is told, off the
        request path, in the language of the request (notify.py). Every way of changing
        someone calls it, once per person."""
        if self.notifier is not None:
            self.notifier.changed(Change(
                event=event, request_id=caller.request_id, actor=caller.principal,
                manager_name=caller.name, target=target, location=loc,
                detail=dict(detail or {}), language=current_language()))

    def unit_of(self, grants: Mapping[str, frozenset[Action]], loc: str) -> str | None:
        """The administrative unit of ``loc`` when the caller manages it, else None."""
        if loc not in grants:
            return None
        location = self.policy_in_force().location(loc)
        return location.administrative_unit if location is not None else None

    # -- one person ---------------------------------------------------------------------------

    async def check(self, caller: Caller, loc: str, user_id: str, action: str,
                    event: EventType, *, with_phones: bool,
                    manager_phones: bool = False, with_pass: bool = False,
                    with_pass_policy: bool = False) -> TargetSnapshot:
        """The checks of docs/authorization.md for one target (the manager's grants, the
        location, one live ``$batch``, the decision); refusals are audited and raised.
        ``manager_phones``: the caller's own numbers too, in the same ``$batch``."""
        grants = await self.manager_grants(caller, event, action, loc, target_id=user_id)
        au = self.unit_of(grants, loc)
        if au is None or not is_guid(user_id):
            await self.refused(caller, event, "not_found", location=loc, action=action)
        # A page that shows the profile and then sends a change in the same request (the
        # HTML password reset) reuses the snapshot this request took moments ago instead of
        # a second $batch round trip (bench/round_trips.py: 3 -> 2). Keyed by request id, so
        # no other request sees it; the decision below is still made afresh for this action.
        snapshot = self._snapshot_of_this_request(caller.request_id, au, user_id, with_phones)
        if snapshot is not None and (
                (manager_phones and snapshot.manager_phones is None)
                or (with_pass and not snapshot.access_pass_known)
                or (with_pass_policy and snapshot.pass_policy is None)):
            snapshot = None
        if snapshot is None:
            try:
                snapshot = await self.ops.fetch_target(
                    au, user_id, with_phones=with_phones,
                    manager_id=caller.oid if manager_phones else None,
                    with_pass=with_pass, with_pass_policy=with_pass_policy)
            except GraphError as exc:
                await self.failed(caller, event, exc, location=loc, target_id=user_id)
            self._remember_snapshot(caller.request_id, au, snapshot)
        await self.decide(caller, grants, loc, action, event, snapshot)
        return snapshot

    async def decide(self, caller: Caller, grants: Mapping[str, frozenset[Action]], loc: str,
                     action: str, event: EventType, snapshot: TargetSnapshot) -> None:
        """``authz.decide`` on Graph's live answer about one person; a refusal is audited and
        raised (a non-member is never named). Every check runs it, and so does a bulk reset
        for each of its people (bulk_reset.py)."""
        facts = self.facts(snapshot)
        decision = authz.decide(authz.ActionRequest(caller.oid, grants, loc, action), facts,
                                self.policy_in_force().protection)
        if not decision.allowed:
            target = target_of(snapshot) if snapshot.is_member else None
            await self.refused(caller, event, decision.code or "not_found", location=loc,
                               action=action, target=target, why=decision.why)

    def facts(self, snapshot: TargetSnapshot) -> authz.TargetFacts:
        """Graph's live answer, plus what the policy in force grants the target (a manager?)
        and whether the target owns an app or a role-assignable group (the owner set)."""
        target_grants = None
        if snapshot.is_member:
            profile = snapshot.profile
            target_grants = self.policy_in_force().grants_of_target(
                snapshot.user_id, profile.user_principal_name if profile else None,
                snapshot.group_ids)
        return authz.TargetFacts.from_snapshot(snapshot, target_grants=target_grants,
                                               is_owner=self.owners.is_owner(snapshot.user_id))

    @staticmethod
    def _snapshot_of_this_request(request_id: str, au: str, user_id: str,
                                  with_phones: bool) -> TargetSnapshot | None:
        hit = _REQUEST_SNAPSHOT.get()
        if hit is None:
            return None
        hit_request, taken, hit_au, hit_user, snapshot = hit
        if hit_request != request_id or hit_au != au or hit_user != user_id.lower() \
                or time.monotonic() - taken > SNAPSHOT_REUSE_SECONDS \
                or (with_phones and snapshot.phones is None):
            return None
        return snapshot

    @staticmethod
    def _remember_snapshot(request_id: str, au: str, snapshot: TargetSnapshot) -> None:
        _REQUEST_SNAPSHOT.set((request_id, time.monotonic(), au, snapshot.user_id, snapshot))

    # -- limits, refusals, changes ------------------------------------------------------------

    async def take(self, caller: Caller, event: EventType, key: str, limit: int, loc: str,
                   target: Principal, **detail: Any) -> None:
        """One change from the manager's hourly ``limit`` under ``key``; spent: refused
        ``rate_limited`` (audited, with ``detail``)."""
        wait = await self._limiter.acquire(key, limit, _HOUR)
        if wait is not None:
            await self.refused(caller, event, "rate_limited", location=loc, target=target,
                               retryAfter=int(wait) + 1, retry_after=wait, **detail)

    async def take_phone_change(self, caller: Caller, event: EventType, loc: str,
                                target: Principal, phone: dict[str, Any]) -> None:
        """The phone-change limit (a phone number, or SMS sign-in on the mobile).
        ``phone``: the refusal's detail (type and hashes: which number was refused)."""
        limit = self.policy_in_force().policy.limits.phone_changes_per_manager_per_hour
        await self.take(caller, event, f"phone:{caller.oid}", limit, loc, target, **phone)

    async def write(self, record: AuditEvent) -> None:
        try:
            await self.audit.write(record)
        except AuditUnavailable:
            raise audit_unavailable() from None

    async def refused(self, caller: Caller, event: EventType, code: str, *,
                      location: str | None = None, target: Principal | None = None,
                      action: str | None = None, why: str | None = None,
                      retry_after: float | None = None, reauth_url: str | None = None,
                      message: str | None = None, **detail: Any) -> NoReturn:
        """Audit a refusal (``denied``, reason ``code``) and raise it as the answer."""
        extra = {k: v for k, v in detail.items() if v is not None}
        if action is not None and event is EventType.ACCESS_DENIED:
            extra["action"] = action
        if why is not None and why != code:
            extra["why"] = why
        await self.write(AuditEvent(
            request_id=caller.request_id, event=event, actor=caller.principal,
            outcome=Outcome.DENIED, target=target, location=location, reason=code,
            detail=extra or None))
        raise ApiError(code, message, retry_after=retry_after, reauth_url=reauth_url)

    async def failed(self, caller: Caller, event: EventType, exc: GraphError, *,
                     location: str | None = None, target: Principal | None = None,
                     target_id: str | None = None,
                     detail: dict[str, Any] | None = None) -> NoReturn:
        """Audit a Graph failure before any change was sent, and raise it as the answer."""
        error = from_graph_error(exc)
        if target is None and target_id is not None and is_guid(target_id):
            target = Principal(target_id.lower(), "")
        extra = dict(detail or {})
        extra["graphStatus"] = exc.status
        await self.write(AuditEvent(
            request_id=caller.request_id, event=event, actor=caller.principal,
            outcome=Outcome.DENIED if error.code in ("not_found", "conflict") else Outcome.FAILED,
            target=target, location=location, reason=error.code, detail=extra))
        raise error

    async def delegated_token(self, caller: Caller, event: EventType, loc: str,
                              target: Principal) -> str | None:
        """Manager mode: the manager's delegated Graph token for this change (None: app
        mode). Entra asking for a new sign-in is refused ``reauthentication_required``
        (audited, nothing sent); the identity platform failing fails the change."""
        if self.delegation is None:
            return None
        try:
            if caller.assertion is not None:
                return await self.delegation.for_assertion(caller.assertion)
            if caller.session_id is not None:
                return await self.delegation.for_session(caller.session_id)
            raise ReauthenticationRequired("no_delegation")
        except ReauthenticationRequired as exc:
            await self.refused(caller, event, "reauthentication_required", location=loc,
                               target=target, why=exc.why,
                               reauth_url=reauth_url(caller))
        except GraphError as exc:
            await self.failed(caller, event, exc, location=loc, target=target)

    async def change(self, caller: Caller, event: EventType, loc: str, target: Principal,
                     detail: dict[str, Any], change: Coroutine[Any, Any, _T], *,
                     detail_after: Callable[[_T], dict[str, Any] | None] | None = None) -> _T:
        """Send a change to Graph between its audit record's two writes (audit.begin).
        ``detail_after``: what the outcome adds to the record (e.g. "unconfirmed")."""
        _REQUEST_SNAPSHOT.set(None)  # after a change, a check in this request reads afresh
        try:
            pending = await self.audit.begin(AuditEvent(
                request_id=caller.request_id, event=event, actor=caller.principal,
                outcome=Outcome.SUCCESS, target=target, location=loc, detail=detail))
        except AuditUnavailable:
            change.close()
            raise ApiError.upstream("unavailable", "The audit log cannot be written, so "
                                    "nothing was changed. Contact IT.") from None
        try:
            result = await change
        except GraphError as exc:
            error, reason = self.change_error(exc)
            outcome = Outcome.DENIED if error.code in ("not_found", "conflict", "forbidden",
                                                       "reauthentication_required") \
                else Outcome.FAILED
            await self.finish(pending, outcome, reason, {"graphStatus": exc.status})
            raise error from None
        except BaseException:
            # Cancelled (client gone, shutdown): the record stays "interrupted", as is true.
            await self.finish(pending, Outcome.FAILED, "interrupted")
            raise
        after = detail_after(result) if detail_after is not None else None
        await self.finish(pending, Outcome.SUCCESS, None, after)
        self.notify_changed(caller, event, loc, target, {**detail, **(after or {})})
        return result

    def change_error(self, exc: GraphError) -> tuple[ApiError, str]:
        """The answer for a change Graph did not carry out, and the audit record's reason.

        Manager mode: Graph refusing the manager (403) is Entra's own role check saying no —
        ``graph_denied``, answered ``forbidden`` in a sentence a manager understands; Graph
        refusing the manager's token (401) asks for a new sign-in."""
        if self.delegation is not None:
            if isinstance(exc, GraphForbidden):
                return ApiError("forbidden", GRAPH_DENIED_MESSAGE), "graph_denied"
            if isinstance(exc, GraphUnauthorized):
                error = ApiError("reauthentication_required", reauth_url="/auth/login")
                return error, error.code
        if isinstance(exc, SmsSignInRefused):
            return ApiError("conflict", SMS_REFUSALS.get(exc.state)), "conflict"
        if isinstance(exc, ResetFailed):
            error = ApiError.upstream("bad_gateway", RESET_FAILED_MESSAGE)
            return error, "operation_failed"
        error = from_change_error(exc)
        return error, error.code

    @staticmethod
    async def finish(pending: PendingRecord, outcome: Outcome, reason: str | None = None,
                     detail: dict[str, Any] | None = None) -> None:
        """Complete a change's audit record with its outcome (the second write)."""
        try:
            await pending.finish(outcome, reason, detail)
        except AuditUnavailable:
            raise ApiError.upstream("unavailable", "The change was sent, but its audit record "
                                    "could not be completed. Contact IT.") from None


def reauth_url(caller: Caller) -> str:
    """Where a manager signs in again (a bearer caller gets a new token from its own client
    instead, through the same sign-in)."""
    return "/auth/login"


def target_of(snapshot: TargetSnapshot) -> Principal:
    """The target as its audit records name it."""
    profile = snapshot.profile
    return Principal(snapshot.user_id, profile.user_principal_name if profile else "")


def present(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` without its None values (a number Graph holds that cannot be read as one
    has no hash: the key is left out, never filled with something else)."""
    return {k: v for k, v in detail.items() if v is not None}


def phone_of(snapshot: TargetSnapshot, phone_type: str) -> PhoneMethod | None:
    """The target's phone of this type, as the check read it (None: none)."""
    for phone in snapshot.phones or ():
        if phone.phone_type == phone_type:
            return phone
    return None
