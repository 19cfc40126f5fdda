"""The Graph operations the proxy performs, typed; nothing above sees raw JSON.

Every call and the permission it needs: docs/graph-calls.md.

Round trips are the manager's wait: everything one page view or one check needs goes out in
one ``$batch`` (``fetch_target``), and a change is that check plus one call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from mystaff_proxy.graph.client import (
    BatchRequest,
    GraphClient,
    GraphResponse,
    raise_for,
    retry_after,
)
from mystaff_proxy.graph.exceptions import (
    IDENTITY,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    GraphUnavailable,
)
from mystaff_proxy.graph.sign_in_methods import (
    AccessPass,
    PassPolicy,
    access_pass,
    pass_policy,
    pass_requests,
)
from mystaff_proxy.ids import canonical_guid

PHONE_METHOD_IDS = {
    "mobile": "3179e48a-750b-4051-897c-87b9720928f7",
    "alternateMobile": "b6332ec1-7057-4abe-9331-3d72feddfe41",
    "office": "e37fc753-ff3b-4958-9484-eaa9425c82bc",
}
EVENTUAL = {"ConsistencyLevel": "eventual"}
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"  # the same in every tenant
PIM_UNLICENSED = "AadPremiumLicenseRequired"
#: Graph expands at most 20 directory objects of a relationship; more means "read them all".
EXPAND_LIMIT = 20
#: The owned side of "owns something that is tenant-wide power" (docs/authorization.md):
#: Graph has no app-only ``/users/{id}/ownedObjects``, so the owners are read from here.
_OWNED_QUERY = {"$select": "id", "$expand": "owners($select=id)", "$top": "999"}
OWNED_COLLECTIONS: tuple[tuple[str, dict[str, str]], ...] = (
    ("applications", _OWNED_QUERY),
    ("servicePrincipals", _OWNED_QUERY),
    ("groups", {"$filter": "isAssignableToRole eq true", **_OWNED_QUERY}),
)
STAFF_FIELDS = "id,displayName,userPrincipalName,jobTitle"
PROFILE_FIELDS = "id,displayName,userPrincipalName,mail,jobTitle"

def odata_string(value: str) -> str:
    """A string literal for ``$filter``: single quotes doubled, as OData requires."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class StaffSummary:
    id: str
    display_name: str
    user_principal_name: str
    job_title: str | None


@dataclass(frozen=True)
class UserProfile:
    id: str
    display_name: str
    user_principal_name: str
    mail: str | None
    job_title: str | None


@dataclass(frozen=True)
class PhoneMethod:
    phone_type: str
    phone_number: str
    sms_sign_in_state: str | None


@dataclass(frozen=True)
class StaffPage:
    items: tuple[StaffSummary, ...]
    next_link: str | None


@dataclass(frozen=True)
class TargetSnapshot:
    """What Graph says, right now, about a target user in one administrative unit."""

    user_id: str
    is_member: bool
    profile: UserProfile | None
    role_template_ids: frozenset[str]  # tenant-wide directory roles (direct or via groups)
    has_role_assignment: bool  # any role assignment of the user itself, any scope
    in_role_assignable_group: bool
    group_ids: frozenset[str]  # transitive group memberships
    phones: tuple[PhoneMethod, ...] | None  # None when not asked for
    #: PIM: eligible for a directory role, or for membership / ownership of a PIM-governed
    #: group (False as well on a tenant without PIM's licence, where none can exist).
    eligible_admin: bool = False
    #: The acting manager's own numbers as Graph has them (phone methods, ``mobilePhone``,
    #: ``businessPhones``: free text), read in the same ``$batch``; None when not asked for.
    manager_phones: tuple[str, ...] | None = None
    #: The target's Temporary Access Pass (never the pass itself), when asked for:
    #: ``access_pass_known`` says the list was read (``access_pass`` None: there is none).
    access_pass: AccessPass | None = None
    access_pass_known: bool = False
    #: The tenant's TAP method configuration, when asked for (issuing a pass).
    pass_policy: PassPolicy | None = None

    @property
    def is_admin(self) -> bool:
        return bool(self.role_template_ids) or self.has_role_assignment \
            or self.in_role_assignable_group or self.eligible_admin


