"""Authorization as a matrix: every kind of manager x every kind of target x every action.

Managers are assigned by UPN, by object id and by a nested group (all three may change staff of
north), plus a view-only manager. Targets include other managers (lower, equal, higher, of
another location, through a nested group), PIM-eligible admins and owners of tenant-wide power.
Each cell says what the proxy must answer; a refused request must leave the fake untouched
(password, force-change flag, phones) and write one audit record (docs/authorization.md).
"""

from __future__ import annotations

import uuid

import pytest
from e2e_checks import AuditTail, error_code, state
from e2e_support import Stack, uid

CHANGERS = ("mgr.upn@e2e.example", "mgr.oid@e2e.example", "mgr.group@e2e.example")
MANAGERS = (*CHANGERS, "viewer@e2e.example")
SELF = "self"

# target -> (view, change) for a manager allowed to change staff of north:
# view: "ok" (actions offered), "protected" (seen, no actions), "not_found"
# change: None (allowed) or the error code
TARGETS: dict[str, tuple[str, str | None]] = {
    "staff2@e2e.example": ("ok", None),                             # in scope
    "south1@e2e.example": ("not_found", "not_found"),               # out of scope
    "admin.tenant@e2e.example": ("protected", "protected_user"),    # tenant-wide role
    "admin.scoped@e2e.example": ("protected", "protected_user"),    # AU-scoped role
    "admin.group@e2e.example": ("protected", "protected_user"),     # role-assignable group
    "ceo@e2e.example": ("protected", "protected_user"),             # protected list
    "vip@e2e.example": ("protected", "protected_user"),             # protected group
    SELF: ("protected", "protected_user"),                          # the manager themself
    "grouped@e2e.example": ("not_found", "not_found"),              # member of a member group
    "unknown": ("not_found", "not_found"),                          # no such user
    # other managers (docs/authorization.md): only a strictly higher manager may act on them
    "lead@e2e.example": ("ok", None),                               # lower: north, reset only
    "peer@e2e.example": ("protected", "protected_user"),            # equal
    "boss@e2e.example": ("protected", "protected_user"),            # higher: north and south
    "other.store@e2e.example": ("protected", "protected_user"),        # another location
    "grouplead@e2e.example": ("protected", "protected_user"),       # via a nested group
    # admins in waiting and owners
    "eligible@e2e.example": ("protected", "protected_user"),        # PIM-eligible GA
    "pimgroup@e2e.example": ("protected", "protected_user"),        # PIM for Groups eligible
    "owner.app@e2e.example": ("protected", "protected_user"),        # owns the proxy's app
    "owner.group@e2e.example": ("protected", "protected_user"),      # owns a role group
}
ACTIONS = ("view", "reset_password", "add_phone")


def expected(manager: str, target: str, action: str) -> tuple[int, str | None, list[str]]:
    """(status, error code, profile actions) for one cell."""
    view, change = TARGETS[target]
    viewer = manager == "viewer@e2e.example"
    if viewer and target == SELF:
        view, change = "not_found", "not_found"  # the viewer is no member of north
    if action == "view":
        if view == "not_found":
            return 404, "not_found", []
        return 200, None, (["reset_password", "manage_phone"]
                           if view == "ok" and not viewer else [])
    if change == "not_found":
        return 404, "not_found", []
    if viewer:
        return 403, "forbidden", []  # forbidden comes before protected_user
    if change is None:
        return (200 if action == "reset_password" else 201), None, []
    return 403, change, []


def target_id(manager: str, target: str) -> str:
    if target == SELF:
        return uid(manager)
    if target == "unknown":
        return str(uuid.UUID(int=0x5EED))
    return uid(target)


def fake_upn(manager: str, target: str) -> str | None:
    if target == SELF:
        return manager
    return None if target == "unknown" else target


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("manager", MANAGERS)
async def test_matrix(stack: Stack, manager: str, target: str) -> None:
    m = await stack.manager(manager)
    audit = AuditTail(stack)
    user = target_id(manager, target)
    upn = fake_upn(manager, target)
    base = f"/api/v1/locations/north/staff/{user}"
    requests = {
        "view": ("GET", base, None),
        "reset_password": ("POST", base + "/password", {}),
        "add_phone": ("POST", base + "/phone-methods",
                      {"phoneType": "office", "phoneNumber": "+1 425 555 0133"}),
    }
    for action in ACTIONS:
        want_status, want_code, want_actions = expected(manager, target, action)
        before = state(stack, upn) if upn else None
        method, path, body = requests[action]
        status, data, _ = await m.call(method, path, body)
        assert (status, error_code(data)) == (want_status, want_code), (action, data)
        records = audit.new()
        if action == "view":
            if status == 200:
                assert data["id"] == user
                assert data["actions"] == want_actions
                assert records == []  # reads that succeed are not audited
            else:
                assert [(r["event"], r["outcome"], r["reason"]) for r in records] == [
                    ("access_denied", "denied", "not_found")]
            continue
        event = "password_reset" if action == "reset_password" else "phone_added"
        assert len(records) == 1, records
        record = records[0]
        assert record["event"] == event
        assert record["actor"] == {"id": uid(manager), "userPrincipalName": manager}
        assert record["location"] == "north"
        if want_code is None:
            assert record["outcome"] == "success"
            assert record["target"] == {"id": user, "userPrincipalName": upn}
            after = state(stack, upn)  # type: ignore[arg-type]
            if action == "reset_password":
                assert after[:2] == (data["temporaryPassword"], True)
            else:
                assert after[2]["office"][0] == "+1 4255550133"
            continue
        assert (record["outcome"], record["reason"]) == ("denied", want_code)
        if want_code == "not_found":
            # nothing about a user outside the manager's locations reaches the log
            assert "target" not in record
        if upn is not None:
            assert state(stack, upn) == before, (action, "the fake changed")


async def test_a_protected_profile_hides_its_phones(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    status, body, _ = await m.call("POST", f"/api/v1/locations/north/staff/"
                                   f"{uid('staff1@e2e.example')}/phone-methods",
                                   {"phoneType": "office", "phoneNumber": "4255550134"})
    assert status == 201
    # give the CEO a phone in the fake directly, then look as a manager
    ceo = stack.fake_user("ceo@e2e.example")
    staff1 = stack.fake_user("staff1@e2e.example")
    ceo.phones["office"] = staff1.phones["office"]
    status, body, _ = await m.call("GET", f"/api/v1/locations/north/staff/{ceo.id}")
    assert status == 200
    assert body["actions"] == [] and body["phoneMethods"] == []
