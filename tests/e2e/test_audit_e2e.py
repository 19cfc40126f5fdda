"""The audit log (docs/audit.md) as the proxy writes it while serving real requests.

Exactly one record per sign-in, sign-out, change and refusal (successful reads: none), with the
fields docs/audit.md lists; and nowhere, neither in the audit file nor in the process output,
a password, a token, a cookie or a full phone number.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e_checks import AuditTail, bearer_call, error_code, user_token
from e2e_support import Manager, Stack, running_stack, uid
from token_shapes import JWT

from fake_graph.embedded import RunningFake
from fake_graph.faults import Fault
from mystaff_proxy.audit.phone_hash import PhoneHasher
from mystaff_proxy.web.services import SERVICES

NORTH = "/api/v1/locations/north/staff"
MGR = "mgr.upn@e2e.example"
STAFF1, STAFF2 = uid("staff1@e2e.example"), uid("staff2@e2e.example")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
EVENTS = {"sign_in", "sign_out", "password_reset", "phone_added", "phone_changed",
          "phone_removed", "temporary_access_pass_issued", "temporary_access_pass_removed",
          "sms_sign_in_enabled", "sms_sign_in_disabled", "access_denied"}
DETAIL_KEYS = {"phoneType", "phoneLast2", "previousPhoneLast2", "phoneHash",
               "previousPhoneHash", "method", "count", "action", "why", "retryAfter",
               "graphStatus", "graphCode", "operation", "lifetimeInMinutes", "isUsableOnce",
               "smsSignInState"}


def check_fields(record: dict[str, Any]) -> None:
    """The shape docs/audit.md gives every record."""
    assert TIME.match(record["time"]), record
    assert re.fullmatch(r"[0-9a-f]{32}", record["requestId"])
    assert record["event"] in EVENTS
    assert set(record["actor"]) == {"id", "userPrincipalName"}
    assert record["outcome"] in ("success", "denied", "failed")
    assert ("reason" in record) == (record["outcome"] != "success"), record
    if "target" in record:
        assert set(record["target"]) == {"id", "userPrincipalName"}
    assert set(record.get("detail", {})) <= DETAIL_KEYS
    assert set(record) <= {"time", "requestId", "event", "actor", "target", "location",
                           "outcome", "reason", "detail", "seq", "prev"}
    assert list(record)[-2:] == ["seq", "prev"]  # the chain (docs/audit.md), last


async def one(stack: Stack, audit: AuditTail, m: Manager, method: str, path: str,
              body: Any = None, *, status: int) -> dict[str, Any]:
    got, data, headers = await m.call(method, path, body)
    assert got == status, data
    record = audit.one()
    check_fields(record)
    assert record["requestId"] == headers["X-Request-ID"]
    assert record["actor"] == {"id": uid(m.upn), "userPrincipalName": m.upn}
    return record


async def test_one_record_per_action_and_refusal(stack: Stack) -> None:
    audit = AuditTail(stack)
    m = await stack.manager(MGR)
    sign_in = audit.one()
    check_fields(sign_in)
    callback = next(r for r in m.history if r.url.path == "/auth/callback")
    assert sign_in["requestId"] == callback.headers["X-Request-ID"]
    assert (sign_in["event"], sign_in["outcome"]) == ("sign_in", "success")
    assert sign_in["actor"] == {"id": uid(MGR), "userPrincipalName": MGR}

    # successful reads are not audited
    for path in ("/api/v1/me", "/api/v1/locations", NORTH, f"{NORTH}/{STAFF1}"):
        status, _, _ = await m.call("GET", path)
        assert status == 200
    assert audit.new() == []

    r = await one(stack, audit, m, "POST", f"{NORTH}/{STAFF2}/password", {}, status=200)
    assert (r["event"], r["outcome"], r["location"]) == ("password_reset", "success", "north")
    assert r["target"] == {"id": STAFF2, "userPrincipalName": "staff2@e2e.example"}
    assert r["detail"] == {"method": "generated"}

    r = await one(stack, audit, m, "POST", f"{NORTH}/{STAFF2}/password",
                  {"password": "Harbor-Lights-2024!x"}, status=200)
    assert r["detail"] == {"method": "manager_entered"}

    # phone events name the number by its keyed hash (docs/phones.md), never the number
    digest = PhoneHasher.from_settings(stack.settings).of
    r = await one(stack, audit, m, "POST", f"{NORTH}/{STAFF2}/phone-methods",
                  {"phoneType": "mobile", "phoneNumber": "425 555 0166"}, status=201)
    assert (r["event"], r["outcome"]) == ("phone_added", "success")
    assert r["detail"] == {"phoneType": "mobile", "phoneLast2": "66",
                           "phoneHash": digest("+14255550166")}

    r = await one(stack, audit, m, "PATCH", f"{NORTH}/{STAFF2}/phone-methods/mobile",
                  {"phoneNumber": "425 555 0157"}, status=200)
    assert (r["event"], r["outcome"]) == ("phone_changed", "success")
    assert r["detail"] == {"phoneType": "mobile", "phoneLast2": "57",
                           "previousPhoneLast2": "66", "phoneHash": digest("+14255550157"),
                           "previousPhoneHash": digest("+14255550166")}

    r = await one(stack, audit, m, "DELETE", f"{NORTH}/{STAFF2}/phone-methods/mobile",
                  status=204)
    assert (r["event"], r["outcome"]) == ("phone_removed", "success")
    assert r["detail"] == {"phoneType": "mobile", "phoneLast2": "57",
                           "phoneHash": digest("+14255550157")}

    # refusals: one record each, outcome denied, the code as reason
    ceo = uid("ceo@e2e.example")
    r = await one(stack, audit, m, "POST", f"{NORTH}/{ceo}/password", {}, status=403)
    assert (r["event"], r["outcome"], r["reason"]) == ("password_reset", "denied",
                                                       "protected_user")
    assert r["target"] == {"id": ceo, "userPrincipalName": "ceo@e2e.example"}

    r = await one(stack, audit, m, "POST", f"{NORTH}/{uid(MGR)}/phone-methods",
                  {"phoneType": "office", "phoneNumber": "4255550100"}, status=403)
    assert (r["event"], r["reason"], r["detail"]["why"]) == ("phone_added", "protected_user",
                                                             "self")

    r = await one(stack, audit, m, "GET", f"{NORTH}/{uid('south1@e2e.example')}", status=404)
    assert (r["event"], r["outcome"], r["reason"]) == ("access_denied", "denied", "not_found")
    assert r["location"] == "north" and "target" not in r
    assert r["detail"] == {"action": "view", "why": "not_member"}

    r = await one(stack, audit, m, "GET", "/api/v1/locations/south/staff", status=404)
    assert (r["event"], r["reason"], r["location"]) == ("access_denied", "not_found", "south")

    r = await one(stack, audit, m, "POST", f"{NORTH}/{STAFF1}/phone-methods",
                  {"phoneType": "mobile", "phoneNumber": "4255550100"}, status=409)
    assert (r["event"], r["outcome"], r["reason"]) == ("phone_added", "denied", "conflict")

    # a change Graph fails: outcome failed
    if stack.settings.graph.identity == "manager":  # resetPassword, as the manager
        stack.fake.fake.faults.add(Fault(path=re.compile(r"/resetPassword$"), method="POST",
                                         status=400, count=1))
    else:
        stack.fake.fake.faults.add(Fault(path=re.compile(r"^/v1\.0/users/[^/]+$"),
                                         method="PATCH", status=400, count=1))
    r = await one(stack, audit, m, "POST", f"{NORTH}/{STAFF2}/password", {}, status=502)
    assert (r["event"], r["outcome"], r["reason"]) == ("password_reset", "failed",
                                                       "upstream_unavailable")
    assert r["detail"] == {"method": "generated", "graphStatus": 400}

    # a bearer caller is the token's user
    token = await user_token(stack, "mgr.oid@e2e.example")
    status, _, headers = await bearer_call(stack, token, "POST", f"{NORTH}/{STAFF2}/password", {})
    assert status == 200
    r = audit.one()
    check_fields(r)
    assert r["actor"] == {"id": uid("mgr.oid@e2e.example"),
                          "userPrincipalName": "mgr.oid@e2e.example"}
    assert r["requestId"] == headers["X-Request-ID"]

    # a callback with a state nobody issued: counted in /metrics, never audited (anyone can
    # send those); one that does not finish a sign-in that was started: one record, no actor
    status, _, _ = await m.call("GET", "/auth/callback?code=forged&state=forged")
    assert status == 400 and audit.new() == []
    async with m.session.get(f"{stack.proxy_url}/auth/login", allow_redirects=False) as resp:
        state = parse_qs(urlsplit(resp.headers["Location"]).query)["state"][0]
    status, _, _ = await m.call("GET", f"/auth/callback?error=access_denied&state={state}")
    assert status == 400
    r = audit.one()
    check_fields(r)
    assert (r["event"], r["outcome"], r["actor"]) == (
        "sign_in", "denied", {"id": None, "userPrincipalName": None})

    # sign-out
    async with m.session.post(f"{stack.proxy_url}/auth/logout",
                              headers={"X-CSRF-Token": m.csrf}, allow_redirects=False) as resp:
        assert resp.status == 302
        rid = resp.headers["X-Request-ID"]
    r = audit.one()
    check_fields(r)
    assert (r["event"], r["outcome"], r["requestId"]) == ("sign_out", "success", rid)
    assert r["actor"] == {"id": uid(MGR), "userPrincipalName": MGR}
    # and nothing else was written: each line is one whole JSON object
    text = stack.audit_path.read_text()
    assert text.endswith("\n") and len(text.splitlines()) == len(stack.audit())


async def _exercise(stack: Stack) -> list[str]:
    """Sign in, change things, get refused; return every secret that went by."""
    secrets: list[str] = []
    m = await stack.manager(MGR)
    secrets.append(m.csrf)
    secrets += [c.value for c in m.session.cookie_jar]  # session and sign-in cookies
    for upn in ("staff1@e2e.example", "staff2@e2e.example"):
        uid_ = uid(upn)
        status, body, _ = await m.call("POST", f"{NORTH}/{uid_}/password", {})
        assert status == 200
        secrets.append(body["temporaryPassword"])
    typed = "Quartz-Meadow-7731!"
    status, _, _ = await m.call("POST", f"{NORTH}/{STAFF2}/password", {"password": typed})
    assert status == 200
    secrets.append(typed)
    refused = "Zebra-Crossing-4419!Staff2"  # refused: it holds the user's name
    status, body, _ = await m.call("POST", f"{NORTH}/{STAFF2}/password", {"password": refused})
    assert error_code(body) == "password_rejected"
    secrets.append(refused)
    for number in ("+1 425 555 0166", "+44 7400 123456"):
        status, _, _ = await m.call("POST", f"{NORTH}/{STAFF2}/phone-methods",
                                    {"phoneType": "office", "phoneNumber": number})
        assert status in (201, 409)
    status, _, _ = await m.call("PATCH", f"{NORTH}/{STAFF1}/phone-methods/mobile",
                                {"phoneNumber": "+1 206 555 0188"})
    assert status == 200
    status, body, _ = await m.call("POST", f"{NORTH}/{STAFF2}/phone-methods",
                                   {"phoneType": "mobile", "phoneNumber": "+1 900 555 0177"})
    assert error_code(body) == "invalid_phone_number"
    status, _, _ = await m.call("DELETE", f"{NORTH}/{STAFF2}/phone-methods/office")
    assert status == 204
    token = await user_token(stack, "mgr.oid@e2e.example")
    secrets.append(token)
    status, body, _ = await bearer_call(stack, token, "POST", f"{NORTH}/{STAFF1}/password", {})
    assert status == 200
    secrets.append(body["temporaryPassword"])
    status, _, _ = await bearer_call(stack, token[:-4] + "AAAA", "GET", "/api/v1/me")
    assert status == 401
    secrets.append(await stack.app[SERVICES].app_token())  # the proxy's own Graph token
    async with m.session.post(f"{stack.proxy_url}/auth/logout",
                              headers={"X-CSRF-Token": m.csrf}, allow_redirects=False) as resp:
        assert resp.status == 302
    return [s for s in secrets if s]


# full numbers, in any of the forms they were written or stored in
NUMBERS = ("4255550166", "7400123456", "2065550188", "9005550177", "2065550101")


def leaks(text: str, secrets: list[str]) -> list[str]:
    found = [s[:12] + "..." for s in secrets if s in text]
    # a number written with spaces, dashes, dots or brackets between its digits counts too
    found += [n for n in NUMBERS if re.search(r"[\s().-]{0,2}".join(n), text)]
    # and no token of any kind: the id and access tokens of each sign-in included
    found += JWT.findall(text)
    return found


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # everything any library logs, at its most talkative
    return caplog


async def test_no_secret_in_the_audit_file_or_the_process_output(
        all_logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
        stack: Stack) -> None:
    secrets = await _exercise(stack)
    assert len(secrets) >= 9
    audit_text = stack.audit_path.read_text()
    assert len(stack.audit()) >= 10
    out, err = capfd.readouterr()
    records = all_logs.get_records("setup") + all_logs.get_records("call")
    names = {r.name.split(".")[0] for r in records}
    assert {"mystaff_proxy", "msal", "azure"} <= names  # the capture works
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records)
    for name, text in (("audit", audit_text), ("stdout", out), ("stderr", err), ("logs", logs)):
        assert leaks(text, secrets) == [], name
    # the last two digits are there, as the audit's phoneLast2
    assert '"phoneLast2":"66"' in audit_text and '"phoneLast2":"88"' in audit_text


async def test_audit_to_standard_output(e2e_fake: RunningFake, tmp_path: Path,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    async with running_stack(e2e_fake, tmp_path, audit={"path": "-"},
                             session={"revocations_path": str(tmp_path / "revoked")}) as stack:
        capfd.readouterr()
        secrets = await _exercise(stack)
        out, err = capfd.readouterr()
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    events = [r["event"] for r in records]
    assert events.count("sign_in") == 1 and events.count("sign_out") == 1
    assert events.count("password_reset") == 5  # 2 generated, 1 typed, 1 refused, 1 bearer
    assert events.count("phone_added") == 3 and events.count("phone_changed") == 1
    assert events.count("phone_removed") == 1
    assert len(records) == 12
    for r in records:
        check_fields(r)
        assert r["outcome"] != "failed"  # no "interrupted" placeholder on standard output
    assert not stack.audit_path.exists()
    assert leaks(out + err, secrets) == []


# -- every change path, every refusal: its own event, and the location it was about -------------

CHANGES = [("POST", "password", {}, "password_reset"),
           ("POST", "phone-methods", {"phoneType": "office", "phoneNumber": "4255550100"},
            "phone_added"),
           ("PATCH", "phone-methods/mobile", {"phoneNumber": "4255550101"}, "phone_changed"),
           ("DELETE", "phone-methods/mobile", None, "phone_removed")]
PAGE_CHANGES = [("password", {"mode": "generate"}, "password_reset"),
                ("phones/add", {"phoneType": "office", "phoneNumber": "4255550100"},
                 "phone_added"),
                ("phones/mobile/edit", {"phoneNumber": "4255550101"}, "phone_changed"),
                ("phones/mobile/remove", {}, "phone_removed")]


async def test_a_wrong_csrf_token_is_audited_as_that_change_refused(stack: Stack) -> None:
    """A forged change on a genuine session reads in the log as the change it tried:
    ``password_reset`` / ``phone_*``, ``denied``, ``csrf_failed``, with the location and the
    person the request named (it was ``access_denied`` without either)."""
    audit = AuditTail(stack)
    m = await stack.manager(MGR)
    audit.new()
    for method, tail, body, event in CHANGES:
        status, _, _ = await m.call(method, f"{NORTH}/{STAFF1}/{tail}", body,
                                    headers={"X-CSRF-Token": "forged"})
        assert status == 403
        r = audit.one()
        check_fields(r)
        assert (r["event"], r["outcome"], r["reason"]) == (event, "denied", "csrf_failed")
        assert r["location"] == "north" and r["target"]["id"] == STAFF1
    for tail, form, event in PAGE_CHANGES:
        resp = await m.session.post(f"{stack.proxy_url}/locations/north/staff/{STAFF1}/{tail}",
                                    data={**form, "csrf": "forged"}, allow_redirects=False)
        assert resp.status == 403
        r = audit.one()
        check_fields(r)
        assert (r["event"], r["outcome"], r["reason"]) == (event, "denied", "csrf_failed")
        assert r["location"] == "north" and r["target"]["id"] == STAFF1


async def test_a_manager_of_nothing_is_refused_with_the_location_named(stack: Stack) -> None:
    """``insufficient_permissions`` records of a request about a location name it."""
    audit = AuditTail(stack)
    nobody = await stack.manager("nobody@e2e.example")
    audit.new()
    r = await one(stack, audit, nobody, "GET", NORTH, status=403)
    assert (r["event"], r["reason"], r["location"]) == ("access_denied",
                                                        "insufficient_permissions", "north")
    r = await one(stack, audit, nobody, "GET", f"{NORTH}/{STAFF1}", status=403)
    assert (r["event"], r["reason"], r["location"]) == ("access_denied",
                                                        "insufficient_permissions", "north")
    for method, tail, body, event in CHANGES:
        r = await one(stack, audit, nobody, method, f"{NORTH}/{STAFF1}/{tail}", body, status=403)
        assert (r["event"], r["outcome"], r["reason"], r["location"]) == (
            event, "denied", "insufficient_permissions", "north")
    resp = await nobody.session.get(f"{stack.proxy_url}/locations/north")
    assert resp.status == 403
    r = audit.one()
    assert (r["reason"], r["location"]) == ("insufficient_permissions", "north")