@dataclass(frozen=True)
class ManagerAccount:
    """The signed-in manager's own account, as Graph has it now."""

    enabled: bool
    sessions_valid_from: float | None  # signInSessionsValidFromDateTime (epoch seconds)


@dataclass(frozen=True)
class RoleAssignment:
    """One directory role of a principal (manager mode: what backs a grant)."""

    role_definition_id: str  # lower-cased; a built-in role's id is its template id
    directory_scope_id: str  # "/" (tenant-wide) or "/administrativeUnits/{id}" (lower-cased)

    def covers_unit(self, au_id: str) -> bool:
        return self.directory_scope_id in ("/", f"/administrativeunits/{au_id.lower()}")


def _timestamp(value: Any) -> float | None:
    """An RFC 3339 UTC date-time from Graph as epoch seconds; None when absent.
    Anything else is a malformed answer (ValueError): a check must not pass on it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not a date-time")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("a date-time without a time zone")
    return parsed.timestamp()


def _error_code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _values(resp: GraphResponse) -> list[dict[str, Any]]:
    body = resp.body
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise GraphUnavailable(502, "malformed", "Graph sent a malformed collection")
    return [v for v in body["value"] if isinstance(v, dict)]


def _staff(obj: dict[str, Any]) -> StaffSummary:
    return StaffSummary(
        id=str(obj.get("id", "")),
        display_name=_str(obj, "displayName") or "",
        user_principal_name=_str(obj, "userPrincipalName") or "",
        job_title=_str(obj, "jobTitle"),
    )


def _phone(obj: dict[str, Any]) -> PhoneMethod:
    return PhoneMethod(
        phone_type=_str(obj, "phoneType") or "",
        phone_number=_str(obj, "phoneNumber") or "",
        sms_sign_in_state=_str(obj, "smsSignInState"),
    )


class ResetFailed(GraphUnavailable):
    """Graph's long-running password reset ended ``failed``: the password was not changed."""


def target_requests(au_id: str, user_id: str, *, with_phones: bool,
                    manager_id: str | None = None, with_pass: bool = False,
                    with_pass_policy: bool = False) -> list[BatchRequest]:
    """The sub-requests of one person's live check (``GraphOperations.fetch_target``), ids
    unique within it: membership, profile, groups, roles, PIM eligibility (and more)."""
    au, uid = canonical_guid(au_id), canonical_guid(user_id)
    requests = [
        BatchRequest("member", "GET",
                     f"/directory/administrativeUnits/{au}/members/{uid}?$select=id"),
        BatchRequest("user", "GET", f"/users/{uid}?$select={PROFILE_FIELDS}"),
        BatchRequest("groups", "GET", f"/users/{uid}/transitiveMemberOf?$top=999"),
        BatchRequest("roles", "GET", "/roleManagement/directory/roleAssignments"
                     f"?$filter=principalId%20eq%20'{uid}'&$select=id,directoryScopeId"),
    ]
    # PIM eligibility (docs/authorization.md): an eligible Global Administrator is one
    # activation away from the role, so eligibility protects like an active role. In the
    # same $batch: no round trip added.
    requests += [
        BatchRequest("eligibleRoles", "GET",
                     "/roleManagement/directory/roleEligibilityScheduleInstances"
                     f"?$filter=principalId%20eq%20'{uid}'&$select=id"),
        BatchRequest("eligibleGroups", "GET",
                     "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"
                     f"?$filter=principalId%20eq%20'{uid}'&$select=id,groupId,accessId"),
    ]
    if with_phones:
        requests.append(BatchRequest("phones", "GET",
                                     f"/users/{uid}/authentication/phoneMethods"))
    if manager_id is not None:
        mid = canonical_guid(manager_id)
        requests += [
            BatchRequest("managerPhones", "GET", f"/users/{mid}/authentication/phoneMethods"),
            BatchRequest("managerProfile", "GET",
                         f"/users/{mid}?$select=id,mobilePhone,businessPhones"),
        ]
    requests += pass_requests(uid, with_pass=with_pass, with_policy=with_pass_policy)
    return requests


