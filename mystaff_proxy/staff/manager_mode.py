"""What manager mode (``[graph] identity = "manager"``) needs from IT, checked.

In manager mode every change goes to Graph with the signed-in manager's own delegated token,
so two guards must say yes: the policy, and Entra's check of the manager's own directory
roles (docs/manager-mode.md). This module answers, for ``policy check --online`` and for
start-up:

- ``check_role_backing``: which grants of the policy no active Entra role of that manager
  backs (Graph would refuse the change), and which password resets Graph will accept but not
  let the manager confirm;
- ``app_write_power`` / ``write_power_warning`` / ``warn_app_write_power``: whether the app
  itself can still change passwords or authentication methods, which manager mode exists to
  take away from it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from mystaff_proxy.config import Settings
from mystaff_proxy.graph.exceptions import GraphError
from mystaff_proxy.graph.operations import GraphOperations, RoleAssignment
from mystaff_proxy.ids import is_guid
from mystaff_proxy.policy.model import Assignment, Policy

log = logging.getLogger(__name__)

# Built-in Entra role template ids (the same in every tenant):
# https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference
GLOBAL_ADMIN: Final = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_AUTH_ADMIN: Final = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
AUTH_ADMIN: Final = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
USER_ADMIN: Final = "fe930be7-5e62-47db-91af-98c3a49a38b1"
HELPDESK_ADMIN: Final = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
PASSWORD_ADMIN: Final = "966707d0-3269-4727-9be2-8c3a10f19b9d"
GLOBAL_READER: Final = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
PRIVILEGED_ROLE_ADMIN: Final = "e8611ab8-c189-46e8-94e1-60213ab1f814"

ROLE_NAMES: Final[Mapping[str, str]] = {
    GLOBAL_ADMIN: "Global Administrator",
    PRIVILEGED_AUTH_ADMIN: "Privileged Authentication Administrator",
    AUTH_ADMIN: "Authentication Administrator",
    USER_ADMIN: "User Administrator",
    HELPDESK_ADMIN: "Helpdesk Administrator",
    PASSWORD_ADMIN: "Password Administrator",
    GLOBAL_READER: "Global Reader",
    PRIVILEGED_ROLE_ADMIN: "Privileged Role Administrator",
}

_RESET_ROLES: Final = frozenset({HELPDESK_ADMIN, PASSWORD_ADMIN, USER_ADMIN, AUTH_ADMIN,
                                 PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN})
_METHOD_ROLES: Final = frozenset({AUTH_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN})

#: Policy action -> the roles with which Entra lets a manager make that change ("Who can reset
#: passwords" and "Manage phone numbers" in My Staff's documentation,
#: https://learn.microsoft.com/entra/identity/role-based-access-control/my-staff-configure).
BACKING_ROLES: Final[Mapping[str, frozenset[str]]] = {
    "reset_password": _RESET_ROLES,
    "manage_phone": _METHOD_ROLES,
    "manage_sms_sign_in": _METHOD_ROLES,
    "issue_temporary_access_pass": _METHOD_ROLES,
}
#: What IT should assign (Global Administrator backs everything but is never the advice).
_ADVICE: Final[Mapping[frozenset[str], str]] = {
    _RESET_ROLES: "Helpdesk, Password, User, Authentication or Privileged Authentication "
                  "Administrator",
    _METHOD_ROLES: "Authentication or Privileged Authentication Administrator",
}
_VERBS: Final[Mapping[str, str]] = {
    "reset_password": "reset passwords",
    "manage_phone": "manage phone numbers",
    "manage_sms_sign_in": "turn SMS sign-in on and off",
    "issue_temporary_access_pass": "issue Temporary Access Passes",
}
#: Who may read a password reset's progress (``GET /users/{id}/authentication/operations/…``,
#: delegated only): https://learn.microsoft.com/graph/api/longrunningoperation-get
OPERATION_READERS: Final = frozenset({GLOBAL_ADMIN, GLOBAL_READER, AUTH_ADMIN,
                                      PRIVILEGED_AUTH_ADMIN})

#: Application permissions with which the app itself can reset a password or change an
#: authentication method — or grant itself a permission or a role that can.
WRITE_PERMISSIONS: Final = frozenset({
    "User-PasswordProfile.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All",
    "UserAuthMethod-Phone.ReadWrite.All", "UserAuthMethod-TAP.ReadWrite.All",
    "User.ReadWrite.All", "Directory.ReadWrite.All",
    "RoleManagement.ReadWrite.Directory", "AppRoleAssignment.ReadWrite.All",
})
#: Directory roles with which it can (Privileged Role Administrator: can assign itself any).
WRITE_ROLES: Final = frozenset({USER_ADMIN, HELPDESK_ADMIN, PASSWORD_ADMIN, AUTH_ADMIN,
                                PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN, PRIVILEGED_ROLE_ADMIN})


def _role_name(role_id: str) -> str:
    return ROLE_NAMES.get(role_id, f"role {role_id}")


# -- does an Entra role back each grant? -------------------------------------------------------


@dataclass
class RoleBackingReport:
    """``problems``: grants Graph would refuse (``PATH:LINE: …``, counted); ``notes``: what
    works but IT should know (``PATH:LINE: note: …``, not counted)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Holder:
    """Someone an assignment grants to, as the report names them."""

    principal_id: str
    label: str


