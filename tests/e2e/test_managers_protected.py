"""No manager gains, through anyone they manage, more than they hold (docs/authorization.md).

The outside test's attack: a shift lead resets the store manager's password (or puts their own
number on the manager's phone, then uses self-service reset), signs in as the manager and holds
their stores. Each path — the JSON API, the page, the phone changes — must refuse it with
``protected_user``, change nothing in the tenant and audit the refusal; while a manager who
strictly outranks another still manages them. Also: PIM eligibility on a tenant without the
licence, eligibility reads that fail, the owner set, and a protected person renamed by IT.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_checks import AuditTail, error_code, policy_variant, state
from e2e_support import Stack, parse_forms, running_stack, uid

from fake_graph.directory import Phone
from fake_graph.embedded import RunningFake
from fake_graph.faults import Fault
from mystaff_proxy.web.services import SERVICES

MANAGER = "mgr.upn@e2e.example"  # north: reset_password + manage_phone
LEAD = "lead@e2e.example"  # north: reset_password only
BOSS = "boss@e2e.example"  # north and south: both actions
PEER = "peer@e2e.example"  # north: both actions, as MANAGER
STAFF = "staff2@e2e.example"
API = "/api/v1/locations/north/staff"


@pytest.fixture
def stack(app_stack: Stack) -> Stack:
    """The proxy's own guard, in app mode: other managers act here without Entra roles (in
    manager mode Entra would refuse them first; tests/e2e/test_manager_mode.py)."""
    return app_stack
PAGE = "/locations/north/staff"
NUMBER = {"phoneNumber": "+1 425 555 0188"}


def _give_mobile(stack: Stack, upn: str) -> None:
    stack.fake_user(upn).phones["mobile"] = Phone("mobile", "+1 2065550111", "notAllowedByPolicy")


async def test_a_shift_lead_cannot_take_over_the_store_manager_through_the_api(
        stack: Stack) -> None:
    lead = await stack.manager(LEAD)
    before = state(stack, MANAGER)
    status, body, _ = await lead.call("POST", f"{API}/{uid(MANAGER)}/password", {})
    assert (status, error_code(body)) == (403, "protected_user")
    # The lead may not manage phones at all: the earlier check answers (docs/authorization.md)
    status, body, _ = await lead.call("POST", f"{API}/{uid(MANAGER)}/phone-methods",
                                      {"phoneType": "office", **NUMBER})
    assert (status, error_code(body)) == (403, "forbidden")
    assert state(stack, MANAGER) == before
    # The lead can still do their own job.
    status, body, _ = await lead.call("POST", f"{API}/{uid(STAFF)}/password", {})
    assert status == 200, body


async def test_an_equal_manager_is_refused_on_every_path(stack: Stack) -> None:
    """Both hold north with both actions: neither may become the other (reset, or a phone of
    their own on the other's account followed by self-service reset)."""
    _give_mobile(stack, MANAGER)
    lead = await stack.manager(PEER)
    audit = AuditTail(stack)
    before = state(stack, MANAGER)
    target = f"{API}/{uid(MANAGER)}"
    status, body, _ = await lead.call("GET", target)
    assert status == 200 and body["actions"] == [] and body["phoneMethods"] == []
    for method, path, payload, event in (
            ("POST", target + "/password", {}, "password_reset"),
            ("POST", target + "/phone-methods", {"phoneType": "office", **NUMBER}, "phone_added"),
            ("PATCH", target + "/phone-methods/mobile", NUMBER, "phone_changed"),
            ("DELETE", target + "/phone-methods/mobile", None, "phone_removed")):
        status, body, _ = await lead.call(method, path, payload)
        assert (status, error_code(body)) == (403, "protected_user"), (method, path, body)
        [record] = audit.new()
        assert (record["event"], record["outcome"], record["reason"]) == (
            event, "denied", "protected_user")
        assert record["detail"]["why"] == "manager"
        assert record["target"]["id"] == uid(MANAGER)
    assert state(stack, MANAGER) == before  # nothing changed in the tenant


async def test_a_shift_lead_cannot_take_over_the_store_manager_through_the_page(
        stack: Stack) -> None:
    lead = await stack.manager(LEAD)
    before = state(stack, MANAGER)
    base = stack.proxy_url + f"{PAGE}/{uid(MANAGER)}"
    async with lead.session.get(base) as resp:
        page = await resp.text()
    assert resp.status == 200
    assert "Managers can&#39;t be managed here" in page or "Managers can't be managed here" in page
    assert not [a for a, _ in parse_forms(page) if a.endswith("/password")]
    async with lead.session.get(base + "/password", allow_redirects=False) as resp:
        assert resp.status == 403
    # A forged post, with the lead's genuine CSRF token from a form they may use.
    async with lead.session.get(stack.proxy_url + f"{PAGE}/{uid(STAFF)}/password") as resp:
        forms = parse_forms(await resp.text())
    fields = next(f for a, f in forms if a.endswith("/password"))
    audit = AuditTail(stack)
    async with lead.session.post(base + "/password", data=fields,
                                 allow_redirects=False) as resp:
        text = await resp.text()
        assert resp.status == 403, text
    assert state(stack, MANAGER) == before
    [record] = audit.new()
    assert (record["event"], record["reason"], record["detail"]["why"]) == (
        "password_reset", "protected_user", "manager")


@pytest.mark.parametrize("target", [PEER, BOSS, "eligible@e2e.example",
                                    "pimgroup@e2e.example", "owner.app@e2e.example",
                                    "owner.group@e2e.example"])
async def test_the_page_offers_nothing_and_refuses_a_forged_change(stack: Stack,
                                                                   target: str) -> None:
    manager = await stack.manager(MANAGER)
    before = state(stack, target)
    base = stack.proxy_url + f"{PAGE}/{uid(target)}"
    async with manager.session.get(base) as resp:
        page = await resp.text()
    assert resp.status == 200
    assert not [a for a, _ in parse_forms(page) if "/password" in a or "/phones/" in a]
    async with manager.session.get(stack.proxy_url + f"{PAGE}/{uid(STAFF)}/password") as resp:
        fields = next(f for a, f in parse_forms(await resp.text()) if a.endswith("/password"))
    for path, data in (("/password", fields),
                       ("/phones/add", {**fields, "phoneType": "office",
                                        "phoneNumber": "4255550188"})):
        async with manager.session.post(base + path, data=data, allow_redirects=False) as resp:
            assert resp.status == 403, (path, await resp.text())
    assert state(stack, target) == before


async def test_a_higher_manager_still_manages_a_lower_one(stack: Stack) -> None:
    # The store manager resets the shift lead; the district manager resets the store manager.
    manager = await stack.manager(MANAGER)
    status, body, _ = await manager.call("GET", f"{API}/{uid(LEAD)}")
    assert status == 200 and body["actions"] == ["reset_password", "manage_phone"]
    status, body, _ = await manager.call("POST", f"{API}/{uid(LEAD)}/password", {})
    assert status == 200, body
    assert state(stack, LEAD)[:2] == (body["temporaryPassword"], True)
    status, body, _ = await manager.call("POST", f"{API}/{uid(LEAD)}/phone-methods",
                                         {"phoneType": "mobile", **NUMBER})
    assert status == 201, body
    boss = await stack.manager(BOSS)
    status, body, _ = await boss.call("POST", f"{API}/{uid(MANAGER)}/password", {})
    assert status == 200, body
    # ... but never the other way round, nor between equals.
    status, body, _ = await manager.call("POST", f"{API}/{uid(BOSS)}/password", {})
    assert (status, error_code(body)) == (403, "protected_user")
    status, body, _ = await manager.call("POST", f"{API}/{uid('peer@e2e.example')}/password", {})
    assert (status, error_code(body)) == (403, "protected_user")


async def test_managers_always_protected(e2e_fake: RunningFake, tmp_path: Path) -> None:
    template = policy_variant(tmp_path, ("  admins: true", "  admins: true\n  managers: always"))
    async with running_stack(e2e_fake, tmp_path / "s", policy_template=template) as stack:
        boss = await stack.manager(BOSS)
        status, body, _ = await boss.call("POST", f"{API}/{uid(MANAGER)}/password", {})
        assert (status, error_code(body)) == (403, "protected_user")
        status, body, _ = await boss.call("POST", f"{API}/{uid(STAFF)}/password", {})
        assert status == 200, body


async def test_a_tenant_without_pim_has_no_eligibility(stack: Stack) -> None:
    """Graph answers 400 AadPremiumLicenseRequired there: an answer ("none"), not a failure."""
    stack.fake.fake.directory.pim_licensed = False
    try:
        manager = await stack.manager(MANAGER)
        status, body, _ = await manager.call("POST", f"{API}/{uid(STAFF)}/password", {})
        assert status == 200, body
        assert stack.app[SERVICES].ops.pim_licensed is False
        # Still protected by everything else: the tenant-wide admin, the owner, the managers.
        for upn in ("admin.tenant@e2e.example", "owner.app@e2e.example", "peer@e2e.example"):
            status, body, _ = await manager.call("POST", f"{API}/{uid(upn)}/password", {})
            assert (status, error_code(body)) == (403, "protected_user"), upn
    finally:
        stack.fake.fake.directory.pim_licensed = True


async def test_a_failing_eligibility_read_fails_closed(stack: Stack) -> None:
    manager = await stack.manager(MANAGER)
    before = state(stack, STAFF)
    for path in (r"/roleEligibilityScheduleInstances", r"/group/eligibilityScheduleInstances"):
        stack.fake.fake.faults.add(Fault(path=re.compile(path), status=403))
        try:
            status, body, _ = await manager.call("POST", f"{API}/{uid(STAFF)}/password", {})
            assert (status, error_code(body)) == (502, "upstream_unavailable") or \
                (status, error_code(body)) == (503, "upstream_unavailable"), body
            assert state(stack, STAFF) == before
        finally:
            stack.fake.fake.faults.clear()


async def test_a_new_owner_is_protected_after_the_refresh(stack: Stack) -> None:
    manager = await stack.manager(MANAGER)
    staff = stack.fake_user(STAFF)
    app = next(iter(stack.fake.fake.directory.applications.values()))
    app.owners.append(staff.id)
    try:
        assert await stack.app[SERVICES].staff.owners.refresh()
        status, body, _ = await manager.call("POST", f"{API}/{uid(STAFF)}/password", {})
        assert (status, error_code(body)) == (403, "protected_user")
    finally:
        app.owners.remove(staff.id)


def _rename(stack: Stack, upn: str, new_upn: str) -> None:
    directory = stack.fake.fake.directory
    user = stack.fake_user(upn)
    del directory._upn_index[upn]
    user.user_principal_name = new_upn
    directory._upn_index[new_upn] = user.id


async def test_a_renamed_protected_user_stays_protected(e2e_fake: RunningFake,
                                                        tmp_path: Path) -> None:
    ceo = uid("ceo@e2e.example")
    async with running_stack(e2e_fake, tmp_path) as stack:
        _rename(stack, "ceo@e2e.example", "cleo.c@e2e.example")
        await stack.app[SERVICES].policy.reload(force=True)
        manager = await stack.manager(MANAGER)
        status, body, _ = await manager.call("POST", f"{API}/{ceo}/password", {})
        assert (status, error_code(body)) == (403, "protected_user")
    # A restart after the rename: the id is remembered in a file, not only in memory.
    async with running_stack(e2e_fake, tmp_path, reset=False) as stack:
        assert stack.fake_user("cleo.c@e2e.example").id == ceo
        manager = await stack.manager(MANAGER)
        status, body, _ = await manager.call("POST", f"{API}/{ceo}/password", {})
        assert (status, error_code(body)) == (403, "protected_user")
        assert (tmp_path / "protected-ids.json").exists()
    e2e_fake.fake.reset()
