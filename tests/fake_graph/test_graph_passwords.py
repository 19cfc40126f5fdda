"""Password resets: PATCH passwordProfile (app-only, role matrix) and resetPassword (delegated)."""

from __future__ import annotations

import pytest
from graph_support import (
    NOROLE_APP,
    PA_APP,
    PROXY_APP,
    Served,
    app_token,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    user_token,
)

from fake_graph.directory import PASSWORD_METHOD_ID

PROFILE = {"@odata.type": "#microsoft.graph.user",
           "passwordProfile": {"password": "Tmp-4xQ9-wLp2", "forceChangePasswordNextSignIn": True}}


async def patch_password(served: Served, client_id: str, upn: str) -> int:
    status, _, _ = await served.call("PATCH", f"/users/{uid(upn)}",
                                     token=app_token(served.fake, client_id), json=PROFILE)
    return status


@pytest.mark.parametrize("upn", ["bob@contoso.test", "ivy@contoso.test"])
async def test_user_admin_app_resets_non_admins_and_user_admins(served: Served, upn: str) -> None:
    assert await patch_password(served, PROXY_APP, upn) == 204
    user = served.fake.directory.find_user(upn)
    assert user is not None
    assert (user.password, user.force_change_password_next_sign_in) == ("Tmp-4xQ9-wLp2", True)


@pytest.mark.parametrize("upn", [
    "erin@contoso.test",  # Global Administrator
    "gina@contoso.test",  # Privileged Role Administrator
    "hank@contoso.test",  # Authentication Administrator
    "dave@contoso.test",  # member of a role-assignable group
])
async def test_user_admin_app_cannot_reset_higher_admins(served: Served, upn: str) -> None:
    assert await patch_password(served, PROXY_APP, upn) == 403
    user = served.fake.directory.find_user(upn)
    assert user is not None and user.password != "Tmp-4xQ9-wLp2"
    assert await patch_password(served, PA_APP, upn) == 204


async def test_app_without_a_role_cannot_reset(served: Served) -> None:
    assert await patch_password(served, NOROLE_APP, "bob@contoso.test") == 403


async def test_password_complexity(served: Served) -> None:
    token = app_token(served.fake)
    for weak in ("Sh0rt!x", "alllowercase", "NoDigitsOrSymbols", "ünïcödé-Passw0rd",
                 "A1-" * 86):
        status, body, _ = await served.call(
            "PATCH", "/users/bob@contoso.test", token=token,
            json={"passwordProfile": {"password": weak, "forceChangePasswordNextSignIn": True}})
        assert status == 400, weak
        assert body["error"]["code"] == "Request_BadRequest"
        assert body["error"]["message"].startswith("The specified password does not comply")
    status, _, _ = await served.call(
        "PATCH", "/users/bob@contoso.test", token=token,
        json={"passwordProfile": {"password": "Sh0rt!xy", "forceChangePasswordNextSignIn": True}})
    assert status == 204


async def test_reset_password_is_not_for_app_tokens(served: Served) -> None:
    status, body, _ = await served.call(
        "POST", f"/users/{uid('bob@contoso.test')}/authentication/methods/{PASSWORD_METHOD_ID}"
                "/resetPassword", token=app_token(served.fake, roles=[
                    "UserAuthenticationMethod.ReadWrite.All"]), json={})
    assert (status, body["error"]["code"]) == (403, "Authorization_RequestDenied")


async def test_reset_password_long_running_operation(served: Served) -> None:
    token = user_token(served.fake, "alice@contoso.test",
                       ["UserAuthenticationMethod.ReadWrite.All"])
    bob = uid("bob@contoso.test")
    status, body, headers = await served.call(
        "POST", f"/users/{bob}/authentication/methods/{PASSWORD_METHOD_ID}/resetPassword",
        token=token, json={})
    assert status == 202
    assert body["newPassword"] == served.fake.directory.users[bob].password
    location = headers["Location"]
    assert location.startswith(f"{served.graph}/users/{bob}/authentication/operations/")
    assert headers["Retry-After"] == "1"
    _, first, _ = await served.call("GET", location, token=token)
    _, second, _ = await served.call("GET", location, token=token)
    assert (first["status"], second["status"]) == ("running", "succeeded")


@pytest.mark.parametrize(("upn", "status"), [
    ("bob@contoso.test", 202),  # a direct, non-admin member of alice's unit
    ("carol@contoso.test", 403),  # in the unit only through a group
    ("dave@contoso.test", 403),  # a direct member, but an admin
    ("alice@contoso.test", 403),  # herself
    ("ivy@contoso.test", 403),  # not in the unit
])
async def test_au_scoped_role_for_reset_password(served: Served, upn: str, status: int) -> None:
    token = user_token(served.fake, "alice@contoso.test",
                       ["UserAuthenticationMethod.ReadWrite.All"])
    got, _, _ = await served.call(
        "POST", f"/users/{uid(upn)}/authentication/methods/{PASSWORD_METHOD_ID}/resetPassword",
        token=token, json={"newPassword": "Given-Passw0rd"})
    assert got == status
