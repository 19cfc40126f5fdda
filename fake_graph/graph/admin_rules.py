"""Which directory roles let a principal reset a password or manage authentication methods of
which target (docs/fake_graph_manager_mode.md, "Who may change whom"; sources below).

- Microsoft's who-can-reset-whom table decides, from the target's roles, which actor roles may
  reset its password. A target's roles count at any scope, directly or through role-assignable
  groups; being a member of a role-assignable group alone makes the target privileged (only
  PAA / GA).
- A tenant-wide actor role applies to every target the table allows.
- An AU-scoped actor role applies only to direct members of that AU who are not admins (hold no
  role at any scope and are in no role-assignable group).
- Managing authentication methods (phones): Authentication Administrator (the same targets as
  its password column), Privileged Authentication Administrator and Global Administrator.
  Reading them also: Global Reader.
- Only active role assignments count: a PIM eligibility (``Directory.role_eligibilities``) backs
  nothing until it is activated.

Sources (Learn): the table, "Privileged roles and permissions in Microsoft Entra ID",
https://learn.microsoft.com/entra/identity/role-based-access-control/privileged-roles-permissions;
scoped roles, "Administrative units in Microsoft Entra ID",
https://learn.microsoft.com/entra/identity/role-based-access-control/administrative-units.
"""

from __future__ import annotations

from ..directory import ROLE_TEMPLATES, Directory, RoleAssignment
from . import indexes

GA = ROLE_TEMPLATES["Global Administrator"]
PRA = ROLE_TEMPLATES["Privileged Role Administrator"]
PAA = ROLE_TEMPLATES["Privileged Authentication Administrator"]
AUTH = ROLE_TEMPLATES["Authentication Administrator"]
UA = ROLE_TEMPLATES["User Administrator"]
HELPDESK = ROLE_TEMPLATES["Helpdesk Administrator"]
PASSWORD = ROLE_TEMPLATES["Password Administrator"]
GLOBAL_READER = ROLE_TEMPLATES["Global Reader"]
AUTH_POLICY = ROLE_TEMPLATES["Authentication Policy Administrator"]

_ALL_RESETTERS = frozenset({PASSWORD, HELPDESK, AUTH, UA, PAA, GA})
_PRIVILEGED_ONLY = frozenset({PAA, GA})
# Target role -> actor roles that may reset that target's password (the table above).
_RESETTERS: dict[str, frozenset[str]] = {
    ROLE_TEMPLATES["Directory Readers"]: _ALL_RESETTERS,
    ROLE_TEMPLATES["Guest Inviter"]: _ALL_RESETTERS,
    PASSWORD: _ALL_RESETTERS,
    HELPDESK: frozenset({HELPDESK, UA, PAA, GA}),
    ROLE_TEMPLATES["Message Center Reader"]: frozenset({HELPDESK, AUTH, UA, PAA, GA}),
    ROLE_TEMPLATES["Reports Reader"]: frozenset({HELPDESK, AUTH, UA, PAA, GA}),
    AUTH: frozenset({AUTH, PAA, GA}),
    ROLE_TEMPLATES["Groups Administrator"]: frozenset({UA, PAA, GA}),
    UA: frozenset({UA, PAA, GA}),
}
_METHOD_MANAGERS = frozenset({AUTH, PAA, GA})
_METHOD_READERS = _METHOD_MANAGERS | {GLOBAL_READER}
_POLICY_READERS = frozenset({GLOBAL_READER, AUTH_POLICY, GA})


def assignments(directory: Directory, principal_id: str) -> list[RoleAssignment]:
    """Role assignments held directly or through (transitively nested) groups."""
    principals = {principal_id} | {
        g.id for g in indexes.transitive_groups(directory, principal_id)}
    return [a for a in directory.role_assignments if a.principal_id in principals]


def in_role_assignable_group(directory: Directory, object_id: str) -> bool:
    return any(g.role_assignable for g in indexes.transitive_groups(directory, object_id))


def is_admin(directory: Directory, object_id: str) -> bool:
    """Holds a directory role at any scope, or is in a role-assignable group."""
    return bool(assignments(directory, object_id)) or in_role_assignable_group(directory,
                                                                              object_id)


def password_resetters(directory: Directory, target_id: str) -> frozenset[str]:
    """Tenant-wide actor roles that may reset this target's password."""
    allowed = _ALL_RESETTERS
    for assignment in assignments(directory, target_id):
        allowed &= _RESETTERS.get(assignment.role_definition_id, _PRIVILEGED_ONLY)
    if in_role_assignable_group(directory, target_id):
        allowed &= _PRIVILEGED_ONLY
    return allowed


def _acts_on(directory: Directory, actor_id: str, target_id: str,
             allowed: frozenset[str]) -> bool:
    if actor_id == target_id:
        return False  # these admin operations are never self-service
    target_is_admin: bool | None = None
    for assignment in assignments(directory, actor_id):
        if assignment.role_definition_id not in allowed:
            continue
        scope = assignment.directory_scope_id
        if scope == "/":
            return True
        if scope.startswith("/administrativeUnits/"):
            unit = directory.administrative_units.get(scope.rsplit("/", 1)[1])
            if unit is None or not indexes.is_direct_member(unit, target_id):
                continue
            if target_is_admin is None:
                target_is_admin = is_admin(directory, target_id)
            if not target_is_admin:
                return True
    return False


def may_reset_password(directory: Directory, actor_id: str, target_id: str) -> bool:
    return _acts_on(directory, actor_id, target_id, password_resetters(directory, target_id))


def may_manage_methods(directory: Directory, actor_id: str, target_id: str) -> bool:
    allowed = password_resetters(directory, target_id) & _METHOD_MANAGERS
    return _acts_on(directory, actor_id, target_id, allowed)


def may_read_methods(directory: Directory, actor_id: str, target_id: str) -> bool:
    if may_manage_methods(directory, actor_id, target_id):
        return True
    return any(a.role_definition_id in _METHOD_READERS and a.directory_scope_id == "/"
               for a in assignments(directory, actor_id))


def may_read_operation(directory: Directory, actor_id: str, target_id: str) -> bool:
    """``GET /users/{id}/authentication/operations/{id}`` of another user: Global
    Administrator, Global Reader, (Privileged) Authentication Administrator — tenant-wide, or
    AU-scoped over the target as for its methods (docs/fake_graph_manager_mode.md). A
    Helpdesk, Password or User Administrator who could start the reset cannot read it."""
    return may_read_methods(directory, actor_id, target_id)


def may_update_user(directory: Directory, actor_id: str, target_id: str) -> bool:
    """Delegated updates of another user's ordinary properties: User or Global Administrator."""
    allowed = password_resetters(directory, target_id) & {UA, GA}
    return _acts_on(directory, actor_id, target_id, frozenset(allowed))


def may_read_methods_policy(directory: Directory, actor_id: str) -> bool:
    """Delegated reads of the authentication methods policy: Global Reader, Authentication
    Policy Administrator or Global Administrator, tenant-wide (a policy is not in any unit)."""
    return any(a.role_definition_id in _POLICY_READERS and a.directory_scope_id == "/"
               for a in assignments(directory, actor_id))
