"""The checks of docs/authorization.md as one pure decision over facts: no I/O, no clock.

The web handler gathers the facts (the manager's grants from the resolved policy, the live
``TargetSnapshot`` from Graph) and asks ``decide``. The checks run in the API's order of
precedence (docs/api.md, error codes) and the first that applies answers:

1. the location is not one of the manager's               → ``not_found``
2. membership unknown (Graph failed)                      → ``upstream_unavailable``
3. the target is not a direct user member of the AU       → ``not_found``
4. (changes only) the action is not allowed there         → ``forbidden``
5. (changes only) any protection fact unknown             → ``upstream_unavailable``
6. (changes only) the target is protected                 → ``protected_user``

Protected (docs/authorization.md): the manager themself; ``protected.users`` and
``protected.groups``; with ``protected.admins`` anyone holding a directory role — active or
*eligible* (PIM), directly, AU-scoped, through a role-assignable group, or eligible for
membership or ownership of a PIM-governed group; with ``protected.owners`` owners of an
application, a service principal or a role-assignable group; and other *managers*: a target
the policy grants anything to may be changed only by a manager whose grants strictly contain
the target's (``outranked``), or never (``always``). Without that last rule, a shift lead
could reset the store manager's password, sign in as them and hold their stores.

``view`` needs only 1-3: a protected user can be seen, with no actions offered.
Fail closed: a fact that is ``None`` is unknown, and unknown never allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from mystaff_proxy.policy.model import Action, ManagerProtection
from mystaff_proxy.policy.resolve import Protection

if TYPE_CHECKING:
    from mystaff_proxy.graph.operations import TargetSnapshot

VIEW: Final = "view"
#: Every action ``decide`` knows: viewing, then the policy's actions in their declared order.
ACTIONS: Final = (VIEW, *(a.value for a in Action))
_POLICY_ACTIONS: Final = {a.value: a for a in Action}


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """Who wants to do what, where. ``grants`` = ``ResolvedPolicy.locations_for_manager(...)``."""

    manager_oid: str
    grants: Mapping[str, frozenset[Action]]
    location: str
    action: str  # "view", "reset_password" or "manage_phone"

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")


@dataclass(frozen=True, slots=True)
class TargetFacts:
    """What Graph says about the target, fetched live for this request. None = unknown."""

    target_id: str
    is_member: bool | None  # direct user member of the location's AU
    target_upn: str | None = None
    role_template_ids: frozenset[str] | None = None  # tenant-wide directory roles
    holds_scoped_role: bool | None = None  # any role assignment (tenant-wide or AU-scoped)
    in_role_assignable_group: bool | None = None
    group_ids: frozenset[str] | None = None  # transitive group ids, lower-cased
    eligible_admin: bool | None = None  # PIM: eligible for a role or a PIM-governed group
    is_owner: bool | None = None  # owns an app, a service principal or a role-assignable group
    #: What the policy grants the target (non-empty: the target is a manager); None: unknown.
    target_grants: Mapping[str, frozenset[Action]] | None = None

    @classmethod
    def from_snapshot(cls, snapshot: TargetSnapshot, *,
                      target_grants: Mapping[str, frozenset[Action]] | None,
                      is_owner: bool | None) -> TargetFacts:
        profile = snapshot.profile
        return cls(
            target_id=snapshot.user_id,
            is_member=snapshot.is_member,
            target_upn=profile.user_principal_name if profile is not None else None,
            role_template_ids=snapshot.role_template_ids,
            holds_scoped_role=snapshot.has_role_assignment,
            in_role_assignable_group=snapshot.in_role_assignable_group,
            group_ids=snapshot.group_ids,
            eligible_admin=snapshot.eligible_admin,
            is_owner=is_owner,
            target_grants=target_grants,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    code: str | None = None  # an API error code (docs/api.md) when refused
    why: str | None = None  # a short internal reason for logs / audit detail, never shown


ALLOW: Final = Decision(True)
_NOT_MINE: Final = Decision(False, "not_found", "location")
_NOT_MEMBER: Final = Decision(False, "not_found", "not_member")
_UNKNOWN: Final = Decision(False, "upstream_unavailable", "facts_unknown")
_FORBIDDEN: Final = Decision(False, "forbidden", "action")
_SELF: Final = Decision(False, "protected_user", "self")
_ADMIN: Final = Decision(False, "protected_user", "admin")
_LISTED: Final = Decision(False, "protected_user", "protected_user")
_GROUP: Final = Decision(False, "protected_user", "protected_group")
_ELIGIBLE: Final = Decision(False, "protected_user", "eligible_admin")
_OWNER: Final = Decision(False, "protected_user", "owner")
_MANAGER: Final = Decision(False, "protected_user", "manager")


def decide(request: ActionRequest, facts: TargetFacts | None,
           protection: Protection) -> Decision:
    """Whether ``request`` may go ahead on this target; see the module docstring for order."""
    allowed_here = request.grants.get(request.location)
    if allowed_here is None:
        return _NOT_MINE
    if facts is None or facts.is_member is None:
        return _UNKNOWN
    if not facts.is_member:
        return _NOT_MEMBER
    if request.action == VIEW:
        return ALLOW
    if _POLICY_ACTIONS[request.action] not in allowed_here:
        return _FORBIDDEN
    refusal = protection_refusal(request.manager_oid, request.grants, facts, protection)
    return ALLOW if refusal is None else refusal


def protection_refusal(manager_oid: str, grants: Mapping[str, frozenset[Action]],
                       facts: TargetFacts, protection: Protection) -> Decision | None:
    """The refusal for a protected target (or for unknown facts), or None when the target may
    be changed by a manager holding ``grants``. Independent of the action asked for."""
    target = facts.target_id.lower()
    if target == manager_oid.lower():
        return _SELF
    if target in protection.user_ids:
        return _LISTED
    if facts.target_upn is not None and facts.target_upn.lower() in protection.upns:
        return _LISTED
    if facts.group_ids is None:
        return _UNKNOWN
    if not protection.group_ids.isdisjoint(facts.group_ids):
        return _GROUP
    if protection.admins:
        if facts.role_template_ids is None or facts.holds_scoped_role is None \
                or facts.in_role_assignable_group is None:
            return _UNKNOWN
        if facts.role_template_ids or facts.holds_scoped_role or facts.in_role_assignable_group:
            return _ADMIN
        if facts.eligible_admin is None:
            return _UNKNOWN
        if facts.eligible_admin:
            return _ELIGIBLE
    if protection.owners:
        if facts.is_owner is None:
            return _UNKNOWN
        if facts.is_owner:
            return _OWNER
    if facts.target_grants is None:
        return _UNKNOWN
    if facts.target_grants and (protection.managers is ManagerProtection.ALWAYS
                                or not outranks(grants, facts.target_grants)):
        return _MANAGER
    return None


def _pairs(grants: Mapping[str, frozenset[Action]]) -> set[tuple[str, str]]:
    """Every (location, action) a grant holds, viewing included: a view-only assignment is
    still something held."""
    out = set()
    for loc, actions in grants.items():
        out.add((loc, VIEW))
        out.update((loc, a.value) for a in actions)
    return out


def outranks(actor: Mapping[str, frozenset[Action]],
             target: Mapping[str, frozenset[Action]]) -> bool:
    """The actor holds every location x action the target holds, and at least one more.

    So whatever the actor could do as the target after a reset (or through a phone put on
    the target's account), the actor could already do: no one gains through someone else.
    """
    return _pairs(target) < _pairs(actor)


def allowed_actions(grants: Mapping[str, frozenset[Action]], location: str,
                    facts: TargetFacts | None, protection: Protection, *,
                    manager_oid: str) -> list[str]:
    """The actions the profile offers (``actions`` in the API): empty for a protected user."""
    out = []
    for action in Action:
        request = ActionRequest(manager_oid, grants, location, action.value)
        if decide(request, facts, protection).allowed:
            out.append(action.value)
    return out