class _Roles:
    """Role reads, each principal once, 20 a ``$batch``."""

    def __init__(self, ops: GraphOperations) -> None:
        self.ops = ops
        self.active: dict[str, tuple[RoleAssignment, ...]] = {}
        self.eligible: dict[str, tuple[RoleAssignment, ...]] = {}
        self.groups: dict[str, frozenset[str]] = {}  # user -> role-assignable groups

    async def read(self, principal_ids: Iterable[str]) -> None:
        wanted = [p for p in dict.fromkeys(principal_ids) if p not in self.active]
        if wanted:
            self.active.update(await self.ops.role_assignments_of(wanted))

    async def read_users(self, user_ids: Iterable[str]) -> None:
        """Users' own roles and those of their role-assignable groups."""
        wanted = [u for u in dict.fromkeys(user_ids) if u not in self.groups]
        if wanted:
            self.groups.update(await self.ops.role_assignable_groups_of(wanted))
        await self.read([*wanted, *(g for u in wanted for g in self.groups[u])])

    async def read_eligible(self, principal_ids: Iterable[str]) -> None:
        wanted = [p for p in dict.fromkeys(principal_ids) if p not in self.eligible]
        if wanted:
            self.eligible.update(await self.ops.role_assignments_of(wanted, eligible=True))

    def principals(self, holder: str) -> list[str]:
        """The holder and every role-assignable group whose roles it holds."""
        return [holder, *sorted(self.groups.get(holder, ()))]

    def held(self, holder: str, *, eligible: bool = False) -> list[RoleAssignment]:
        source = self.eligible if eligible else self.active
        return [r for p in self.principals(holder) for r in source.get(p, ())]


def _backing(roles: Iterable[RoleAssignment], wanted: frozenset[str],
             au_id: str) -> set[str]:
    return {r.role_definition_id for r in roles
            if r.role_definition_id in wanted and r.covers_unit(au_id)}


def _grants(policy: Policy, a: Assignment) -> list[tuple[str, str, str]]:
    """(location key, its unit, action) for every location x action of the assignment."""
    return [(key, policy.locations[key].administrative_unit, str(action))
            for key in a.locations for action in sorted(a.allow)]


async def check_role_backing(ops: GraphOperations, policy: Policy, path: str,
                             upn_to_oid: Mapping[str, str]) -> RoleBackingReport:
    """For every assignment, whether an active Entra role of each manager backs each
    location x action it grants: a role whose scope is tenant-wide or that location's
    administrative unit, held directly or through a role-assignable group. A manager group's
    own roles back all its members; where they don't, each member (nested groups included)
    is checked. An eligible (PIM) role backs nothing until activated; the report says when
    one would have. ``upn_to_oid``: lower-cased UPN -> object id (those that resolved;
    the others are reported elsewhere). Raises GraphError when Graph cannot be read."""
    roles = _Roles(ops)
    by_id = sorted({m for a in policy.assignments for m in a.managers if is_guid(m)})
    upns = await ops.user_principal_names(by_id) if by_id else {}
    direct: list[list[_Holder]] = []
    for a in policy.assignments:
        holders = []
        for m in a.managers:
            if m in upns:
                holders.append(_Holder(m, f"'{upns[m]}' ({m})"))
            elif m in upn_to_oid:
                holders.append(_Holder(upn_to_oid[m], f"'{m}'"))
            # else: no such user in the tenant, reported as that
        direct.append(holders)
    group_ids = sorted({g for a in policy.assignments for g in a.manager_groups})
    await roles.read_users(h.principal_id for hs in direct for h in hs)
    await roles.read(group_ids)

    # A group whose own roles back every grant it is given needs no look at its members.
    partly = sorted({g for a in policy.assignments for g in a.manager_groups
                     if any(not _backing(roles.active.get(g, ()), BACKING_ROLES[act], au)
                            for _, au, act in _grants(policy, a))})
    members = await ops.user_members_of_groups(partly) if partly else {}
    await roles.read_users(u for users in members.values() for u in users)

    report = RoleBackingReport()
    unbacked: list[tuple[Assignment, _Holder, str, str, str]] = []
    for n, a in enumerate(policy.assignments):
        holders = list(direct[n])
        for g in a.manager_groups:
            if g in members:
                holders += [_Holder(u, f"'{upn}' (through manager group {g})")
                            for u, upn in sorted(members[g].items(), key=lambda x: x[1])]
            else:
                holders.append(_Holder(g, f"the members of manager group {g}"))
                roles.groups.setdefault(g, frozenset())
        seen: set[str] = set()
        for h in holders:
            if h.principal_id in seen:
                continue
            seen.add(h.principal_id)
            for key, au, action in _grants(policy, a):
                held = roles.held(h.principal_id)
                backing = _backing(held, BACKING_ROLES[action], au)
                if not backing:
                    unbacked.append((a, h, key, au, action))
                elif action == "reset_password" and not _backing(held, OPERATION_READERS, au):
                    names = " and ".join(sorted(_role_name(r) for r in backing))
                    report.notes.append(
                        f"{path}:{a.line}: note: {h.label} may {_VERBS[action]} at location "
                        f"'{key}' through {names}, which may not read a reset's progress: "
                        "Graph accepts the reset but the proxy cannot confirm it, and shows "
                        "the password as \"accepted, not confirmed\" (Authentication "
                        "Administrator for that unit would confirm it)")
    if not unbacked:
        return report
    try:  # only to say why: an eligible role is the usual mistake
        await roles.read_eligible(p for _, h, *_ in unbacked for p in roles.principals(
            h.principal_id))
    except GraphError:
        roles.eligible.clear()
    for a, h, key, au, action in unbacked:
        wanted = BACKING_ROLES[action]
        eligible = _backing(roles.held(h.principal_id, eligible=True), wanted, au)
        hint = ""
        if eligible:
            hint = (f" ({' and '.join(sorted(_role_name(r) for r in eligible))} only "
                    "eligible through PIM: an eligible role backs nothing until it is activated)")
        report.problems.append(
            f"{path}:{a.line}: {h.label} may {_VERBS[action]} at location '{key}', "
            f"but holds no active Entra role for its administrative unit ({au}) that allows "
            f"it, so Graph will refuse the change{hint}: assign {_ADVICE[wanted]} scoped to "
            "that unit (or tenant-wide)")
    return report


