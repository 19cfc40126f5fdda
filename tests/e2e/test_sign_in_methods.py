"""Temporary Access Pass and SMS sign-in through the JSON API, in both identity modes.

A staff member who lost their phone gets a pass (docs/sign-in-methods.md): within the
policy's and the tenant's bounds, shown once, never in the profile or the audit; refused in a
sentence when the tenant turned passes off or its policy does not cover the person. SMS sign-in
is switched on the mobile, with Graph's blocking states refused in words before any change.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_checks import AuditTail, error_code, policy_variant
from e2e_support import Stack, running_stack, uid

from fake_graph import derive_id
from fake_graph.directory import Phone
from fake_graph.embedded import RunningFake
from fake_graph.methods_policy import MethodTarget
from mystaff_proxy.audit.verify import verify

BASE = "/api/v1/locations/north/staff"
MANAGER = "mgr.upn@e2e.example"
STAFF1, STAFF2 = "staff1@e2e.example", "staff2@e2e.example"  # staff1 has a mobile
ALL = "[reset_password, manage_phone, issue_temporary_access_pass, manage_sms_sign_in]"


@pytest.fixture(params=["app", "manager"])
async def stack(request: pytest.FixtureRequest, e2e_fake: RunningFake,
                tmp_path: Path) -> AsyncIterator[Stack]:
    """North's UPN-named manager may also issue passes and switch SMS sign-in here."""
    template = policy_variant(
        tmp_path,
        ('  - managers: ["mgr.upn@e2e.example"]\n    locations: [north]\n'
         "    allow: [reset_password, manage_phone]",
         '  - managers: ["mgr.upn@e2e.example"]\n    locations: [north]\n'
         f"    allow: {ALL}"),
        ("limits:\n", "temporary_access_pass:\n  lifetime_minutes: 60\n"
                      "  max_lifetime_minutes: 240\n  one_time: true\nlimits:\n"))
    async with running_stack(e2e_fake, tmp_path / "s", policy_template=template,
                             identity=request.param) as s:
        yield s


def _pass_of(stack: Stack, upn: str) -> object:
    return stack.fake_user(upn).temporary_access_pass


async def test_a_pass_is_issued_once_and_the_profile_never_shows_it(stack: Stack) -> None:
    m = await stack.manager(MANAGER)
    audit = AuditTail(stack)
    status, body, headers = await m.call("POST", f"{BASE}/{uid(STAFF2)}/temporary-access-pass",
                                         {})
    assert status == 201, body
    assert headers["Cache-Control"] == "no-store"
    assert (body["lifetimeInMinutes"], body["isUsableOnce"]) == (60, True)
    issued = _pass_of(stack, STAFF2)
    assert issued is not None and issued.value == body["temporaryAccessPass"]  # type: ignore[attr-defined]
    [record] = audit.new()
    assert (record["event"], record["outcome"]) == ("temporary_access_pass_issued", "success")
    assert record["detail"] == {"lifetimeInMinutes": 60, "isUsableOnce": True}
    assert body["temporaryAccessPass"] not in json.dumps(stack.audit())
    status, profile, _ = await m.call("GET", f"{BASE}/{uid(STAFF2)}")
    assert status == 200
    assert profile["actions"] == ["reset_password", "manage_phone",
                                  "issue_temporary_access_pass", "manage_sms_sign_in"]
    assert profile["temporaryAccessPass"]["isUsable"] is True
    assert profile["temporaryAccessPass"]["lifetimeInMinutes"] == 60
    assert body["temporaryAccessPass"] not in json.dumps(profile)
    # A second pass replaces the first (Graph's rule), then it can be removed.
    status, second, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/temporary-access-pass",
                                     {"lifetimeMinutes": 120})
    assert status == 201 and second["lifetimeInMinutes"] == 120
    assert second["temporaryAccessPass"] != body["temporaryAccessPass"]
    status, _, _ = await m.call("DELETE", f"{BASE}/{uid(STAFF2)}/temporary-access-pass")
    assert status == 204
    assert _pass_of(stack, STAFF2) is None
    status, gone, _ = await m.call("DELETE", f"{BASE}/{uid(STAFF2)}/temporary-access-pass")
    assert (status, error_code(gone)) == (404, "not_found")
    # The tamper-evident chain holds with these events in it (docs/audit.md).
    verify([str(stack.audit_path)])


