"""``GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}`` for
``TemporaryAccessPass`` and ``Sms``: shapes, targets from the tenant file, permissions.

Learn: https://learn.microsoft.com/graph/api/temporaryaccesspassauthenticationmethodconfiguration-get,
https://learn.microsoft.com/graph/api/smsauthenticationmethodconfiguration-get,
https://learn.microsoft.com/graph/api/resources/temporaryaccesspassauthenticationmethodconfiguration,
https://learn.microsoft.com/graph/api/resources/smsauthenticationmethodconfiguration.
"""

from __future__ import annotations

import pytest
from graph_support import (
    PROXY_APP,
    Served,
    app_token,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    user_token,
)

from fake_graph.directory import derive_id
from fake_graph.methods_policy import MethodTarget
from fake_graph.tenant import DEMO_TENANT, load_tenant

CONFIGS = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations"
POLICY_READ = ["Policy.Read.All"]


async def test_temporary_access_pass_configuration(served: Served) -> None:
    status, body, _ = await served.call("GET", f"{CONFIGS}/TemporaryAccessPass",
                                        token=app_token(served.fake, roles=POLICY_READ))
    assert status == 200
    assert body["@odata.context"].endswith("$metadata#authenticationMethodConfigurations/$entity")
    assert "includeTargets@odata.context" in body
    del body["@odata.context"], body["includeTargets@odata.context"]
    assert body == {
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "id": "TemporaryAccessPass", "state": "enabled", "defaultLifetimeInMinutes": 60,
        "defaultLength": 8, "minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480,
        "isUsableOnce": False,
        "includeTargets": [{"targetType": "group", "id": "all_users",
                            "isRegistrationRequired": False}],
        "excludeTargets": []}


async def test_sms_configuration(served: Served) -> None:
    managers = derive_id("group", "Managers")
    helpdesk = derive_id("group", "Helpdesk")
    sms = served.fake.directory.methods_policy.sms
    sms.state = "disabled"
    sms.include = [MethodTarget("all_users"), MethodTarget(managers, usable_for_sign_in=False)]
    sms.exclude = [helpdesk]
    status, body, _ = await served.call("GET", f"{CONFIGS}/sms",  # ids are case-insensitive
                                        token=app_token(served.fake, roles=POLICY_READ))
    assert status == 200
    assert (body["@odata.type"], body["id"], body["state"]) == (
        "#microsoft.graph.smsAuthenticationMethodConfiguration", "Sms", "disabled")
    assert body["includeTargets"] == [
        {"targetType": "group", "id": "all_users", "isRegistrationRequired": False,
         "isUsableForSignIn": True},
        {"targetType": "group", "id": managers, "isRegistrationRequired": False,
         "isUsableForSignIn": False}]
    assert body["excludeTargets"] == [{"targetType": "group", "id": helpdesk}]


async def test_unknown_configuration_is_404(served: Served) -> None:
    status, body, _ = await served.call("GET", f"{CONFIGS}/Fido2",
                                        token=app_token(served.fake, roles=POLICY_READ))
    assert (status, body["error"]["code"]) == (404, "itemNotFound")


@pytest.mark.parametrize(("roles", "allowed"), [
    (["Policy.Read.All"], True), (["Policy.Read.AuthenticationMethod"], True),
    (["Policy.ReadWrite.AuthenticationMethod"], True),
    (["UserAuthenticationMethod.ReadWrite.All", "Directory.Read.All"], False)])
async def test_app_permissions(served: Served, roles: list[str], allowed: bool) -> None:
    status, _, _ = await served.call("GET", f"{CONFIGS}/TemporaryAccessPass",
                                     token=app_token(served.fake, PROXY_APP, roles=roles))
    assert (status == 200) is allowed


async def test_delegated_callers_need_a_tenant_wide_policy_reader_role(served: Served) -> None:
    def token(upn: str) -> str:
        return user_token(served.fake, upn, POLICY_READ)

    url = f"{CONFIGS}/Sms"
    assert (await served.call("GET", url, token=token("erin@contoso.test")))[0] == 200  # GA
    # alice: Authentication Administrator (of a unit); hank: tenant-wide. Neither reads policy.
    for upn in ("alice@contoso.test", "hank@contoso.test", "frank@contoso.test"):
        assert (await served.call("GET", url, token=token(upn)))[0] == 403, upn
    frank = uid("frank@contoso.test")
    unit = derive_id("administrativeUnit", "Seattle store")
    served.fake.directory.assign_role(frank, "Authentication Policy Administrator",
                                      f"/administrativeUnits/{unit}")
    assert (await served.call("GET", url, token=token("frank@contoso.test")))[0] == 403
    for role in ("Authentication Policy Administrator", "Global Reader"):
        served.fake.directory.unassign_roles(frank)
        served.fake.directory.assign_role(frank, role)
        assert (await served.call("GET", url, token=token("frank@contoso.test")))[0] == 200, role


async def test_in_batch(served: Served) -> None:
    status, body, _ = await served.call(
        "POST", "/$batch", token=app_token(served.fake, roles=POLICY_READ),
        json={"requests": [{"id": "t", "method": "GET", "url": f"{CONFIGS}/TemporaryAccessPass"},
                           {"id": "s", "method": "GET", "url": f"{CONFIGS}/Sms"}]})
    assert status == 200
    assert {r["id"]: (r["status"], r["body"]["id"]) for r in body["responses"]} == {
        "t": (200, "TemporaryAccessPass"), "s": (200, "Sms")}


def test_the_demo_app_may_read_the_methods_policy() -> None:
    directory = load_tenant(DEMO_TENANT)
    (app,) = directory.applications.values()
    assert "Policy.Read.All" in app.application_permissions
