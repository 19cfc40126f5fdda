"""The checks of docs/authorization.md: every rule, and the order in which they answer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mystaff_proxy.policy.decide import (
    ActionRequest,
    Decision,
    TargetFacts,
    allowed_actions,
    decide,
    outranks,
    protection_refusal,
)
from mystaff_proxy.policy.model import Action, ManagerProtection
from mystaff_proxy.policy.resolve import Protection

MGR = "aaaaaaaa-0000-0000-0000-000000000001"
BOB = "bbbbbbbb-0000-0000-0000-000000000002"
CEO = "cccccccc-0000-0000-0000-000000000003"
VIP_GROUP = "dddddddd-0000-0000-0000-000000000004"
OTHER_GROUP = "eeeeeeee-0000-0000-0000-000000000005"

R, P = Action.RESET_PASSWORD, Action.MANAGE_PHONE
GRANTS = {"seattle": frozenset({R, P}), "tacoma": frozenset({R}), "portland": frozenset()}
PROTECTION = Protection(admins=True, user_ids=frozenset({CEO}),
                        upns=frozenset({"ceo@contoso.com"}), group_ids=frozenset({VIP_GROUP}))

STAFF = TargetFacts(target_id=BOB, is_member=True, target_upn="bob@contoso.com",
                    role_template_ids=frozenset(), holds_scoped_role=False,
                    in_role_assignable_group=False, group_ids=frozenset({OTHER_GROUP}),
                    eligible_admin=False, is_owner=False, target_grants={})
MANAGER = "manager"


def _req(location: str = "seattle", action: str = "reset_password",
         oid: str = MGR) -> ActionRequest:
    return ActionRequest(manager_oid=oid, grants=GRANTS, location=location, action=action)


CASES: list[tuple[str, ActionRequest, TargetFacts | None, Decision]] = [
    ("allowed", _req(), STAFF, Decision(True)),
    ("phone allowed", _req(action="manage_phone"), STAFF, Decision(True)),
    ("view allowed", _req(action="view"), STAFF, Decision(True)),
    ("view with no actions granted", _req("portland", "view"), STAFF, Decision(True)),
    # 3. location not the manager's -> not_found, before anything else, even unknown facts
    ("unknown location", _req("boston"), STAFF, Decision(False, "not_found", "location")),
    ("location case-sensitive", _req("Seattle"), STAFF, Decision(False, "not_found", "location")),
    ("foreign location beats unknown facts", _req("boston"), None,
     Decision(False, "not_found", "location")),
    # 4. not a member -> not_found, even for a protected user or an action not allowed
    ("not a member", _req(), replace(STAFF, is_member=False),
     Decision(False, "not_found", "not_member")),
    ("not a member beats forbidden", _req("tacoma", "manage_phone"),
     replace(STAFF, is_member=False), Decision(False, "not_found", "not_member")),
    ("not a member beats protected", _req(), replace(STAFF, is_member=False, target_id=CEO),
     Decision(False, "not_found", "not_member")),
    ("membership unknown", _req(), replace(STAFF, is_member=None),
     Decision(False, "upstream_unavailable", "facts_unknown")),
    ("no facts at all", _req(), None, Decision(False, "upstream_unavailable", "facts_unknown")),
    # 5. action not allowed there -> forbidden, before protected_user
    ("action not allowed here", _req("tacoma", "manage_phone"), STAFF,
     Decision(False, "forbidden", "action")),
    ("nothing allowed here", _req("portland"), STAFF, Decision(False, "forbidden", "action")),
    ("forbidden beats protected", _req("tacoma", "manage_phone"),
     replace(STAFF, target_id=CEO), Decision(False, "forbidden", "action")),
    # 6. protected
    ("self", _req(oid=BOB), STAFF, Decision(False, "protected_user", "self")),
    ("self, case-insensitive", _req(oid=BOB.upper()), STAFF,
     Decision(False, "protected_user", "self")),
    ("protected by id", _req(), replace(STAFF, target_id=CEO),
     Decision(False, "protected_user", "protected_user")),
    ("protected by UPN", _req(), replace(STAFF, target_upn="CEO@contoso.com"),
     Decision(False, "protected_user", "protected_user")),
    ("protected group (transitive)", _req(),
     replace(STAFF, group_ids=frozenset({OTHER_GROUP, VIP_GROUP})),
     Decision(False, "protected_user", "protected_group")),
    ("tenant-wide role", _req(), replace(STAFF, role_template_ids=frozenset({"role"})),
     Decision(False, "protected_user", "admin")),
    ("AU-scoped role", _req(), replace(STAFF, holds_scoped_role=True),
     Decision(False, "protected_user", "admin")),
    ("role-assignable group", _req("seattle", "manage_phone"),
     replace(STAFF, in_role_assignable_group=True), Decision(False, "protected_user", "admin")),
    ("protected user may be viewed", _req(action="view"),
     replace(STAFF, target_id=CEO, role_template_ids=frozenset({"r"})), Decision(True)),
    ("self may be viewed", _req(action="view", oid=BOB), STAFF, Decision(True)),
    # fail closed on unknown protection facts, for changes only
    ("groups unknown", _req(), replace(STAFF, group_ids=None),
     Decision(False, "upstream_unavailable", "facts_unknown")),
    ("roles unknown", _req(), replace(STAFF, role_template_ids=None),
     Decision(False, "upstream_unavailable", "facts_unknown")),
    ("scoped roles unknown", _req(), replace(STAFF, holds_scoped_role=None),
     Decision(False, "upstream_unavailable", "facts_unknown")),
    ("role-assignable unknown", _req(), replace(STAFF, in_role_assignable_group=None),
     Decision(False, "upstream_unavailable", "facts_unknown")),
    ("view needs only membership", _req(action="view"),
     TargetFacts(target_id=BOB, is_member=True), Decision(True)),
    # eligible (PIM) roles and PIM-governed groups count as admin
    ("eligible admin", _req(), replace(STAFF, eligible_admin=True),
     Decision(False, "protected_user", "eligible_admin")),
    ("eligibility unknown", _req(), replace(STAFF, eligible_admin=None),
     Decision(False, "upstream_unavailable", "facts_unknown")),
    # owners of apps, service principals, role-assignable groups
    ("owner", _req(), replace(STAFF, is_owner=True), Decision(False, "protected_user", "owner")),
    ("owner set unknown (stale)", _req(), replace(STAFF, is_owner=None),
     Decision(False, "upstream_unavailable", "facts_unknown")),
    # other managers: only when strictly outranked (GRANTS: seattle R+P, tacoma R, portland -)
    ("lower manager", _req(), replace(STAFF, target_grants={"seattle": frozenset({R})}),
     Decision(True)),
    ("lower manager, view only", _req(),
     replace(STAFF, target_grants={"portland": frozenset()}), Decision(True)),
    ("equal manager", _req(), replace(STAFF, target_grants=GRANTS),
     Decision(False, "protected_user", MANAGER)),
    ("higher manager", _req(),
     replace(STAFF, target_grants={**GRANTS, "tacoma": frozenset({R, P})}),
     Decision(False, "protected_user", MANAGER)),
    ("manager of another location", _req(),
     replace(STAFF, target_grants={"boston": frozenset({R})}),
     Decision(False, "protected_user", MANAGER)),
    ("manager with fewer locations but another action", _req(),
     replace(STAFF, target_grants={"tacoma": frozenset({P})}),
     Decision(False, "protected_user", MANAGER)),
    ("manager grants unknown", _req(), replace(STAFF, target_grants=None),
     Decision(False, "upstream_unavailable", "facts_unknown")),
]


@pytest.mark.parametrize(("request_", "facts", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_decide(request_: ActionRequest, facts: TargetFacts | None, expected: Decision) -> None:
    assert decide(request_, facts, PROTECTION) == expected


def test_admins_unprotected_when_policy_says_so() -> None:
    open_admins = replace(PROTECTION, admins=False)
    admin = replace(STAFF, role_template_ids=frozenset({"r"}), holds_scoped_role=True,
                    in_role_assignable_group=True)
    assert decide(_req(), admin, open_admins) == Decision(True)
    # role facts are not needed then, but the protected lists still apply
    unknown_roles = replace(STAFF, role_template_ids=None, holds_scoped_role=None,
                            in_role_assignable_group=None)
    assert decide(_req(), unknown_roles, open_admins) == Decision(True)
    assert decide(_req(oid=BOB), STAFF, open_admins).code == "protected_user"


def test_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        _req(action="delete_user")


def test_allowed_actions() -> None:
    def actions(location: str, facts: TargetFacts | None, oid: str = MGR) -> list[str]:
        return allowed_actions(GRANTS, location, facts, PROTECTION, manager_oid=oid)

    assert actions("seattle", STAFF) == ["reset_password", "manage_phone"]
    assert actions("tacoma", STAFF) == ["reset_password"]
    assert actions("portland", STAFF) == []
    assert actions("boston", STAFF) == []
    assert actions("seattle", replace(STAFF, target_id=CEO)) == []
    assert actions("seattle", STAFF, oid=BOB) == []
    assert actions("seattle", replace(STAFF, group_ids=None)) == []
    assert actions("seattle", None) == []


def test_facts_from_snapshot() -> None:
    from mystaff_proxy.graph.operations import TargetSnapshot, UserProfile

    snap = TargetSnapshot(BOB, True, UserProfile(BOB, "Bob", "bob@contoso.com", None, None),
                          frozenset({"r1"}), True, False, frozenset({VIP_GROUP}), None)
    facts = TargetFacts.from_snapshot(snap, target_grants={"seattle": frozenset({R})},
                                      is_owner=False)
    assert facts == TargetFacts(BOB, True, "bob@contoso.com", frozenset({"r1"}), True, False,
                                frozenset({VIP_GROUP}), False, False, {"seattle": frozenset({R})})
    eligible = replace(snap, eligible_admin=True)
    assert TargetFacts.from_snapshot(eligible, target_grants=None, is_owner=None).eligible_admin


def test_outranks_is_strict_containment() -> None:
    seattle_r = {"seattle": frozenset({R})}
    assert outranks(GRANTS, seattle_r)
    assert not outranks(seattle_r, GRANTS)
    assert not outranks(GRANTS, GRANTS)  # equal: neither outranks the other
    assert not outranks(seattle_r, {"seattle": frozenset({R})})
    assert outranks(seattle_r, {}) and not outranks({}, {})
    # viewing counts: a view-only grant elsewhere is something the actor lacks
    assert not outranks(GRANTS, {"boston": frozenset()})


def test_managers_always_protected() -> None:
    always = replace(PROTECTION, managers=ManagerProtection.ALWAYS)
    lower = replace(STAFF, target_grants={"seattle": frozenset({R})})
    assert decide(_req(), lower, always) == Decision(False, "protected_user", MANAGER)
    assert decide(_req(), STAFF, always) == Decision(True)  # staff without grants


def test_owners_unprotected_when_policy_says_so() -> None:
    open_owners = replace(PROTECTION, owners=False)
    assert decide(_req(), replace(STAFF, is_owner=True), open_owners) == Decision(True)
    assert decide(_req(), replace(STAFF, is_owner=None), open_owners) == Decision(True)


def test_eligibility_not_needed_when_admins_unprotected() -> None:
    open_admins = replace(PROTECTION, admins=False)
    assert decide(_req(), replace(STAFF, eligible_admin=True), open_admins) == Decision(True)


def test_protection_refusal_uses_the_actors_whole_grants() -> None:
    lower = replace(STAFF, target_grants={"seattle": frozenset({R})})
    assert protection_refusal(MGR, GRANTS, lower, PROTECTION) is None
    assert protection_refusal(MGR, {"seattle": frozenset({R})}, lower, PROTECTION) == \
        Decision(False, "protected_user", MANAGER)