@pytest.mark.parametrize("body", [{"lifetimeMinutes": 241}, {"lifetimeMinutes": 0},
                                  {"lifetimeMinutes": "60"}, {"isUsableOnce": False},
                                  {"colour": "red"}, []])
async def test_a_pass_outside_the_policy_is_refused(stack: Stack, body: object) -> None:
    m = await stack.manager(MANAGER)
    status, answer, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/temporary-access-pass",
                                     body)
    assert (status, error_code(answer)) == (400, "invalid_request"), answer
    assert _pass_of(stack, STAFF2) is None


async def test_the_tenants_bounds_clamp_the_lifetime(stack: Stack) -> None:
    policy = stack.fake.fake.directory.methods_policy.temporary_access_pass
    policy.minimum_lifetime, policy.maximum_lifetime = 90, 100
    m = await stack.manager(MANAGER)
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/temporary-access-pass",
                                   {"lifetimeMinutes": 60})
    assert status == 201, body
    assert body["lifetimeInMinutes"] == 90


async def test_passes_turned_off_or_not_for_this_person_are_refused_in_words(
        stack: Stack) -> None:
    policy = stack.fake.fake.directory.methods_policy.temporary_access_pass
    m = await stack.manager(MANAGER)
    audit = AuditTail(stack)
    policy.state = "disabled"
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/temporary-access-pass", {})
    assert (status, error_code(body)) == (403, "forbidden")
    assert "turned off for your organization" in body["error"]["message"]
    [record] = audit.new()
    assert (record["reason"], record["detail"]["why"]) == ("forbidden", "pass_disabled")
    # enabled, but only for the floor team, of which staff2 is no member
    policy.state = "enabled"
    policy.include = [MethodTarget(derive_id("group", "Floor team"))]
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/temporary-access-pass", {})
    assert (status, error_code(body)) == (403, "forbidden")
    assert "does not cover this person" in body["error"]["message"]
    [record] = audit.new()
    assert record["detail"]["why"] == "pass_not_for_user"
    assert _pass_of(stack, STAFF2) is None


async def test_sms_sign_in_on_and_off(stack: Stack) -> None:
    m = await stack.manager(MANAGER)
    audit = AuditTail(stack)
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF1)}/phone-methods/mobile/"
                                   "sms-sign-in")
    assert status == 200, body
    assert body == {"phoneType": "mobile", "phoneNumber": "+1 2065550101",
                    "smsSignInState": "ready"}
    [record] = audit.new()
    assert (record["event"], record["outcome"]) == ("sms_sign_in_enabled", "success")
    assert record["detail"]["smsSignInState"] == "ready" and "phoneHash" in record["detail"]
    status, body, _ = await m.call("DELETE", f"{BASE}/{uid(STAFF1)}/phone-methods/mobile/"
                                   "sms-sign-in")
    assert status == 200 and body["smsSignInState"] == "notEnabled"
    assert stack.fake_user(STAFF1).phones["mobile"].sms_sign_in_state == "notEnabled"


async def test_sms_sign_in_that_cannot_work_is_refused_in_words(stack: Stack) -> None:
    m = await stack.manager(MANAGER)
    # no mobile
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/phone-methods/mobile/"
                                   "sms-sign-in")
    assert (status, error_code(body)) == (409, "conflict")
    assert body["error"]["message"] == "This person has no mobile number; add one first."
    # a number that already signs someone else in: Graph shows it after the switch (then the
    # change is audited as refused), or already before it (then nothing is sent)
    audit = AuditTail(stack)
    for shown in ("notEnabled", "phoneNumberNotUnique"):
        stack.fake_user(STAFF2).phones["mobile"] = Phone("mobile", "+1 2065550101", shown)
        status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/phone-methods/mobile/"
                                       "sms-sign-in")
        assert (status, error_code(body)) == (409, "conflict"), body
        assert "already signs someone else in" in body["error"]["message"]
        [record] = audit.new()
        assert (record["event"], record["outcome"], record["reason"]) == (
            "sms_sign_in_enabled", "denied", "conflict")
    # the organization's SMS policy does not allow it
    stack.fake.fake.directory.methods_policy.sms.state = "disabled"
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF1)}/phone-methods/mobile/"
                                   "sms-sign-in")
    assert (status, error_code(body)) == (409, "conflict"), body
    assert "does not allow phone sign-in" in body["error"]["message"]
    assert stack.fake_user(STAFF1).phones["mobile"].sms_sign_in_state != "ready"