# -- does the app itself still hold write power? -----------------------------------------------


@dataclass(frozen=True)
class AppWritePower:
    """What the app itself holds that can change a user's password or authentication methods
    (empty tuples: nothing)."""

    permissions: tuple[str, ...]  # application permissions (its token's ``roles`` claim)
    roles: tuple[str, ...]  # directory roles of its service principal, any scope (names)

    def __bool__(self) -> bool:
        return bool(self.permissions or self.roles)


def token_roles(token: str) -> frozenset[str]:
    """The ``roles`` claim of an access token, read without verifying it: it is the app's
    own token, just received from Entra over TLS. ValueError when it is not a JWT."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error) as exc:
        raise ValueError("the app token is not a JWT") from exc
    found = claims.get("roles", []) if isinstance(claims, dict) else []
    return frozenset(r for r in found if isinstance(r, str)) if isinstance(found, list) \
        else frozenset()


async def app_write_power(ops: GraphOperations, app_token: str,
                          client_id: str) -> AppWritePower:
    """The app's write permissions (from ``app_token``) and write roles (its service
    principal's role assignments). Raises GraphError when Graph cannot be read, ValueError
    when the token is not a JWT."""
    permissions = tuple(sorted(token_roles(app_token) & WRITE_PERMISSIONS))
    sp_id = await ops.service_principal_id(client_id)
    held = (await ops.role_assignments_of([sp_id]))[sp_id] if sp_id else ()
    roles = tuple(sorted({_role_name(r.role_definition_id) for r in held
                          if r.role_definition_id in WRITE_ROLES}))
    return AppWritePower(permissions, roles)


def write_power_warning(power: AppWritePower) -> str | None:
    """The sentence for IT, or None when the app holds no write power."""
    if not power:
        return None
    held = []
    if power.permissions:
        held.append("application permissions " + ", ".join(power.permissions))
    if power.roles:
        held.append("directory roles " + ", ".join(power.roles))
    return ("manager mode, but the app itself still holds " + " and ".join(held) + ": then a "
            "stolen app credential could still change what a manager may not. Remove them "
            "(manager mode needs read permissions only; see docs/manager-mode.md)")


async def warn_app_write_power(settings: Settings, ops: GraphOperations,
                               app_token: Callable[[], Awaitable[str]]) -> str | None:
    """For start-up, after the policy loads: in manager mode, log a WARNING when the app
    still holds write power, and return that sentence. None in app mode, when the app holds
    none, or when Graph could not tell (logged as a warning too). Never raises: a start-up
    must not fail on a warning."""
    if settings.graph.identity != "manager":
        return None
    try:
        power = await app_write_power(ops, await app_token(), settings.app.client_id)
    except (GraphError, ValueError) as exc:
        log.warning("manager mode: cannot tell whether the app still holds write permissions "
                    "or roles: %s", getattr(exc, "code", None) or exc)
        return None
    message = write_power_warning(power)
    if message:
        log.warning("%s", message)
    return message
