"""SMS sign-in follows the SMS method configuration: ``smsSignInState`` computed from it,
``enableSmsSignIn`` refused for users it does not allow, a new mobile registered for those it
does.

Learn: https://learn.microsoft.com/graph/api/phoneauthenticationmethod-enablesmssignin,
https://learn.microsoft.com/graph/api/phoneauthenticationmethod-disablesmssignin,
https://learn.microsoft.com/graph/api/resources/phoneauthenticationmethod (the states),
https://learn.microsoft.com/graph/api/authentication-post-phonemethods ("the system will
attempt to register the number"),
https://learn.microsoft.com/graph/api/resources/smsauthenticationmethodconfiguration.
"""

from __future__ import annotations

from typing import Any

from graph_support import (
    Served,
    app_token,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
)

from fake_graph.directory import PHONE_METHOD_IDS, derive_id
from fake_graph.graph.auth_methods import SMS_REFUSAL
from fake_graph.methods_policy import MethodTarget

BOB = uid("bob@contoso.test")  # mobile +1 2065550100, the same number as judy's
FRANK = uid("frank@contoso.test")  # no phones
JUDY = uid("judy@contoso.test")  # mobile, alternateMobile, office
MOBILE = PHONE_METHOD_IDS["mobile"]


def phones(user: str) -> str:
    return f"/users/{user}/authentication/phoneMethods"


async def states(served: Served, user: str) -> dict[str, str]:
    _, body, _ = await served.call("GET", phones(user), token=app_token(served.fake))
    return {p["phoneType"]: p["smsSignInState"] for p in body["value"]}


async def enable(served: Served, user: str) -> tuple[int, Any]:
    status, body, _ = await served.call("POST", f"{phones(user)}/{MOBILE}/enableSmsSignIn",
                                        token=app_token(served.fake))
    return status, body


async def test_enabled_for_all_users_by_default(served: Served) -> None:
    assert await states(served, JUDY) == {"mobile": "notEnabled", "alternateMobile":
                                          "notSupported", "office": "notSupported"}
    await served.call("PATCH", f"{phones(JUDY)}/{MOBILE}", token=app_token(served.fake),
                      json={"phoneNumber": "+1 2065550177"})
    assert await enable(served, JUDY) == (204, None)
    assert (await states(served, JUDY))["mobile"] == "ready"
    status, _, _ = await served.call("POST", f"{phones(JUDY)}/{MOBILE}/disableSmsSignIn",
                                     token=app_token(served.fake))
    assert status == 204
    assert (await states(served, JUDY))["mobile"] == "notEnabled"


async def test_a_number_another_user_has_is_not_unique(served: Served) -> None:
    assert await enable(served, BOB) == (204, None)  # enabling answers 204 all the same
    assert (await states(served, BOB))["mobile"] == "phoneNumberNotUnique"


async def test_a_new_mobile_is_registered_when_the_policy_allows(served: Served) -> None:
    status, body, _ = await served.call("POST", phones(FRANK), token=app_token(served.fake),
                                        json={"phoneNumber": "+1 2065550188",
                                              "phoneType": "mobile"})
    assert (status, body["smsSignInState"]) == (201, "ready")
    served.fake.directory.users[FRANK].phones.clear()
    served.fake.directory.methods_policy.sms.state = "disabled"
    status, body, _ = await served.call("POST", phones(FRANK), token=app_token(served.fake),
                                        json={"phoneNumber": "+1 2065550188",
                                              "phoneType": "mobile"})
    assert (status, body["smsSignInState"]) == (201, "notAllowedByPolicy")
    assert served.fake.directory.users[FRANK].phones["mobile"].sms_sign_in_state == "notEnabled"


async def test_users_the_policy_does_not_allow(served: Served) -> None:
    sms = served.fake.directory.methods_policy.sms
    cases: list[tuple[str, list[MethodTarget], list[str]]] = [
        ("disabled", [MethodTarget("all_users")], []),
        ("enabled", [MethodTarget(derive_id("group", "Managers"))], []),  # judy is not in it
        ("enabled", [MethodTarget("all_users", usable_for_sign_in=False)], []),  # MFA only
        ("enabled", [MethodTarget("all_users")], [derive_id("group", "Helpdesk")]),
    ]
    served.fake.directory.groups[derive_id("group", "Helpdesk")].members.append(JUDY)
    for state, include, exclude in cases:
        sms.state, sms.include, sms.exclude = state, include, exclude
        assert await states(served, JUDY) == {"mobile": "notAllowedByPolicy",
                                              "alternateMobile": "notSupported",
                                              "office": "notSupported"}, (state, include)
        status, body = await enable(served, JUDY)
        assert (status, body["error"]["code"], body["error"]["message"]) == (
            400, "badRequest", SMS_REFUSAL)
        status, _, _ = await served.call("POST", f"{phones(JUDY)}/{MOBILE}/disableSmsSignIn",
                                         token=app_token(served.fake))
        assert status == 204
    async with served.session.get(f"{served.base_url}/_fake/users/{JUDY}") as resp:
        shown = {p["phoneType"]: p["smsSignInState"] for p in (await resp.json())["phoneMethods"]}
    assert shown["mobile"] == "notAllowedByPolicy"


async def test_a_target_usable_for_sign_in_is_enough(served: Served) -> None:
    served.fake.directory.methods_policy.sms.include = [
        MethodTarget("all_users", usable_for_sign_in=False),
        MethodTarget(derive_id("group", "Managers"))]
    served.fake.directory.groups[derive_id("group", "Managers")].members.append(JUDY)
    await served.call("PATCH", f"{phones(JUDY)}/{MOBILE}", token=app_token(served.fake),
                      json={"phoneNumber": "+1 2065550177"})
    assert await enable(served, JUDY) == (204, None)
    assert (await states(served, JUDY))["mobile"] == "ready"
