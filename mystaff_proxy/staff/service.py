"""The manager's use cases: locations, staff lists, profiles, password resets, phone changes.

Every request runs SPEC §8 afresh: the manager's grants from the policy in force (groups at most
five minutes old), then one live ``$batch`` about the target, then ``authz.decide``; only then
the body is read, the rate limit taken and the change sent. Each refusal and each change is
audited once; a change is reported done only after its record is on disk.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, TypeVar

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
from mystaff_proxy.graph.operations import (
    GraphOperations,
    PhoneMethod,
    ResetFailed,
    StaffSummary,
    TargetSnapshot,
    is_guid,
)
from mystaff_proxy.graph.sign_in_methods import (
    AccessPass,
    IssuedPass,
    SmsSignInRefused,
    issue_pass,
    remove_pass,
    switch_sms_sign_in,
)
from mystaff_proxy.i18n import N_
from mystaff_proxy.i18n import current as current_language
from mystaff_proxy.phones import InvalidPhoneNumber, is_valid_region, last_digits, normalize_phone
from mystaff_proxy.policy import decide as authz
from mystaff_proxy.policy.model import Action
from mystaff_proxy.policy.owners import OwnerSet
from mystaff_proxy.policy.passwords import check_password, temporary_password
from mystaff_proxy.policy.resolve import ResolvedPolicy
from mystaff_proxy.policy.runtime import PolicyRuntime
from mystaff_proxy.sealing import Sealer
from mystaff_proxy.staff.notify import Change, Notifier
from mystaff_proxy.staff.phone_rules import MESSAGES as NOT_ALLOWED_MESSAGES
from mystaff_proxy.staff.phone_rules import own_numbers, refusal
from mystaff_proxy.stores.ratelimit import RateLimiter

GROUPS_MAX_AGE = 300.0  # SPEC §8.2: a manager's groups are at most five minutes old
PHONE_TYPES = ("mobile", "alternateMobile", "office")
MAX_SEARCH = 64
_HOUR = 3600.0
_T = TypeVar("_T")
_SEARCH_OK = re.compile(r"[^\x00-\x1f\x7f]*")  # fullmatch: "$" would let a final "\n" in
# A live check's snapshot may serve a second check within the SAME request (see _check).
# Held in a context variable: aiohttp serves each request in its own task (context), so
# the snapshot lives and dies with the request — nothing global to bound or leak; the
# request id is checked too. (request id, taken at, AU, user id, snapshot)
SNAPSHOT_REUSE_SECONDS = 5.0
_REQUEST_SNAPSHOT: contextvars.ContextVar[tuple[str, float, str, str, TargetSnapshot] | None] = \
    contextvars.ContextVar("mystaff_request_snapshot", default=None)


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


@dataclass(frozen=True)
class PasswordReset:
    """A reset's answer: the temporary password, shown once; ``confirmed`` False when Entra
    accepted it but the manager's role may not read its outcome (manager mode)."""

    password: str
    confirmed: bool = True


PASS_DISABLED_MESSAGE = (N_("Temporary Access Passes are turned off for your organization "
                            "(Microsoft Entra admin center: Authentication methods, Temporary "
                            "Access Pass). Ask IT."))
PASS_NOT_FOR_USER_MESSAGE = (N_("Your organization's Temporary Access Pass policy does not cover "
                                "this person. Ask IT."))
SMS_NO_MOBILE_MESSAGE = N_("This person has no mobile number; add one first.")
#: smsSignInState values that make enabling impossible, as a manager can read them.
SMS_REFUSALS: Final = {
    "phoneNumberNotUnique": N_("This number already signs someone else in; each person needs "
                               "their own mobile number for phone sign-in."),
    "notAllowedByPolicy": N_("Your organization does not allow phone sign-in for this person "
                             "(SMS authentication policy). Ask IT."),
    "notSupported": N_("Phone sign-in is not available for this number."),
    "notConfigured": N_("Phone sign-in is not set up for this number yet; try again later."),
}
GRAPH_DENIED_MESSAGE = (N_("Microsoft Entra refused this change: your own Entra role does not "
                           "cover this person. Nothing was changed; ask IT to check your role."))
RESET_FAILED_MESSAGE = (N_("Microsoft Entra reports that the reset failed; the password was not "
                           "changed. Try again, or contact IT."))


