"""The audit log under attack: values from requests cannot forge or split records (log
injection), and no secret reaches it (passwords, tokens, cookies, full phone numbers)."""

from __future__ import annotations

import json
from urllib.parse import quote

from e2e_support import CLIENT_SECRET, Stack, uid
from token_shapes import has_jwt

from mystaff_proxy.audit.phone_hash import PhoneHasher

MGR = "mgr.upn@e2e.example"
FORGED = "\"event\":\"password_reset\",\"outcome\":\"success\",\"actor\":\"x\""
BREAKS = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1e", "\x85", "\u2028", "\u2029"]
BIDI = ["\u202e", "\u2066", "\ufeff"]


async def test_request_values_cannot_split_or_forge_audit_records(stack: Stack) -> None:
    m = await stack.manager(MGR)
    keys = [f"north{c}{FORGED}" for c in BREAKS] + [f"no{c}rth" for c in BIDI]
    for key in keys:
        status, _, _ = await m.call("GET", f"/api/v1/locations/{quote(key, safe='')}/staff")
        assert status == 404
        status, _, _ = await m.call(
            "POST", f"/api/v1/locations/{quote(key, safe='')}/staff/{uid('staff1@e2e.example')}"
            "/password", {})
        assert status == 404
    raw = stack.audit_path.read_bytes().decode("utf-8")
    # Every way of reading lines sees the same records: \n-split, and str.splitlines (which
    # also breaks on U+2028, U+0085, ...), and each line is one JSON object.
    lines = raw.split("\n")[:-1]
    assert raw.splitlines() == lines
    records = [json.loads(line) for line in lines]
    refused = [r for r in records if r["event"] != "sign_in"]
    assert len(refused) == 2 * len(keys)
    assert [r["location"] for r in refused] == [k for k in keys for _ in (1, 2)]
    assert all(r["outcome"] == "denied" for r in refused)
    assert all(isinstance(r["actor"], dict) for r in records)
    for c in [*BIDI, "\x85", "\u2028", "\u2029"]:
        assert c not in raw  # written as \uXXXX escapes


async def test_no_secret_reaches_the_audit_log(stack: Stack) -> None:
    m = await stack.manager(MGR)
    target = uid("staff2@e2e.example")
    status, body, _ = await m.call("POST", f"/api/v1/locations/north/staff/{target}/password",
                                   {})
    assert status == 200
    generated = body["temporaryPassword"]
    typed = "Quartz-Meadow-Lantern-93"
    status, _, _ = await m.call("POST", f"/api/v1/locations/north/staff/{target}/password",
                                {"password": typed})
    assert status == 200
    status, _, _ = await m.call("POST", f"/api/v1/locations/north/staff/{target}/phone-methods",
                                {"phoneType": "mobile", "phoneNumber": "+1 206 555 0188"})
    assert status == 201
    status, _, _ = await m.call("PATCH", f"/api/v1/locations/north/staff/{target}/phone-methods"
                                "/mobile", {"phoneNumber": "+1 206 555 0199"})
    assert status == 200
    # A refused typed password is not logged either.
    status, _, _ = await m.call("POST", f"/api/v1/locations/north/staff/{target}/password",
                                {"password": "short"})
    assert status == 400
    await m.session.post(stack.proxy_url + "/auth/logout", headers={"X-CSRF-Token": m.csrf})
    raw = stack.audit_path.read_text(encoding="utf-8")
    cookie_values = [c.value for c in m.session.cookie_jar]
    for secret in [generated, typed, "short", m.csrf, CLIENT_SECRET,
                   "2065550188", "2065550199", "5550188", "5550199", *cookie_values]:
        assert secret not in raw, secret
    assert not has_jwt(raw)  # no JWT
    details = [json.loads(line).get("detail") or {} for line in raw.splitlines()]
    # the number is named by its keyed hash (docs/phones.md), never written
    digest = PhoneHasher.from_settings(stack.settings).digest
    assert {"phoneType": "mobile", "phoneLast2": "88",
            "phoneHash": digest("+12065550188")} in details
    assert any(d.get("previousPhoneLast2") == "88" and d.get("phoneLast2") == "99"
               and d.get("previousPhoneHash") == digest("+12065550188")
               and d.get("phoneHash") == digest("+12065550199")
               for d in details)
