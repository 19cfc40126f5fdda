"""Phone numbers that cannot be turned against the account (docs/phones.md), over HTTP.

The takeover: a manager puts their own number (or one that costs money to reach) on a staff
member's account, then uses self-service password reset or SMS sign-in as that person. The
proxy refuses the manager's own numbers, the international non-geographic ranges and, with
``phones.allowed_regions``, numbers of other regions (+1 876 is Jamaica, not the US), as
``400 phone_number_not_allowed``, audited ``denied`` with the number's keyed hash; and
``mystaff-proxy audit find-phone`` finds every account a number was put on.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from e2e_checks import AuditTail, error_code, policy_variant, state
from e2e_support import Manager, Stack, running_stack, uid

from fake_graph.directory import Phone
from fake_graph.embedded import RunningFake
from mystaff_proxy.audit.phone_hash import PhoneHasher
from mystaff_proxy.cli import main

API = "/api/v1/locations/north/staff"
PAGE = "/locations/north/staff"
MGR = "mgr.upn@e2e.example"
STAFF1, STAFF2 = "staff1@e2e.example", "staff2@e2e.example"
OWN = "This number belongs to you; use the staff member's own number."
NON_GEO = ("Satellite and international network numbers cannot be used; use the staff "
           "member's own number.")
REGION = ("This number is outside the countries your organization allows; use the staff "
          "member's own number.")


def give_the_manager_numbers(stack: Stack) -> None:
    """Mona's own numbers: a mobile phone method, and her profile's mobile and office."""
    mona = stack.fake_user(MGR)
    mona.phones["mobile"] = Phone("mobile", "+1 2065550111", "notAllowedByPolicy")
    mona.mobile_phone = "(425) 555-0142"
    mona.business_phones = ["+1 425 555 0199 ext. 12"]


async def refused(stack: Stack, m: Manager, audit: AuditTail, method: str, path: str,
                  body: dict[str, str], message: str, why: str) -> None:
    """``phone_number_not_allowed`` with ``message``; nothing changed; one denied record
    naming the number by its hash only."""
    before = {upn: state(stack, upn) for upn in (STAFF1, STAFF2, MGR)}
    status, answer, _ = await m.call(method, path, body)
    assert (status, error_code(answer)) == (400, "phone_number_not_allowed"), answer
    assert answer["error"]["message"] == message
    assert {upn: state(stack, upn) for upn in before} == before
    record = audit.one()
    event = "phone_added" if method == "POST" else "phone_changed"
    assert (record["event"], record["outcome"], record["reason"]) == (
        event, "denied", "phone_number_not_allowed")
    assert record["detail"]["why"] == why
    region = stack.settings.phones.default_region
    assert record["detail"]["phoneHash"] == \
        PhoneHasher.from_settings(stack.settings).of(body["phoneNumber"], region)


async def test_the_managers_own_numbers_are_refused_on_add_and_change(stack: Stack) -> None:
    give_the_manager_numbers(stack)
    m = await stack.manager(MGR)
    audit = AuditTail(stack)
    add = f"{API}/{uid(STAFF2)}/phone-methods"
    change = f"{API}/{uid(STAFF1)}/phone-methods/mobile"
    # however it is written: her phone method, her profile's mobile, her office line
    for number in ("206-555-0111", "+1 (206) 555 0111", "425.555.0142", "+14255550199"):
        await refused(stack, m, audit, "POST", add,
                      {"phoneType": "office", "phoneNumber": number}, OWN, "own_number")
        await refused(stack, m, audit, "PATCH", change, {"phoneNumber": number}, OWN,
                      "own_number")
    # the staff member's own number goes through
    status, body, _ = await m.call("POST", add, {"phoneType": "office",
                                                 "phoneNumber": "206 555 0177"})
    assert status == 201, body
    assert state(stack, STAFF2)[2]["office"][0] == "+1 2065550177"


async def test_only_the_acting_managers_own_numbers_are_refused(
        stack: Stack) -> None:
    """Only the acting manager's own numbers are refused: Omar may put a number that is
    Mona's on a staff member (it is no way into the account for Omar)."""
    give_the_manager_numbers(stack)
    omar = await stack.manager("mgr.oid@e2e.example")
    status, body, _ = await omar.call("POST", f"{API}/{uid(STAFF2)}/phone-methods",
                                      {"phoneType": "office", "phoneNumber": "206-555-0111"})
    assert status == 201, body


@pytest.mark.parametrize("number", ["+881 6 1234 5678", "+870 773 111 632", "+882 342 1234",
                                    "+883 5100 1234 5678", "+800 1234 5678"])
async def test_satellite_and_international_network_numbers_are_refused(
        stack: Stack, number: str) -> None:
    m = await stack.manager(MGR)
    audit = AuditTail(stack)
    await refused(stack, m, audit, "POST", f"{API}/{uid(STAFF2)}/phone-methods",
                  {"phoneType": "mobile", "phoneNumber": number}, NON_GEO, "non_geographic")
    await refused(stack, m, audit, "PATCH", f"{API}/{uid(STAFF1)}/phone-methods/mobile",
                  {"phoneNumber": number}, NON_GEO, "non_geographic")