class GraphOperations:
    """Typed Graph operations over a GraphClient."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client
        #: Whether the tenant has PIM (None until an eligibility read answered).
        self.pim_licensed: bool | None = None

    # -- staff lists ------------------------------------------------------------------------

    def _members_path(self, au_id: str) -> str:
        return f"directory/administrativeUnits/{canonical_guid(au_id)}/members/microsoft.graph.user"

    def is_own_next_link(self, au_id: str, link: str) -> bool:
        """A nextLink is only followed when it is Graph's own, for this unit's members."""
        return link.startswith(self.client.url(self._members_path(au_id)) + "?")

    async def list_staff(self, au_id: str, *, search: str = "", top: int = 25,
                         next_link: str | None = None) -> StaffPage:
        """User members of the unit (direct members only, as Graph lists them)."""
        if next_link is not None:
            if not self.is_own_next_link(au_id, next_link):
                raise ValueError("foreign nextLink")
            body = await self.client.get(next_link, headers=EVENTUAL, op="list_staff")
        else:
            params = {"$select": STAFF_FIELDS, "$top": str(top), "$count": "true"}
            if search:
                q = odata_string(search)
                params["$filter"] = " or ".join(
                    f"startswith({f},{q})"
                    for f in ("displayName", "givenName", "surname", "userPrincipalName")
                )
            body = await self.client.get(self._members_path(au_id), params=params,
                                         headers=EVENTUAL, op="list_staff")
        resp = GraphResponse(200, body)
        link = body.get("@odata.nextLink") if isinstance(body, dict) else None
        return StaffPage(tuple(_staff(v) for v in _values(resp)),
                         link if isinstance(link, str) else None)

    # -- the live check behind every read and change of one user ------------------------------

    async def fetch_target(self, au_id: str, user_id: str, *, with_phones: bool,
                           manager_id: str | None = None, with_pass: bool = False,
                           with_pass_policy: bool = False) -> TargetSnapshot:
        """Membership, profile, roles, groups (and phones) of a user in ONE ``$batch``;
        with ``manager_id``, that manager's own numbers too (docs/phones.md: a number the
        manager holds is refused; in the same batch it costs no round trip).

        Any failure other than "not a member" raises: the caller fails closed.
        """
        uid = canonical_guid(user_id)
        requests = target_requests(au_id, uid, with_phones=with_phones, manager_id=manager_id,
                                   with_pass=with_pass, with_pass_policy=with_pass_policy)
        answers = await self.client.batch(requests, op="fetch_target")
        return await self.target_snapshot(uid, answers, with_phones=with_phones,
                                          manager_id=manager_id, with_pass=with_pass,
                                          with_pass_policy=with_pass_policy)

    async def target_snapshot(self, user_id: str, answers: Mapping[str, GraphResponse], *,
                              with_phones: bool, manager_id: str | None = None,
                              with_pass: bool = False,
                              with_pass_policy: bool = False) -> TargetSnapshot:
        """The snapshot from the answers to ``target_requests`` (by their ids), however they
        were sent: one ``$batch`` (``fetch_target``) or packed with other people's
        (``graph/bulk.py``). Any failure other than "not a member" raises."""
        uid = canonical_guid(user_id)
        member = answers["member"]
        if member.status == 404:
            return TargetSnapshot(uid, False, None, frozenset(), False, False, frozenset(),
                                  None)
        raise_for(member)
        # "Yes, a member" only from an answer that says so: the member object, by its id.
        # A 200 whose body cannot be read is no answer (fail closed), not a membership.
        if not isinstance(member.body, dict) or str(member.body.get("id", "")).lower() != uid:
            raise GraphUnavailable(502, "malformed", "Graph's membership answer is unreadable")
        user = answers["user"]
        if user.status == 404:
            # A member that Graph cannot find as a user is not staff we may touch.
            return TargetSnapshot(uid, False, None, frozenset(), False, False, frozenset(),
                                  None)
        raise_for(user)
        obj = user.body if isinstance(user.body, dict) else {}
        if obj.get("id") is None or str(obj.get("id")).lower() != uid:
            raise GraphUnavailable(502, "malformed", "Graph answered for another user")
        profile = UserProfile(
            id=uid,
            display_name=_str(obj, "displayName") or "",
            user_principal_name=_str(obj, "userPrincipalName") or "",
            mail=_str(obj, "mail"),
            job_title=_str(obj, "jobTitle"),
        )
        memberships = _values(raise_for(answers["groups"]))
        memberships += await self._rest_of(answers["groups"])
        roles = _values(raise_for(answers["roles"]))
        role_templates = frozenset(
            str(m.get("roleTemplateId")) for m in memberships
            if m.get("@odata.type") == "#microsoft.graph.directoryRole"
        )
        groups = [m for m in memberships if m.get("@odata.type") == "#microsoft.graph.group"]
        eligible = await self._any_eligibility(answers["eligibleRoles"]) \
            or await self._any_eligibility(answers["eligibleGroups"])
        phones: tuple[PhoneMethod, ...] | None = None
        if with_phones:
            phones = tuple(_phone(p) for p in _values(raise_for(answers["phones"])))
        manager_phones = None
        if manager_id is not None:
            manager_phones = self._manager_phones(
                answers["managerPhones"], answers["managerProfile"], canonical_guid(manager_id))
        return TargetSnapshot(
            user_id=uid,
            is_member=True,
            profile=profile,
            role_template_ids=role_templates,
            has_role_assignment=bool(roles),
            in_role_assignable_group=any(g.get("isAssignableToRole") is True for g in groups),
            group_ids=frozenset(str(g.get("id", "")).lower() for g in groups),
            phones=phones,
            eligible_admin=eligible,
            manager_phones=manager_phones,
            access_pass=access_pass(answers["accessPass"]) if with_pass else None,
            access_pass_known=with_pass,
            pass_policy=pass_policy(answers["passPolicy"]) if with_pass_policy else None,
        )

    @staticmethod
    def _manager_phones(methods: GraphResponse, profile: GraphResponse,
                        manager_id: str) -> tuple[str, ...]:
        """Every number of the manager's: phone methods, then ``mobilePhone`` and
        ``businessPhones``. Unreadable answers raise (a check must not pass on them)."""
        numbers = [p.phone_number for p in map(_phone, _values(raise_for(methods)))
                   if p.phone_number]
        body = raise_for(profile).body
        if not isinstance(body, dict) or str(body.get("id", "")).lower() != manager_id:
            raise GraphUnavailable(502, "malformed", "Graph's answer about the manager is "
                                   "unreadable")
        mobile, business = body.get("mobilePhone"), body.get("businessPhones") or []
        if not isinstance(business, list):
            raise GraphUnavailable(502, "malformed", "Graph sent malformed businessPhones")
        numbers += [n for n in (mobile, *business) if isinstance(n, str) and n]
        return tuple(numbers)

    async def _any_eligibility(self, resp: GraphResponse) -> bool:
        """Whether an eligibility read lists anything. A tenant without the PIM licence
        answers 400 AadPremiumLicenseRequired: no eligibility can exist there, which is an
        answer (remembered in ``pim_licensed``), not a refusal. Any other error raises."""
        if resp.status == 400 and _error_code(resp.body) == PIM_UNLICENSED:
            self.pim_licensed = False
            return False
        if _values(raise_for(resp)):
            self.pim_licensed = True
            return True
        if isinstance(resp.body, dict) and resp.body.get("@odata.nextLink"):
            return bool(await self._rest_of(resp))  # an empty first page is no answer yet
        self.pim_licensed = True
        return False

    async def _rest_of(self, first: GraphResponse) -> list[dict[str, Any]]:
        """Follow ``@odata.nextLink`` of a collection that did not fit in one page."""
        out: list[dict[str, Any]] = []
        body = first.body
        while isinstance(body, dict) and isinstance(body.get("@odata.nextLink"), str):
            body = await self.client.get(body["@odata.nextLink"], op="next_page")
            out += _values(GraphResponse(200, body))
        return out

    # -- managers ---------------------------------------------------------------------------

    async def transitive_group_ids(self, user_id: str) -> frozenset[str]:
        """Every group the user is in, directly or through nested groups."""
        path = f"users/{canonical_guid(user_id)}/transitiveMemberOf/microsoft.graph.group"
        body = await self.client.get(path, params={"$select": "id", "$top": "999",
                                                   "$count": "true"},
                                     headers=EVENTUAL, op="manager_groups")
        first = GraphResponse(200, body)
        items = _values(first)
        while isinstance(body, dict) and isinstance(body.get("@odata.nextLink"), str):
            body = await self.client.get(body["@odata.nextLink"], headers=EVENTUAL,
                                         op="manager_groups")
            items += _values(GraphResponse(200, body))
        return frozenset(str(g.get("id", "")).lower() for g in items)

    async def manager_account(self, user_id: str) -> ManagerAccount | None:
        """Whether the account may still sign in, and since when its sessions are valid
        (None: the account no longer exists)."""
        try:
            body = await self.client.get(
                f"users/{canonical_guid(user_id)}",
                params={"$select": "id,accountEnabled,signInSessionsValidFromDateTime"},
                op="manager_account")
        except GraphNotFound:
            return None
        try:
            if not isinstance(body, dict):
                raise ValueError("no body")
            valid_from = _timestamp(body.get("signInSessionsValidFromDateTime"))
        except ValueError as exc:
            raise GraphUnavailable(502, "malformed", f"Graph's answer about a manager: {exc}"
                                   ) from None
        return ManagerAccount(enabled=body.get("accountEnabled") is not False,
                              sessions_valid_from=valid_from)

    async def owner_ids(self) -> frozenset[str]:
        """Every owner of an application, a service principal or a role-assignable group
        (lower-cased ids). Off the request path (``OwnerSet``): a whole-tenant read."""
        owners: set[str] = set()
        for kind, query in OWNED_COLLECTIONS:
            url: str | None = kind
            params: dict[str, str] | None = query
            while url is not None:
                body = await self.client.get(url, params=params, op="owners")
                for obj in _values(GraphResponse(200, body)):
                    expanded = obj.get("owners")
                    if not isinstance(expanded, list):
                        raise GraphUnavailable(502, "malformed", "Graph sent no owners")
                    if len(expanded) >= EXPAND_LIMIT:
                        expanded = await self._all_owners(kind, str(obj.get("id", "")))
                    owners.update(str(o.get("id", "")).lower() for o in expanded
                                  if isinstance(o, dict) and o.get("id"))
                link = body.get("@odata.nextLink") if isinstance(body, dict) else None
                url, params = (link, None) if isinstance(link, str) else (None, None)
        return frozenset(owners)

    async def _all_owners(self, kind: str, object_id: str) -> list[dict[str, Any]]:
        body = await self.client.get(f"{kind}/{canonical_guid(object_id)}/owners",
                                     params={"$select": "id", "$top": "999"}, op="owners")
        first = GraphResponse(200, body)
        return _values(first) + await self._rest_of(first)

    async def eligibility_probe(self) -> None:
        """Both PIM eligibility reads, for a principal that cannot exist: raises when the app
        may not read them; sets ``pim_licensed`` (``policy check --online``)."""
        nobody = "00000000-0000-0000-0000-000000000000"
        answers = await self.client.batch([
            BatchRequest("roles", "GET",
                         "/roleManagement/directory/roleEligibilityScheduleInstances"
                         f"?$filter=principalId%20eq%20'{nobody}'&$select=id"),
            BatchRequest("groups", "GET",
                         "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"
                         f"?$filter=principalId%20eq%20'{nobody}'&$select=id"),
        ], op="eligibility_probe")
        for resp in answers.values():
            await self._any_eligibility(resp)

    async def _each(self, paths: Sequence[str], op: str) -> list[GraphResponse | None]:
        """One GET per path, all in ``$batch``es: each answer, or None where Graph found
        nothing (404). Any other error raises: the caller must not guess."""
        answers = await self.client.batch(
            [BatchRequest(str(i), "GET", path) for i, path in enumerate(paths)], op=op)
        out: list[GraphResponse | None] = []
        for i in range(len(paths)):
            resp = answers[str(i)]
            out.append(None if resp.status == 404 else raise_for(resp))
        return out

    async def user_principal_names(self, ids: Sequence[str]) -> dict[str, str]:
        """Object id -> current UPN, for the users that exist."""
        found = await self._each(
            [f"/users/{canonical_guid(v)}?$select=id,userPrincipalName" for v in ids],
            "check_objects")
        return {v: str(r.body.get("userPrincipalName", "")) for v, r in zip(ids, found, strict=True)
                if r is not None and isinstance(r.body, dict)}

    async def resolve_upns(self, upns: Iterable[str]) -> dict[str, str]:
        """UPN (lower-cased) -> object id, for those that exist. Unknown UPNs are left out."""
        wanted = sorted({u.lower() for u in upns})
        found = await self._each(
            [f"/users/{quote(upn, safe='@')}?$select=id" for upn in wanted], "resolve_upns")
        return {upn: r.body["id"].lower() for upn, r in zip(wanted, found, strict=True)
                if r is not None and isinstance(r.body, dict)
                and isinstance(r.body.get("id"), str)}

    async def missing_objects(self, kind: str, ids: Sequence[str]) -> list[str]:
        """Which of these administrative units / groups / users do not exist."""
        base = {"administrativeUnit": "directory/administrativeUnits", "group": "groups",
                "user": "users"}[kind]
        found = await self._each([f"/{base}/{quote(v, safe='@')}?$select=id" for v in ids],
                                 "check_objects")
        return [v for v, r in zip(ids, found, strict=True) if r is None]

    async def unit_name(self, au_id: str) -> str:
        body = await self.client.get(f"directory/administrativeUnits/{canonical_guid(au_id)}",
                                     params={"$select": "id,displayName"}, op="unit")
        return str(body.get("displayName", "")) if isinstance(body, dict) else ""

    async def unit_names(self, au_ids: Sequence[str]) -> dict[str, str]:
        """AU id -> displayName for those that exist, 20 per ``$batch`` (one round trip for
        up to 20 units, instead of one GET each). Units Graph cannot find are left out."""
        wanted = list(dict.fromkeys(au_ids))
        found = await self._each(
            [f"/directory/administrativeUnits/{canonical_guid(au)}?$select=id,displayName"
             for au in wanted], "unit")
        return {au: str(r.body.get("displayName", "")) for au, r in zip(wanted, found, strict=True)
                if r is not None and isinstance(r.body, dict)}

    # -- manager mode: the roles behind a grant, the app's own power (docs/manager-mode.md) ---

    async def role_assignments_of(self, principal_ids: Sequence[str], *, eligible: bool = False
                                  ) -> dict[str, tuple[RoleAssignment, ...]]:
        """Each principal's active directory roles (``eligible``: its PIM eligibilities
        instead), any scope, direct only: a user's roles through a role-assignable group are
        the group's. 20 principals per ``$batch``. A tenant without PIM's licence has no
        eligibilities (empty, not an error); any other failure raises."""
        collection = ("roleEligibilityScheduleInstances" if eligible else "roleAssignments")
        wanted = list(dict.fromkeys(canonical_guid(p) for p in principal_ids))
        answers = await self.client.batch([
            BatchRequest(str(i), "GET", f"/roleManagement/directory/{collection}"
                         f"?$filter=principalId%20eq%20'{p}'"
                         "&$select=id,roleDefinitionId,directoryScopeId")
            for i, p in enumerate(wanted)], op="role_assignments")
        out: dict[str, tuple[RoleAssignment, ...]] = {}
        for i, principal in enumerate(wanted):
            resp = answers[str(i)]
            if eligible and resp.status == 400 and _error_code(resp.body) == PIM_UNLICENSED:
                self.pim_licensed = False
                out[principal] = ()
                continue
            items = _values(raise_for(resp)) + await self._rest_of(resp)
            out[principal] = tuple(
                RoleAssignment(str(a.get("roleDefinitionId", "")).lower(),
                               str(a.get("directoryScopeId", "")).lower())
                for a in items)
        return out

    async def role_assignable_groups_of(self, user_ids: Sequence[str]
                                        ) -> dict[str, frozenset[str]]:
        """Each user's role-assignable groups (whose roles the user holds), 20 a ``$batch``."""
        wanted = list(dict.fromkeys(canonical_guid(u) for u in user_ids))
        answers = await self.client.batch([
            BatchRequest(str(i), "GET", f"/users/{u}/transitiveMemberOf/microsoft.graph.group"
                         "?$select=id,isAssignableToRole&$count=true&$top=999", headers=EVENTUAL)
            for i, u in enumerate(wanted)], op="role_assignable_groups")
        out: dict[str, frozenset[str]] = {}
        for i, user in enumerate(wanted):
            resp = answers[str(i)]
            groups = _values(raise_for(resp)) + await self._rest_of_eventual(resp)
            out[user] = frozenset(str(g.get("id", "")).lower() for g in groups
                                  if g.get("isAssignableToRole") is True)
        return out

    async def user_members_of_groups(self, group_ids: Sequence[str]
                                     ) -> dict[str, dict[str, str]]:
        """Each group's user members, nested groups included: group id -> {user id: UPN}.
        A group Graph cannot find has none."""
        wanted = list(dict.fromkeys(canonical_guid(g) for g in group_ids))
        answers = await self.client.batch([
            BatchRequest(str(i), "GET", f"/groups/{g}/transitiveMembers/microsoft.graph.user"
                         "?$select=id,userPrincipalName&$count=true&$top=999", headers=EVENTUAL)
            for i, g in enumerate(wanted)], op="group_members")
        out: dict[str, dict[str, str]] = {}
        for i, group in enumerate(wanted):
            resp = answers[str(i)]
            if resp.status == 404:
                out[group] = {}
                continue
            users = _values(raise_for(resp)) + await self._rest_of_eventual(resp)
            out[group] = {str(u.get("id", "")).lower(): _str(u, "userPrincipalName") or ""
                          for u in users if u.get("id")}
        return out

    async def service_principal_id(self, app_id: str) -> str | None:
        """The object id of the service principal of an application (client) id; None when
        the tenant has none."""
        body = await self.client.get("servicePrincipals", params={
            "$filter": f"appId eq {odata_string(canonical_guid(app_id))}", "$select": "id"},
            op="service_principal")
        found = [str(sp.get("id", "")).lower() for sp in _values(GraphResponse(200, body))]
        return found[0] if found and found[0] else None

    async def _rest_of_eventual(self, first: GraphResponse) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        body = first.body
        while isinstance(body, dict) and isinstance(body.get("@odata.nextLink"), str):
            body = await self.client.get(body["@odata.nextLink"], headers=EVENTUAL,
                                         op="next_page")
            out += _values(GraphResponse(200, body))
        return out

    # -- changes ----------------------------------------------------------------------------
    # ``token``: the manager's delegated token in manager mode (docs/manager-mode.md), else
    # None for the app's own identity.

    async def reset_password(self, user_id: str, password: str) -> None:
        """PATCH passwordProfile; the same body may be sent again safely (README, Graph)."""
        body = {"passwordProfile": {"password": password, "forceChangePasswordNextSignIn": True}}
        await self.client.request("PATCH", f"users/{canonical_guid(user_id)}", body=body,
                                  op="reset_password")

    async def reset_password_as_manager(self, user_id: str, password: str, token: str, *,
                                        wait_seconds: float) -> bool:
        """``resetPassword`` as the manager, with the proxy's own password (``newPassword``),
        then its long-running operation followed for at most ``wait_seconds``.

        True: Graph says it succeeded. False: accepted, not confirmed (the manager's role may
        not read the operation — only Global Administrator, Global Reader and (Privileged)
        Authentication Administrator may —, or it did not finish in time, or the poll failed).
        The POST is never repeated. A ``failed`` operation raises ``ResetFailed``.
        """
        uid = canonical_guid(user_id)
        resp = await self.client.request(
            "POST", f"users/{uid}/authentication/methods/{PASSWORD_METHOD_ID}/resetPassword",
            body={"newPassword": password}, op="reset_password", token=token)
        location = resp.headers.get("Location") or resp.headers.get("location") or ""
        # Only Graph's own operation URL for this user is followed (never a foreign host).
        if not location.startswith(self.client.url(f"users/{uid}/authentication/operations/")):
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        wait = retry_after(resp.headers)
        while True:
            wait = 1.0 if wait is None else wait
            if loop.time() + wait > deadline:
                return False
            await self.client.sleep(wait)
            try:
                polled = await self.client.request("GET", location, op="reset_operation",
                                                   token=token, retry=False)
            except (GraphForbidden, GraphNotFound):
                return False  # not readable by this manager's role
            except GraphError:
                return False  # accepted all the same; never sent again
            status = str(polled.body.get("status", "")).lower() \
                if isinstance(polled.body, dict) else ""
            if status == "succeeded":
                return True
            if status == "failed":
                raise ResetFailed(502, "operation_failed",
                                  "Microsoft Entra ID reports that the reset failed")
            wait = retry_after(polled.headers)

    async def list_phones(self, user_id: str) -> tuple[PhoneMethod, ...]:
        body = await self.client.get(f"users/{canonical_guid(user_id)}/authentication/phoneMethods",
                                     op="list_phones")
        return tuple(_phone(p) for p in _values(GraphResponse(200, body)))

    async def add_phone(self, user_id: str, phone_type: str, number: str, *,
                        token: str | None = None) -> PhoneMethod:
        """POST a phone. Never repeated blindly: after an unclear failure, read back."""
        path = f"users/{canonical_guid(user_id)}/authentication/phoneMethods"
        try:
            resp = await self.client.request(
                "POST", path, body={"phoneNumber": number, "phoneType": phone_type},
                op="add_phone", token=token)
        except GraphUnavailable as exc:
            if not exc.outcome_unknown and exc.code == IDENTITY:
                raise  # no app token: the POST was never sent, there is nothing to read back
            # The POST may or may not have happened; Graph's state is the truth.
            try:
                phones = await self.list_phones(user_id)
            except GraphError:
                raise GraphUnavailable(503, "unknown", "the phone may or may not have been "
                                       "added; Graph could not be read back") from None
            for phone in phones:
                if phone.phone_type == phone_type and phone.phone_number == number:
                    return phone
            raise
        if isinstance(resp.body, dict):
            return _phone(resp.body)
        return PhoneMethod(phone_type, number, None)

    async def update_phone(self, user_id: str, phone_type: str, number: str, *,
                           token: str | None = None) -> None:
        path = (f"users/{canonical_guid(user_id)}/authentication/phoneMethods/"
                f"{PHONE_METHOD_IDS[phone_type]}")
        await self.client.request("PATCH", path,
                                  body={"phoneNumber": number, "phoneType": phone_type},
                                  op="update_phone", token=token)

    async def delete_phone(self, user_id: str, phone_type: str, *,
                           token: str | None = None) -> None:
        path = (f"users/{canonical_guid(user_id)}/authentication/phoneMethods/"
                f"{PHONE_METHOD_IDS[phone_type]}")
        try:
            await self.client.request("DELETE", path, op="delete_phone", token=token)
        except GraphNotFound:
            # The caller's live check saw this phone moments ago, so 404 means it is gone: the
            # removal asked for is what happened. Usually it was this very request: a DELETE
            # is sent again after a lost answer — by GraphClient (docs/graph-calls.md), and
            # invisibly by aiohttp itself when a kept-alive connection drops (RFC 9112
            # §9.3.1) — and the repeat finds nothing. Reporting not_found would audit a
            # removal that this manager made as refused (tests/e2e/test_fault_matrix.py).
            return
