"""Phone methods: the documented rules, each one tested so that dropping it fails a test."""

from __future__ import annotations

from graph_support import (
    READER_APP,
    Served,
    app_token,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    user_token,
)

from fake_graph.directory import PHONE_METHOD_IDS

BOB = uid("bob@contoso.test")  # mobile only
FRANK = uid("frank@contoso.test")  # no phones
JUDY = uid("judy@contoso.test")  # mobile, alternateMobile, office
MOBILE = PHONE_METHOD_IDS["mobile"]
ALTERNATE = PHONE_METHOD_IDS["alternateMobile"]
PHONE_TYPE = "#microsoft.graph.phoneAuthenticationMethod"


def phones(user: str) -> str:
    return f"/users/{user}/authentication/phoneMethods"


async def test_create_returns_201_with_location(served: Served) -> None:
    status, body, headers = await served.call(
        "POST", phones(FRANK), token=app_token(served.fake),
        json={"@odata.type": PHONE_TYPE, "phoneNumber": "+1 2065550123x45",
              "phoneType": "office"})
    assert status == 201
    assert body["id"] == PHONE_METHOD_IDS["office"]
    assert body["@odata.type"] == PHONE_TYPE
    assert headers["Location"] == f"{served.graph}{phones(FRANK)}/{PHONE_METHOD_IDS['office']}"


async def test_phone_number_format(served: Served) -> None:
    token = app_token(served.fake)
    for number in ("2065550123", "+1 (206) 555-0123", "+1 206 555 0123", "+12065550123",
                   "+1 2065550123 x45", ""):
        status, body, _ = await served.call("POST", phones(FRANK), token=token,
                                            json={"phoneNumber": number, "phoneType": "mobile"})
        assert (status, body["error"]["code"]) == (400, "invalidRequest"), number
    assert served.fake.directory.users[FRANK].phones == {}


async def test_one_phone_per_type(served: Served) -> None:
    status, body, _ = await served.call("POST", phones(BOB), token=app_token(served.fake),
                                        json={"phoneNumber": "+1 2065550999",
                                              "phoneType": "mobile"})
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert served.fake.directory.users[BOB].phones["mobile"].number == "+1 2065550100"


async def test_alternate_mobile_needs_mobile(served: Served) -> None:
    token = app_token(served.fake)
    new = {"phoneNumber": "+1 2065550124", "phoneType": "alternateMobile"}
    status, body, _ = await served.call("POST", phones(FRANK), token=token, json=new)
    assert (status, body["error"]["code"]) == (409, "conflict")
    status, _, _ = await served.call("POST", phones(BOB), token=token, json=new)
    assert status == 201


async def test_mobile_not_removable_while_alternate_mobile_exists(served: Served) -> None:
    token = app_token(served.fake)
    status, body, _ = await served.call("DELETE", f"{phones(JUDY)}/{MOBILE}", token=token)
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert (await served.call("DELETE", f"{phones(JUDY)}/{ALTERNATE}", token=token))[0] == 204
    assert (await served.call("DELETE", f"{phones(JUDY)}/{MOBILE}", token=token))[0] == 204
    assert set(served.fake.directory.users[JUDY].phones) == {"office"}


async def test_patch_cannot_change_type_and_validates_number(served: Served) -> None:
    token = app_token(served.fake)
    status, _, _ = await served.call("PATCH", f"{phones(BOB)}/{MOBILE}", token=token,
                                     json={"phoneNumber": "+1 2065550100",
                                           "phoneType": "office"})
    assert status == 400
    status, _, _ = await served.call("PATCH", f"{phones(BOB)}/{MOBILE}", token=token,
                                     json={"phoneNumber": "206 555 0100"})
    assert status == 400
    status, body, _ = await served.call("PATCH", f"{phones(BOB)}/{MOBILE}", token=token,
                                        json={"@odata.type": PHONE_TYPE,
                                              "phoneNumber": "+1 2065550111",
                                              "phoneType": "mobile"})
    assert (status, body) == (204, None)
    assert served.fake.directory.users[BOB].phones["mobile"].number == "+1 2065550111"