@pytest.mark.parametrize("identity", ["app", "manager"])
async def test_allowed_regions_keep_out_look_alike_caribbean_numbers(
        e2e_fake: RunningFake, tmp_path: Path, identity: str) -> None:
    policy = policy_variant(tmp_path, ("limits:\n",
                                       "phones:\n  allowed_regions: [US, CA]\nlimits:\n"))
    async with running_stack(e2e_fake, tmp_path / "stack", policy_template=policy,
                             identity=identity) as stack:
        m = await stack.manager(MGR)
        audit = AuditTail(stack)
        add = f"{API}/{uid(STAFF2)}/phone-methods"
        for number in ("+1 876 555 0123", "(876) 555-0123", "+1 809 555 0123",
                       "+44 7400 123456"):
            await refused(stack, m, audit, "POST", add,
                          {"phoneType": "mobile", "phoneNumber": number}, REGION,
                          "region_not_allowed")
        status, body, _ = await m.call("POST", add, {"phoneType": "mobile",
                                                     "phoneNumber": "+1 206 555 0177"})
        assert status == 201, body
        status, body, _ = await m.call("PATCH", f"{add}/mobile",
                                       {"phoneNumber": "+1 416 555 0123"})
        assert status == 200, body
        assert state(stack, STAFF2)[2]["mobile"][0] == "+1 4165550123"


async def test_the_page_says_why_on_the_form(stack: Stack) -> None:
    give_the_manager_numbers(stack)
    m = await stack.manager(MGR)
    audit = AuditTail(stack)
    before = state(stack, STAFF2), state(stack, STAFF1)
    for path, form, message in (
            (f"{uid(STAFF2)}/phones/add", {"phoneType": "office", "phoneNumber": "2065550111"},
             OWN),
            (f"{uid(STAFF1)}/phones/mobile/edit", {"phoneNumber": "206 555 0111"}, OWN),
            (f"{uid(STAFF1)}/phones/mobile/edit", {"phoneNumber": "+881 6 1234 5678"},
             NON_GEO)):
        async with m.session.post(f"{stack.proxy_url}{PAGE}/{path}",
                                  data={**form, "csrf": m.csrf},
                                  allow_redirects=False) as resp:
            assert resp.status == 400
            page = html.unescape(await resp.text())
        # the form again, the number as typed and the sentence saying why
        assert f'role="alert" id="form-error">{message}</p>' in page
        assert f'value="{form["phoneNumber"]}"' in page
        record = audit.one()
        assert (record["outcome"], record["reason"]) == ("denied", "phone_number_not_allowed")
    assert (state(stack, STAFF2), state(stack, STAFF1)) == before


def _config(stack: Stack, tmp_path: Path) -> Path:
    """The proxy's configuration as an operator keeps it (the key comes from it)."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\npublic_url = "{stack.proxy_url}"\n'
        f'[tenant]\nid = "{stack.settings.tenant.id}"\n'
        f'[app]\nclient_id = "{stack.settings.app.client_id}"\n'
        f'[session]\nsecret = "{stack.settings.session.secret}"\n'
        f'[audit]\npath = "{stack.audit_path}"\n')
    return config


async def test_find_phone_lists_every_account_a_number_was_put_on(
        stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = await stack.manager(MGR)
    s1, s2 = f"{API}/{uid(STAFF1)}/phone-methods", f"{API}/{uid(STAFF2)}/phone-methods"
    for method, path, body, status in (
            ("POST", s1, {"phoneType": "office", "phoneNumber": "425 555 0177"}, 201),
            ("POST", s2, {"phoneType": "mobile", "phoneNumber": "+1 (425) 555-0177"}, 201),
            ("PATCH", f"{s2}/mobile", {"phoneNumber": "425-555-0133"}, 200),
            ("DELETE", f"{s1}/office", None, 204),
            ("POST", s2, {"phoneType": "office", "phoneNumber": "+881 6 1234 5678"}, 400)):
        got, answer, _ = await m.call(method, path, body)
        assert got == status, answer
    config = str(_config(stack, tmp_path))
    capsys.readouterr()

    assert main(["audit", "find-phone", "(425) 555-0177", "--config", config]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split("  ")[1:] for line in lines] == [
        ["phone_added", "success", MGR, STAFF1, "north", "office"],
        ["phone_added", "success", MGR, STAFF2, "north", "mobile"],
        ["phone_changed", "success", MGR, STAFF2, "north", "mobile", "previous number"],
        ["phone_removed", "success", MGR, STAFF1, "north", "office"],
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", line.split("  ")[0]) for line in lines)
    assert err == f"{stack.audit_path}: 4 event(s) about +14255550177\n"

    # the number it was changed to, from the other side; a refused attempt, with its reason
    assert main(["audit", "find-phone", "+14255550133", "--audit", str(stack.audit_path),
                 "--config", config]) == 0
    assert [line.split("  ")[1:] for line in capsys.readouterr().out.splitlines()] == [
        ["phone_changed", "success", MGR, STAFF2, "north", "mobile"]]
    assert main(["audit", "find-phone", "+881 612345678", "--config", config]) == 0
    assert [line.split("  ")[1:] for line in capsys.readouterr().out.splitlines()] == [
        ["phone_added", "denied:phone_number_not_allowed", MGR, STAFF2, "north", "office"]]

    # a number never used: nothing, exit 1; not a number: exit 2
    assert main(["audit", "find-phone", "206 555 0199", "--config", config]) == 1
    assert capsys.readouterr().out == ""
    assert main(["audit", "find-phone", "call me", "--config", config]) == 2

    # and the log never holds a number, in any form it was written or stored in
    text = stack.audit_path.read_text()
    for digits in ("4255550177", "4255550133", "612345678"):
        assert not re.search(r"[\s().+-]{0,2}".join(digits), text), digits
