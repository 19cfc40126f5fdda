"""Every endpoint of the JSON API (docs/api.md) in its success case, over real sockets,
checked on the fake."""

from __future__ import annotations

from e2e_checks import AuditTail, state
from e2e_support import Stack, uid

from mystaff_proxy.policy.passwords import word_list

STAFF1 = uid("staff1@e2e.example")
STAFF2 = uid("staff2@e2e.example")
BASE = "/api/v1/locations/north/staff"
BOTH = ["reset_password", "manage_phone"]


async def test_me_for_each_kind_of_user(stack: Stack) -> None:
    for upn, locations in [
        ("mgr.upn@e2e.example", [{"id": "north", "name": "North store", "actions": BOTH}]),
        ("mgr.oid@e2e.example", [{"id": "north", "name": "North store", "actions": BOTH}]),
        ("mgr.group@e2e.example", [{"id": "north", "name": "North store", "actions": BOTH}]),
        # south has no name in the policy: the AU's displayName is used
        ("viewer@e2e.example", [{"id": "north", "name": "North store", "actions": []},
                                {"id": "south", "name": "South store", "actions": []}]),
        ("nobody@e2e.example", []),
    ]:
        m = await stack.manager(upn)
        status, me, headers = await m.call("GET", "/api/v1/me")
        assert status == 200, me
        assert me["id"] == uid(upn)
        assert me["userPrincipalName"] == upn
        assert me["displayName"] == stack.fake_user(upn).display_name
        assert me["locations"] == locations
        assert me["csrfToken"] and me["csrfToken"] == m.csrf
        assert headers["Cache-Control"] == "no-store"


async def test_locations(stack: Stack) -> None:
    m = await stack.manager("viewer@e2e.example")
    status, body, _ = await m.call("GET", "/api/v1/locations")
    assert status == 200
    assert body == {"value": [{"id": "north", "name": "North store", "actions": []},
                              {"id": "south", "name": "South store", "actions": []}]}


async def test_staff_list_first_page(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    status, body, _ = await m.call("GET", f"{BASE}?search=staff")
    assert status == 200
    assert body == {"value": [
        {"id": STAFF1, "displayName": "Sam Staff", "userPrincipalName": "staff1@e2e.example",
         "jobTitle": "Cashier"},
        {"id": STAFF2, "displayName": "Sara Staff", "userPrincipalName": "staff2@e2e.example",
         "jobTitle": "Stocker"},
        {"id": uid("staff3@e2e.example"), "displayName": "<img src=x onerror=alert(1)>",
         "userPrincipalName": "staff3@e2e.example", "jobTitle": "Cashier"},
    ], "nextCursor": None}


async def test_profile(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    status, body, _ = await m.call("GET", f"{BASE}/{STAFF1}")
    assert status == 200
    assert body == {"id": STAFF1, "displayName": "Sam Staff",
                    "userPrincipalName": "staff1@e2e.example", "mail": "staff1@e2e.example",
                    "jobTitle": "Cashier", "actions": BOTH,
                    "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550101",
                                      "smsSignInState": "notEnabled"}],
                    "temporaryAccessPass": None}
    # a user id in upper case names the same user
    status, upper, _ = await m.call("GET", f"{BASE}/{STAFF1.upper()}")
    assert status == 200 and upper["id"] == STAFF1


async def test_reset_password_generated(stack: Stack) -> None:
    m = await stack.manager("mgr.oid@e2e.example")
    status, body, headers = await m.call("POST", f"{BASE}/{STAFF2}/password", {})
    assert status == 200, body
    assert headers["Cache-Control"] == "no-store"
    password = body["temporaryPassword"]
    assert body["forceChangePasswordNextSignIn"] is True
    # The policy's style is the default, words: Maple-harbor-tiger-pond-47, at least its
    # length (16), upper, lower, digit and the "-" (docs/passwords.md).
    *words, digits = password.split("-")
    assert len(password) >= 16 and len(words) == 4 and len(digits) == 2 and digits.isdigit()
    assert set(w.lower() for w in words) <= set(word_list())
    assert sum(w[0].isupper() for w in words) == 1
    user = stack.fake_user("staff2@e2e.example")
    assert user.password == password and user.force_change_password_next_sign_in is True
    # an empty body (no JSON at all) is the same as {}
    status, again, _ = await m.call("POST", f"{BASE}/{STAFF2}/password")
    assert status == 200 and again["temporaryPassword"] != password
    assert stack.fake_user("staff2@e2e.example").password == again["temporaryPassword"]