async def test_read_only_and_unknown_keys_are_refused(served: Served) -> None:
    token = app_token(served.fake)
    for extra in ({"smsSignInState": "ready"}, {"phone_number": "+1 2065550100"}):
        status, body, _ = await served.call(
            "POST", phones(FRANK), token=token,
            json={"phoneNumber": "+1 2065550100", "phoneType": "mobile"} | extra)
        assert (status, body["error"]["code"]) == (400, "invalidRequest"), extra


async def test_unknown_or_absent_method_is_404(served: Served) -> None:
    token = app_token(served.fake)
    for path in (f"{phones(FRANK)}/{MOBILE}", f"{phones(BOB)}/{ALTERNATE}",
                 f"{phones(BOB)}/00000000-0000-0000-0000-000000000000"):
        status, _body, _ = await served.call("GET", path, token=token)
        assert status == 404, path
        status, _, _ = await served.call("DELETE", path, token=token)
        assert status == 404, path


async def test_methods_list_includes_password_method(served: Served) -> None:
    _, body, _ = await served.call("GET", f"/users/{BOB}/authentication/methods",
                                   token=app_token(served.fake))
    assert [m["@odata.type"] for m in body["value"]] == [
        "#microsoft.graph.passwordAuthenticationMethod", PHONE_TYPE]


async def test_sms_sign_in_enable_disable_and_uniqueness(served: Served) -> None:
    token = app_token(served.fake)
    enable = f"{phones(BOB)}/{MOBILE}/enableSmsSignIn"
    assert (await served.call("POST", enable, token=token))[0] == 204
    # judy has the same mobile number: numbers must be unique in the tenant for SMS sign-in.
    assert served.fake.directory.users[BOB].phones["mobile"].sms_sign_in_state == (
        "phoneNumberNotUnique")
    await served.call("PATCH", f"{phones(BOB)}/{MOBILE}", token=token,
                      json={"phoneNumber": "+1 2065550142"})
    assert served.fake.directory.users[BOB].phones["mobile"].sms_sign_in_state == "ready"
    assert (await served.call("POST", f"{phones(BOB)}/{MOBILE}/disableSmsSignIn",
                              token=token))[0] == 204
    assert served.fake.directory.users[BOB].phones["mobile"].sms_sign_in_state == "notEnabled"
    status, _, _ = await served.call("POST", f"{phones(FRANK)}/{MOBILE}/enableSmsSignIn",
                                     token=token)
    assert status == 404  # no mobile phone
    status, _, _ = await served.call("POST", f"{phones(JUDY)}/{ALTERNATE}/enableSmsSignIn",
                                     token=token)
    assert status == 400


async def test_phone_permissions(served: Served) -> None:
    status, body, _ = await served.call("GET", phones(BOB),
                                        token=app_token(served.fake, READER_APP))
    assert (status, body["error"]["code"]) == (403, "Authorization_RequestDenied")
    read_only = app_token(served.fake, roles=["UserAuthenticationMethod.Read.All"])
    assert (await served.call("GET", phones(BOB), token=read_only))[0] == 200
    status, _, _ = await served.call("POST", phones(FRANK), token=read_only,
                                     json={"phoneNumber": "+1 2065550100",
                                           "phoneType": "mobile"})
    assert status == 403


async def test_delegated_phone_management_needs_a_role(served: Served) -> None:
    scopes = ["UserAuthenticationMethod.ReadWrite.All"]
    new = {"phoneNumber": "+1 2065550100", "phoneType": "office"}
    # alice: Authentication Administrator scoped to Seattle; bob is a direct, non-admin member.
    alice = user_token(served.fake, "alice@contoso.test", scopes)
    assert (await served.call("POST", phones(BOB), token=alice, json=new))[0] == 201
    carol = uid("carol@contoso.test")  # in Seattle only through a group
    assert (await served.call("POST", phones(carol), token=alice, json=new))[0] == 403
    dave = uid("dave@contoso.test")  # a direct member, but an admin (Helpdesk through a group)
    assert (await served.call("POST", phones(dave), token=alice, json=new))[0] == 403
    frank = user_token(served.fake, "frank@contoso.test", scopes)  # no role at all
    assert (await served.call("POST", phones(JUDY), token=frank, json=new))[0] == 403