@dataclass(frozen=True)
class LocationView:
    id: str
    name: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class StaffPageView:
    items: tuple[StaffSummary, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class ProfileView:
    id: str
    display_name: str
    user_principal_name: str
    mail: str | None
    job_title: str | None
    actions: tuple[str, ...]
    phones: tuple[PhoneMethod, ...]
    protected_reason: str | None  # why no change is possible (for the page), else None
    access_pass: AccessPass | None = None  # the person's Temporary Access Pass (never the pass)


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


class StaffService:
    def __init__(self, *, ops: GraphOperations, policy: PolicyRuntime, audit: AuditLog,
                 limiter: RateLimiter, cursor_sealer: Sealer, default_region: str,
                 owners: OwnerSet, phone_hasher: PhoneHasher,
                 delegation: Delegation | None = None,
                 operation_wait: float = 10.0, notifier: Notifier | None = None) -> None:
        self._ops = ops
        #: Tells staff of changes to their account ([notify] sender; None: nobody is told).
        self.notifier = notifier
        self._hasher = phone_hasher
        self.owners = owners
        #: Manager mode: changes go to Graph as the manager (None: as the app).
        self._delegation = delegation
        self._operation_wait = operation_wait
        self._policy = policy
        self._audit = audit
        self._limiter = limiter
        self._cursors = cursor_sealer
        self._default_region = default_region
        self._groups = ManagerGroups(ops)
        self._unit_names: dict[str, str] = {}

    # -- who manages what ---------------------------------------------------------------------

    def _policy_in_force(self) -> ResolvedPolicy:
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
        policy = self._policy_in_force()
        groups: frozenset[str] = frozenset()
        if policy.manager_group_ids:
            groups = await self._groups.get(caller.oid)
        return policy.locations_for_manager(caller.oid, groups)

    async def _manager_grants(self, caller: Caller, event: EventType, action: str,
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
            await self._failed(caller, event, exc, location=location)
        if not grants:
            await self._refused(caller, event, "insufficient_permissions", action=action,
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
        await self._refused(caller, event, "reauthentication_required", location=loc,
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

    async def locations(self, caller: Caller, *, required: bool = True) -> list[LocationView]:
        """The manager's locations; ``insufficient_permissions`` for a non-manager if required."""
        grants = await self._manager_grants(caller, EventType.ACCESS_DENIED, "view") \
            if required else await self.grants(caller)
        policy = self._policy_in_force()
        await self._load_unit_names(policy, list(grants))
        out = []
        for key in sorted(grants):
            loc = policy.location(key)
            if loc is None:
                continue
            name = loc.name or self._unit_names.get(loc.administrative_unit) or key
            actions = tuple(a.value for a in Action if a in grants[key])
            out.append(LocationView(key, name, actions))
        return out

    async def _load_unit_names(self, policy: ResolvedPolicy, keys: list[str]) -> None:
        wanted = []
        for key in keys:
            loc = policy.location(key)
            if loc is not None and loc.name is None and \
                    loc.administrative_unit not in self._unit_names:
                wanted.append(loc.administrative_unit)
        if not wanted:
            return
        try:
            # One $batch per 20 units (was one GET each): one round trip for a manager's list.
            names = await self._ops.unit_names(wanted)
        except GraphError:
            return  # names are cosmetic: fall back to the location key
        self._unit_names.update(names)

    async def warm_unit_names(self) -> None:
        """Fetch the names of every unnamed location now (start-up), so that a manager's
        first ``/me`` or location list does not wait for Graph (bench/startup.py)."""
        policy = self._policy.current
        if policy is not None:
            await self._load_unit_names(policy, list(policy.locations))

    # -- staff lists ----------------------------------------------------------------------------

    async def staff_page(self, caller: Caller, loc: str, *, search: str = "", top: int = 25,
                         cursor: str | None = None) -> StaffPageView:
        grants = await self._manager_grants(caller, EventType.ACCESS_DENIED, "view", loc)
        au = self._unit_of(grants, loc)
        if au is None:
            await self._refused(caller, EventType.ACCESS_DENIED, "not_found", location=loc,
                                action="view")
        next_link = None
        if cursor:
            next_link = self._open_cursor(caller, loc, au, cursor)
            if next_link is None:
                await self._refused(caller, EventType.ACCESS_DENIED, "invalid_request",
                                    location=loc, action="view")
        search = search.strip()
        if len(search) > MAX_SEARCH or not _SEARCH_OK.fullmatch(search) or not 1 <= top <= 100:
            await self._refused(caller, EventType.ACCESS_DENIED, "invalid_request",
                                location=loc, action="view")
        try:
            page = await self._ops.list_staff(au, search=search, top=top, next_link=next_link)
        except GraphError as exc:
            await self._failed(caller, EventType.ACCESS_DENIED, exc, location=loc)
        cursor_out = None
        if page.next_link:
            cursor_out = self._cursors.seal({"o": caller.oid, "l": loc, "a": au,
                                             "n": page.next_link})
        return StaffPageView(page.items, cursor_out)

    def _open_cursor(self, caller: Caller, loc: str, au: str, cursor: str) -> str | None:
        """A cursor is ours, for this manager and location, and points into this unit."""
        data = self._cursors.open(cursor) if len(cursor) <= 4096 else None
        if not data or data.get("o") != caller.oid or data.get("l") != loc \
                or data.get("a") != au:
            return None
        link = data.get("n")
        if not isinstance(link, str) or not self._ops.is_own_next_link(au, link):
            return None
        return link

    def _unit_of(self, grants: Mapping[str, frozenset[Action]], loc: str) -> str | None:
        if loc not in grants:
            return None
        location = self._policy_in_force().location(loc)
        return location.administrative_unit if location is not None else None

    # -- one person ---------------------------------------------------------------------------

    async def _check(self, caller: Caller, loc: str, user_id: str, action: str,
                     event: EventType, *, with_phones: bool,
                     manager_phones: bool = False, with_pass: bool = False,
                     with_pass_policy: bool = False) -> TargetSnapshot:
        """SPEC §8 steps 2-6 for one target; refusals are audited and raised.
        ``manager_phones``: the caller's own numbers too, in the same ``$batch``."""
        grants = await self._manager_grants(caller, event, action, loc, target_id=user_id)
        au = self._unit_of(grants, loc)
        if au is None or not is_guid(user_id):
            await self._refused(caller, event, "not_found", location=loc, action=action)
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
                snapshot = await self._ops.fetch_target(
                    au, user_id, with_phones=with_phones,
                    manager_id=caller.oid if manager_phones else None,
                    with_pass=with_pass, with_pass_policy=with_pass_policy)
            except GraphError as exc:
                await self._failed(caller, event, exc, location=loc, target_id=user_id)
            self._remember_snapshot(caller.request_id, au, snapshot)
        await self._decide(caller, grants, loc, action, event, snapshot)
        return snapshot

    async def _decide(self, caller: Caller, grants: Mapping[str, frozenset[Action]], loc: str,
                      action: str, event: EventType, snapshot: TargetSnapshot) -> None:
        """``authz.decide`` on Graph's live answer about one person; a refusal is audited and
        raised (a non-member is never named). Every check runs it, and so does a bulk reset
        for each of its people (bulk_reset.py)."""
        facts = self._facts(snapshot)
        decision = authz.decide(authz.ActionRequest(caller.oid, grants, loc, action), facts,
                                self._policy_in_force().protection)
        if not decision.allowed:
            target = _target(snapshot) if snapshot.is_member else None
            await self._refused(caller, event, decision.code or "not_found", location=loc,
                                action=action, target=target, why=decision.why)

    def _facts(self, snapshot: TargetSnapshot) -> authz.TargetFacts:
        """Graph's live answer, plus what the policy in force grants the target (a manager?)
        and whether the target owns an app or a role-assignable group (the owner set)."""
        target_grants = None
        if snapshot.is_member:
            profile = snapshot.profile
            target_grants = self._policy_in_force().grants_of_target(
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

    async def profile(self, caller: Caller, loc: str, user_id: str, *,
                      with_pass_policy: bool = False) -> ProfileView:
        """``with_pass_policy``: read the tenant's pass settings too, for a pass the same
        request issues next (its check then reuses this read: no second round trip)."""
        snapshot = await self._check(caller, loc, user_id, authz.VIEW, EventType.ACCESS_DENIED,
                                     with_phones=True, with_pass=True,
                                     with_pass_policy=with_pass_policy)
        grants = await self.grants(caller)
        policy = self._policy_in_force()
        facts = self._facts(snapshot)
        actions = authz.allowed_actions(grants, loc, facts, policy.protection,
                                        manager_oid=caller.oid)
        # Protection does not depend on what this location allows, so a view-only or
        # phone-only manager still learns (and hides) it; whether another manager is
        # outranked does depend on everything this manager holds.
        probe = authz.protection_refusal(caller.oid, grants, facts, policy.protection)
        protected_reason = probe.why if probe is not None and probe.code == "protected_user" \
            else None
        profile = snapshot.profile
        assert profile is not None
        # A protected person's phone numbers are none of the manager's business.
        phones = snapshot.phones or () if protected_reason is None else ()
        access_pass = snapshot.access_pass if protected_reason is None else None
        return ProfileView(profile.id, profile.display_name, profile.user_principal_name,
                           profile.mail, profile.job_title, tuple(actions), phones,
                           protected_reason, access_pass)

    async def reset_password(self, caller: Caller, loc: str, user_id: str,
                             body: Any) -> PasswordReset:
        event = EventType.PASSWORD_RESET
        snapshot = await self._check(caller, loc, user_id, Action.RESET_PASSWORD.value, event,
                                     with_phones=False)
        target = _target(snapshot)
        rules = self._policy_in_force().policy.password
        if not isinstance(body, dict) or set(body) - {"password"}:
            await self._refused(caller, event, "invalid_request", location=loc, target=target)
        typed = body.get("password")
        profile = snapshot.profile
        assert profile is not None
        if typed is not None and (
                not isinstance(typed, str) or not rules.allow_manager_entered or check_password(
                    typed, upn=profile.user_principal_name, display_name=profile.display_name)):
            await self._refused(caller, event, "password_rejected", location=loc,
                                target=target, method="manager_entered")
        await self._take(caller, event, f"reset:{caller.oid}",
                         self._policy_in_force().policy.limits
                         .password_resets_per_manager_per_hour, loc, target)
        # Manager mode too: the proxy's own password (Graph's choice would ignore the
        # policy's length), sent as resetPassword's newPassword.
        password = typed if isinstance(typed, str) else temporary_password(
            rules.style, rules.length, upn=profile.user_principal_name,
            display_name=profile.display_name)
        detail = {"method": "manager_entered" if typed is not None else "generated"}
        token = await self._delegated_token(caller, event, loc, target)
        if token is None:
            await self._change(caller, event, loc, target, detail,
                               self._ops.reset_password(snapshot.user_id, password))
            return PasswordReset(password)
        confirmed = await self._change(
            caller, event, loc, target, detail,
            self._ops.reset_password_as_manager(snapshot.user_id, password, token,
                                                wait_seconds=self._operation_wait),
            detail_after=lambda ok: None if ok else {"operation": "unconfirmed"})
        return PasswordReset(password, confirmed)

    async def add_phone(self, caller: Caller, loc: str, user_id: str,
                        body: Any) -> PhoneMethod:
        event = EventType.PHONE_ADDED
        snapshot = await self._check(caller, loc, user_id, Action.MANAGE_PHONE.value, event,
                                     with_phones=True, manager_phones=self._manager_phones())
        target = _target(snapshot)
        if not isinstance(body, dict) or set(body) - {"phoneType", "phoneNumber", "region"} \
                or body.get("phoneType") not in PHONE_TYPES:
            await self._refused(caller, event, "invalid_request", location=loc, target=target)
        phone_type = str(body["phoneType"])
        number = await self._number(caller, event, loc, target, body, phone_type)
        phone: dict[str, Any] = {"phoneType": phone_type, "phoneHash": self._hasher.of(number)}
        await self._allowed_number(caller, event, loc, target, snapshot, number, phone)
        await self._take_phone_change(caller, event, loc, target, phone)
        # Graph would answer 409 to these (SPEC §7.2: conflict comes after rate_limited, and
        # counts like a change sent); answered from the state just read, without the write.
        have = {p.phone_type for p in snapshot.phones or ()}
        if phone_type in have or (phone_type == "alternateMobile" and "mobile" not in have):
            await self._refused(caller, event, "conflict", location=loc, target=target,
                                **phone)
        detail = _present({"phoneType": phone_type, "phoneLast2": last_digits(number), **phone})
        token = await self._delegated_token(caller, event, loc, target)
        stored: PhoneMethod = await self._change(
            caller, event, loc, target, detail,
            self._ops.add_phone(snapshot.user_id, phone_type, number, token=token))
        return stored

    async def change_phone(self, caller: Caller, loc: str, user_id: str, phone_type: str,
                           body: Any) -> PhoneMethod:
        event = EventType.PHONE_CHANGED
        snapshot = await self._check(caller, loc, user_id, Action.MANAGE_PHONE.value, event,
                                     with_phones=True, manager_phones=self._manager_phones())
        target = _target(snapshot)
        current = await self._existing_phone(caller, event, loc, snapshot, phone_type)
        if not isinstance(body, dict) or set(body) - {"phoneNumber", "region"}:
            await self._refused(caller, event, "invalid_request", location=loc, target=target)
        number = await self._number(caller, event, loc, target, body, phone_type)
        phone: dict[str, Any] = {"phoneType": phone_type, "phoneHash": self._hasher.of(number),
                                 "previousPhoneHash": self._hasher.of(current.phone_number)}
        await self._allowed_number(caller, event, loc, target, snapshot, number, phone)
        await self._take_phone_change(caller, event, loc, target, phone)
        detail = _present({"phoneType": phone_type, "phoneLast2": last_digits(number),
                           "previousPhoneLast2": last_digits(current.phone_number), **phone})
        token = await self._delegated_token(caller, event, loc, target)
        await self._change(caller, event, loc, target, detail,
                           self._ops.update_phone(snapshot.user_id, phone_type, number,
                                                  token=token))
        # Graph answers 204: the state is the one read in the check, the number ours.
        return PhoneMethod(phone_type, number, current.sms_sign_in_state)

    async def remove_phone(self, caller: Caller, loc: str, user_id: str,
                           phone_type: str) -> None:
        event = EventType.PHONE_REMOVED
        snapshot = await self._check(caller, loc, user_id, Action.MANAGE_PHONE.value, event,
                                     with_phones=True)
        target = _target(snapshot)
        current = await self._existing_phone(caller, event, loc, snapshot, phone_type)
        phone: dict[str, Any] = {"phoneType": phone_type,
                                 "phoneHash": self._hasher.of(current.phone_number)}
        await self._take_phone_change(caller, event, loc, target, phone)
        if phone_type == "mobile" and _phone_of(snapshot, "alternateMobile") is not None:
            await self._refused(caller, event, "conflict", location=loc, target=target,
                                **phone)  # Graph's 409, as in add_phone
        detail = _present({"phoneType": phone_type,
                           "phoneLast2": last_digits(current.phone_number), **phone})
        token = await self._delegated_token(caller, event, loc, target)
        await self._change(caller, event, loc, target, detail,
                           self._ops.delete_phone(snapshot.user_id, phone_type, token=token))

    # -- sign-in methods: Temporary Access Pass, SMS sign-in (docs/sign-in-methods.md) -------

    async def issue_access_pass(self, caller: Caller, loc: str, user_id: str,
                                body: Any) -> IssuedPass:
        """A Temporary Access Pass for someone who cannot sign in (a lost phone): within the
        policy's and the tenant's bounds, for people the tenant's TAP policy covers. A new
        pass replaces one that exists (Graph's rule). Shown once; never audited."""
        event = EventType.TEMPORARY_ACCESS_PASS_ISSUED
        snapshot = await self._check(caller, loc, user_id,
                                     Action.ISSUE_TEMPORARY_ACCESS_PASS.value, event,
                                     with_phones=False, with_pass_policy=True)
        target = _target(snapshot)
        rules = self._policy_in_force().policy.temporary_access_pass
        tenant = snapshot.pass_policy
        assert tenant is not None
        if not isinstance(body, dict) or set(body) - {"lifetimeMinutes", "isUsableOnce"}:
            await self._refused(caller, event, "invalid_request", location=loc, target=target)
        wanted = body.get("lifetimeMinutes", rules.lifetime_minutes)
        once = body.get("isUsableOnce", rules.one_time)
        if not isinstance(wanted, int) or isinstance(wanted, bool) \
                or not 1 <= wanted <= rules.max_lifetime_minutes or not isinstance(once, bool) \
                or (rules.one_time and not once):
            await self._refused(caller, event, "invalid_request", location=loc, target=target)
        if not tenant.enabled:
            await self._refused(caller, event, "forbidden", location=loc, target=target,
                                why="pass_disabled", message=PASS_DISABLED_MESSAGE)
        if not tenant.applies_to(snapshot.group_ids):
            await self._refused(caller, event, "forbidden", location=loc, target=target,
                                why="pass_not_for_user", message=PASS_NOT_FOR_USER_MESSAGE)
        lifetime, once = tenant.lifetime(wanted), once or tenant.usable_once
        limit = self._policy_in_force().policy.limits.temporary_access_passes_per_manager_per_hour
        await self._take(caller, event, f"pass:{caller.oid}", limit, loc, target)
        token = await self._delegated_token(caller, event, loc, target)
        issued: IssuedPass = await self._change(
            caller, event, loc, target, {"lifetimeInMinutes": lifetime, "isUsableOnce": once},
            issue_pass(self._ops.client, snapshot.user_id, lifetime, once, token=token))
        return issued

    async def remove_access_pass(self, caller: Caller, loc: str, user_id: str) -> None:
        event = EventType.TEMPORARY_ACCESS_PASS_REMOVED
        snapshot = await self._check(caller, loc, user_id,
                                     Action.ISSUE_TEMPORARY_ACCESS_PASS.value, event,
                                     with_phones=False, with_pass=True)
        target = _target(snapshot)
        current = snapshot.access_pass
        if current is None:
            await self._refused(caller, event, "not_found", location=loc, target=target)
        limit = self._policy_in_force().policy.limits.temporary_access_passes_per_manager_per_hour
        await self._take(caller, event, f"pass:{caller.oid}", limit, loc, target)
        token = await self._delegated_token(caller, event, loc, target)
        await self._change(caller, event, loc, target, {},
                           remove_pass(self._ops.client, snapshot.user_id, current.id,
                                       token=token))

    async def switch_sms_sign_in(self, caller: Caller, loc: str, user_id: str,
                                 enable: bool) -> PhoneMethod:
        """Phone-number sign-in on the mobile, on or off. Graph's states that make it
        impossible are refused first, in a sentence (``conflict``); the answer is the mobile
        with the state Graph reports after the switch."""
        event = EventType.SMS_SIGN_IN_ENABLED if enable else EventType.SMS_SIGN_IN_DISABLED
        snapshot = await self._check(caller, loc, user_id, Action.MANAGE_SMS_SIGN_IN.value,
                                     event, with_phones=True)
        target = _target(snapshot)
        mobile = _phone_of(snapshot, "mobile")
        if mobile is None:
            await self._refused(caller, event, "conflict", location=loc, target=target,
                                why="no_mobile", message=SMS_NO_MOBILE_MESSAGE)
        phone: dict[str, Any] = {"phoneType": "mobile",
                                 "phoneHash": self._hasher.of(mobile.phone_number)}
        state = mobile.sms_sign_in_state or ""
        if enable and state in SMS_REFUSALS:
            await self._refused(caller, event, "conflict", location=loc, target=target,
                                why=state, message=SMS_REFUSALS[state], **phone)
        await self._take_phone_change(caller, event, loc, target, phone)
        token = await self._delegated_token(caller, event, loc, target)
        new_state = await self._change(
            caller, event, loc, target, _present(phone),
            switch_sms_sign_in(self._ops.client, snapshot.user_id, enable, token=token),
            detail_after=lambda s: {"smsSignInState": s} if s else None)
        return PhoneMethod("mobile", mobile.phone_number, new_state)

    # -- helpers ------------------------------------------------------------------------------

    async def _existing_phone(self, caller: Caller, event: EventType, loc: str,
                              snapshot: TargetSnapshot, phone_type: str) -> PhoneMethod:
        """The target's phone of this type, or a refusal: no such phone is ``not_found``."""
        current = _phone_of(snapshot, phone_type)
        if current is None:
            await self._refused(caller, event, "not_found", location=loc,
                                target=_target(snapshot),
                                phoneType=phone_type if phone_type in PHONE_TYPES else None)
        return current

    async def _take_phone_change(self, caller: Caller, event: EventType, loc: str,
                                 target: Principal, phone: dict[str, Any]) -> None:
        """``phone``: the refusal's detail (type and hashes: which number was refused)."""
        limit = self._policy_in_force().policy.limits.phone_changes_per_manager_per_hour
        await self._take(caller, event, f"phone:{caller.oid}", limit, loc, target, **phone)

    def _manager_phones(self) -> bool:
        """Whether a phone change needs the manager's own numbers (read in its check)."""
        return self._policy_in_force().policy.phones.refuse_manager_numbers

    async def _allowed_number(self, caller: Caller, event: EventType, loc: str,
                              target: Principal, snapshot: TargetSnapshot, number: str,
                              phone: dict[str, Any]) -> None:
        """``phone_number_not_allowed`` (phone_rules.py): the manager's own number, a
        non-geographic range, or a region the policy does not allow. Checked with
        ``invalid_phone_number``: after authorization, before the rate limit."""
        rules = self._policy_in_force().policy.phones
        mine: frozenset[str] = frozenset()
        if rules.refuse_manager_numbers:
            if snapshot.manager_phones is None:  # the policy changed since the check
                await self._refused(caller, event, "upstream_unavailable", location=loc,
                                    target=target, why="manager_numbers_unknown", **phone)
            mine = own_numbers(snapshot.manager_phones, self._default_region)
        why = refusal(number, rules, mine)
        if why is not None:
            await self._refused(caller, event, "phone_number_not_allowed", location=loc,
                                target=target, why=why, message=NOT_ALLOWED_MESSAGES[why],
                                **phone)

    async def _number(self, caller: Caller, event: EventType, loc: str, target: Principal,
                      body: dict[str, Any], phone_type: str) -> str:
        raw, region = body.get("phoneNumber"), body.get("region", self._default_region)
        if not isinstance(raw, str) or not isinstance(region, str) \
                or not is_valid_region(region):
            await self._refused(caller, event, "invalid_request", location=loc, target=target,
                                phoneType=phone_type)
        try:
            return normalize_phone(str(raw), str(region))
        except InvalidPhoneNumber:
            await self._refused(caller, event, "invalid_phone_number", location=loc,
                                target=target, phoneType=phone_type)

    async def _take(self, caller: Caller, event: EventType, key: str, limit: int, loc: str,
                    target: Principal, **detail: Any) -> None:
        wait = await self._limiter.acquire(key, limit, _HOUR)
        if wait is not None:
            await self._refused(caller, event, "rate_limited", location=loc, target=target,
                                retryAfter=int(wait) + 1, retry_after=wait, **detail)

    async def _write(self, record: AuditEvent) -> None:
        try:
            await self._audit.write(record)
        except AuditUnavailable:
            raise audit_unavailable() from None

    async def _refused(self, caller: Caller, event: EventType, code: str, *,
                       location: str | None = None, target: Principal | None = None,
                       action: str | None = None, why: str | None = None,
                       retry_after: float | None = None, reauth_url: str | None = None,
                       message: str | None = None, **detail: Any) -> NoReturn:
        extra = {k: v for k, v in detail.items() if v is not None}
        if action is not None and event is EventType.ACCESS_DENIED:
            extra["action"] = action
        if why is not None and why != code:
            extra["why"] = why
        await self._write(AuditEvent(
            request_id=caller.request_id, event=event, actor=caller.principal,
            outcome=Outcome.DENIED, target=target, location=location, reason=code,
            detail=extra or None))
        raise ApiError(code, message, retry_after=retry_after, reauth_url=reauth_url)

    async def _failed(self, caller: Caller, event: EventType, exc: GraphError, *,
                      location: str | None = None, target: Principal | None = None,
                      target_id: str | None = None,
                      detail: dict[str, Any] | None = None) -> NoReturn:
        error = from_graph_error(exc)
        if target is None and target_id is not None and is_guid(target_id):
            target = Principal(target_id.lower(), "")
        extra = dict(detail or {})
        extra["graphStatus"] = exc.status
        await self._write(AuditEvent(
            request_id=caller.request_id, event=event, actor=caller.principal,
            outcome=Outcome.DENIED if error.code in ("not_found", "conflict") else Outcome.FAILED,
            target=target, location=location, reason=error.code, detail=extra))
        raise error

    async def _delegated_token(self, caller: Caller, event: EventType, loc: str,
                               target: Principal) -> str | None:
        """Manager mode: the manager's delegated Graph token for this change (None: app
        mode). Entra asking for a new sign-in is refused ``reauthentication_required``
        (audited, nothing sent); the identity platform failing fails the change."""
        if self._delegation is None:
            return None
        try:
            if caller.assertion is not None:
                return await self._delegation.for_assertion(caller.assertion)
            if caller.session_id is not None:
                return await self._delegation.for_session(caller.session_id)
            raise ReauthenticationRequired("no_delegation")
        except ReauthenticationRequired as exc:
            await self._refused(caller, event, "reauthentication_required", location=loc,
                                target=target, why=exc.why,
                                reauth_url=reauth_url(caller))
        except GraphError as exc:
            await self._failed(caller, event, exc, location=loc, target=target)

    async def _change(self, caller: Caller, event: EventType, loc: str, target: Principal,
                      detail: dict[str, Any], change: Coroutine[Any, Any, _T], *,
                      detail_after: Callable[[_T], dict[str, Any] | None] | None = None) -> _T:
        """Send a change to Graph between its audit record's two writes (audit.begin).
        ``detail_after``: what the outcome adds to the record (e.g. "unconfirmed")."""
        _REQUEST_SNAPSHOT.set(None)  # after a change, a check in this request reads afresh
        try:
            pending = await self._audit.begin(AuditEvent(
                request_id=caller.request_id, event=event, actor=caller.principal,
                outcome=Outcome.SUCCESS, target=target, location=loc, detail=detail))
        except AuditUnavailable:
            change.close()
            raise ApiError.upstream("unavailable", "The audit log cannot be written, so "
                                    "nothing was changed. Contact IT.") from None
        try:
            result = await change
        except GraphError as exc:
            error, reason = self._change_error(exc)
            outcome = Outcome.DENIED if error.code in ("not_found", "conflict", "forbidden",
                                                       "reauthentication_required") \
                else Outcome.FAILED
            await self._finish(pending, outcome, reason, {"graphStatus": exc.status})
            raise error from None
        except BaseException:
            # Cancelled (client gone, shutdown): the record stays "interrupted", as is true.
            await self._finish(pending, Outcome.FAILED, "interrupted")
            raise
        after = detail_after(result) if detail_after is not None else None
        await self._finish(pending, Outcome.SUCCESS, None, after)
        self.notify_changed(caller, event, loc, target, {**detail, **(after or {})})
        return result

    def _change_error(self, exc: GraphError) -> tuple[ApiError, str]:
        """The answer for a change Graph did not carry out, and the audit record's reason.

        Manager mode: Graph refusing the manager (403) is Entra's own role check saying no —
        ``graph_denied``, answered ``forbidden`` in a sentence a manager understands; Graph
        refusing the manager's token (401) asks for a new sign-in."""
        if self._delegation is not None:
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
    async def _finish(pending: PendingRecord, outcome: Outcome, reason: str | None = None,
                      detail: dict[str, Any] | None = None) -> None:
        try:
            await pending.finish(outcome, reason, detail)
        except AuditUnavailable:
            raise ApiError.upstream("unavailable", "The change was sent, but its audit record "
                                    "could not be completed. Contact IT.") from None


def reauth_url(caller: Caller) -> str:
    """Where a manager signs in again (a bearer caller gets a new token from its own client
    instead, through the same sign-in)."""
    return "/auth/login"


def _target(snapshot: TargetSnapshot) -> Principal:
    profile = snapshot.profile
    return Principal(snapshot.user_id, profile.user_principal_name if profile else "")


def _present(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` without its None values (a number Graph holds that cannot be read as one
    has no hash: the key is left out, never filled with something else)."""
    return {k: v for k, v in detail.items() if v is not None}


def _phone_of(snapshot: TargetSnapshot, phone_type: str) -> PhoneMethod | None:
    for phone in snapshot.phones or ():
        if phone.phone_type == phone_type:
            return phone
    return None