async def test_reset_password_manager_entered(stack: Stack) -> None:
    m = await stack.manager("mgr.group@e2e.example")
    typed = "Harbor-Lights-2024!x"
    status, body, _ = await m.call("POST", f"{BASE}/{STAFF2}/password", {"password": typed})
    assert status == 200, body
    assert body == {"temporaryPassword": typed, "forceChangePasswordNextSignIn": True}
    assert state(stack, "staff2@e2e.example")[:2] == (typed, True)


async def test_phone_add_change_remove(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    audit = AuditTail(stack)
    status, body, _ = await m.call("POST", f"{BASE}/{STAFF2}/phone-methods",
                                   {"phoneType": "mobile", "phoneNumber": "(206) 555-0142"})
    assert status == 201, body
    assert body == {"phoneType": "mobile", "phoneNumber": "+1 2065550142",
                    "smsSignInState": body["smsSignInState"]}
    assert state(stack, "staff2@e2e.example")[2]["mobile"][0] == "+1 2065550142"
    assert audit.one()["event"] == "phone_added"

    # a national number of another region, with the region named
    status, body, _ = await m.call("POST", f"{BASE}/{STAFF2}/phone-methods",
                                   {"phoneType": "office", "phoneNumber": "030 123456",
                                    "region": "DE"})
    assert status == 201, body
    assert body["phoneNumber"] == "+49 30123456"
    assert audit.one()["event"] == "phone_added"

    status, body, _ = await m.call("PATCH", f"{BASE}/{STAFF2}/phone-methods/mobile",
                                   {"phoneNumber": "+44 7400 123456"})
    assert status == 200, body
    assert body["phoneType"] == "mobile" and body["phoneNumber"] == "+44 7400123456"
    assert state(stack, "staff2@e2e.example")[2]["mobile"][0] == "+44 7400123456"
    assert audit.one()["event"] == "phone_changed"

    status, body, _ = await m.call("GET", f"{BASE}/{STAFF2}")
    assert {p["phoneType"]: p["phoneNumber"] for p in body["phoneMethods"]} == {
        "mobile": "+44 7400123456", "office": "+49 30123456"}

    status, body, _ = await m.call("DELETE", f"{BASE}/{STAFF2}/phone-methods/office")
    assert status == 204 and body == b""
    assert set(state(stack, "staff2@e2e.example")[2]) == {"mobile"}
    assert audit.one()["event"] == "phone_removed"


async def test_alternate_mobile_after_mobile(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    status, body, _ = await m.call("POST", f"{BASE}/{STAFF1}/phone-methods",
                                   {"phoneType": "alternateMobile", "phoneNumber": "2065550177"})
    assert status == 201, body
    assert set(state(stack, "staff1@e2e.example")[2]) == {"mobile", "alternateMobile"}
    # removing the alternate first, then the mobile, is fine
    status, _, _ = await m.call("DELETE", f"{BASE}/{STAFF1}/phone-methods/alternateMobile")
    assert status == 204
    status, _, _ = await m.call("DELETE", f"{BASE}/{STAFF1}/phone-methods/mobile")
    assert status == 204
    assert state(stack, "staff1@e2e.example")[2] == {}


async def test_openapi_document_is_served_without_sign_in(stack: Stack) -> None:
    m = await stack.manager()
    status, doc, headers = await m.call("GET", "/api/v1/openapi.json")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert doc["openapi"] == "3.1.0" and "/api/v1/me" in doc["paths"]