async def test_other_managers_may_not(stack: Stack) -> None:
    """mgr.oid holds reset_password and manage_phone only: forbidden, nothing sent."""
    m = await stack.manager("mgr.oid@e2e.example")
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/temporary-access-pass", {})
    assert (status, error_code(body)) == (403, "forbidden")
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF1)}/phone-methods/mobile/"
                                   "sms-sign-in")
    assert (status, error_code(body)) == (403, "forbidden")
    assert _pass_of(stack, STAFF2) is None


# Whom a manager of north (all four actions, north only) must never reach through a pass or
# SMS sign-in: higher managers, a manager of another location or through a nested group, admins
# (active or eligible), owners, the protected list, oneself; and anyone outside north.
PROTECTED_TARGETS = ("boss@e2e.example", "other.store@e2e.example", "grouplead@e2e.example",
                     "admin.tenant@e2e.example", "eligible@e2e.example",
                     "owner.app@e2e.example", "ceo@e2e.example", MANAGER)
PATHS = (("POST", "/temporary-access-pass", {}), ("DELETE", "/temporary-access-pass", None),
         ("POST", "/phone-methods/mobile/sms-sign-in", None),
         ("DELETE", "/phone-methods/mobile/sms-sign-in", None))


def _account(stack: Stack, upn: str) -> tuple[object, object, dict[str, tuple[str, str]]]:
    user = stack.fake_user(upn)
    return (user.temporary_access_pass, user.password,
            {t: (p.number, p.sms_sign_in_state) for t, p in user.phones.items()})


@pytest.mark.parametrize("target", [*PROTECTED_TARGETS, "south1@e2e.example"])
async def test_no_pass_or_sms_switch_for_the_protected_or_outside(stack: Stack,
                                                                  target: str) -> None:
    # a mobile, so that SMS sign-in would otherwise be possible
    stack.fake_user(target).phones["mobile"] = Phone("mobile", "+1 4255550177", "notEnabled")
    m = await stack.manager(MANAGER)
    before = _account(stack, target)
    want = (404, "not_found") if target.startswith("south1") else (403, "protected_user")
    for method, path, body in PATHS:
        status, answer, _ = await m.call(method, f"{BASE}/{uid(target)}{path}", body)
        assert (status, error_code(answer)) == want, (method, path, answer)
    assert _account(stack, target) == before


@pytest.mark.parametrize("target", ["boss@e2e.example", "owner.app@e2e.example"])
async def test_the_page_refuses_forged_pass_and_sms_posts(stack: Stack, target: str) -> None:
    stack.fake_user(target).phones["mobile"] = Phone("mobile", "+1 4255550177", "notEnabled")
    m = await stack.manager(MANAGER)
    page = f"{stack.proxy_url}/locations/north/staff/{uid(target)}"
    before = _account(stack, target)
    audit = AuditTail(stack)
    for path, data in (("/temporary-access-pass", {"lifetimeMinutes": "60", "once": "x1"}),
                       ("/temporary-access-pass/remove", {}),
                       ("/phone-methods/mobile/sms-sign-in/enable", {}),
                       ("/phone-methods/mobile/sms-sign-in/disable", {})):
        async with m.session.post(page + path, data={"csrf": m.csrf, **data},
                                  allow_redirects=False) as resp:
            assert resp.status == 403, (path, await resp.text())
        [record] = audit.new()
        assert (record["outcome"], record["reason"]) == ("denied", "protected_user"), path
    assert _account(stack, target) == before
