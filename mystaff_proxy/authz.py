"""SPEC §8 as one pure decision over facts: no I/O, no clock, no Graph.

The web handler gathers the facts (the manager's grants from the resolved policy, the live
``TargetSnapshot`` from Graph) and asks ``decide``. The checks run in SPEC §7.2's order and the
first that applies answers:

1. the location is not one of the manager's               → ``not_found``
2. membership unknown (Graph failed)                      → ``upstream_unavailable``
3. the target is not a direct user member of the AU       → ``not_found``
4. (changes only) the action is not allowed there         → ``forbidden``
5. (changes only) any protection fact unknown             → ``upstream_unavailable``
6. (changes only) the target is protected                 → ``protected_user``

``view`` needs only 1-3: a protected user can be seen, with no actions offered.
Fail closed: a fact that is ``None`` is unknown, and unknown never allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .policy import Action, Protection

if TYPE_CHECKING:
    from .graph.operations import TargetSnapshot

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

    @classmethod
    def from_snapshot(cls, snapshot: TargetSnapshot) -> TargetFacts:
        profile = snapshot.profile
        return cls(
            target_id=snapshot.user_id,
            is_member=snapshot.is_member,
            target_upn=profile.user_principal_name if profile is not None else None,
            role_template_ids=snapshot.role_template_ids,
            holds_scoped_role=snapshot.has_role_assignment,
            in_role_assignable_group=snapshot.in_role_assignable_group,
            group_ids=snapshot.group_ids,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    code: str | None = None  # a SPEC §7.2 code when refused
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
    refusal = _protection(request.manager_oid, facts, protection)
    return ALLOW if refusal is None else refusal


def _protection(manager_oid: str, facts: TargetFacts, protection: Protection) -> Decision | None:
    """The refusal for a protected target, or None when the target may be changed."""
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
    return None


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
