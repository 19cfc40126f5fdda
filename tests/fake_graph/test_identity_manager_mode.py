"""The tokens manager mode lives on, through the real MSAL ConfidentialClientApplication: the
manager's delegated Graph token from the auth-code flow, its refresh, on-behalf-of for a bearer
caller, and how revocation and password resets end them (docs/fake_graph_manager_mode.md)."""

from __future__ import annotations

import time
from typing import Any

import requests
from identity_support import auth_code_flow, decode_verified, make_app, unverified

from fake_graph import demo
from fake_graph.directory import PASSWORD_METHOD_ID
from fake_graph.embedded import RunningFake

GRAPH = "https://graph.microsoft.com"
WRITE_METHODS = f"{GRAPH}/UserAuthenticationMethod.ReadWrite.All"
SAM = demo.MANAGER
MORGAN_DIAZ = "morgan.diaz@contoso.example"  # a Seattle cashier
SEATTLE = f"/administrativeUnits/{demo.UNITS['seattle']}"


def sam_id(running: RunningFake) -> str:
    user = running.fake.directory.find_user(SAM.upn)
    assert user is not None
    return user.id


def graph(running: RunningFake, method: str, path: str, token: str,
          json: Any = None) -> requests.Response:
    url = path if path.startswith("https://") else running.graph_url + path
    return running.requests_session().request(
        method, url, json=json, timeout=10,
        headers={"Authorization": f"Bearer {token}"})


def reset_path(running: RunningFake, upn: str) -> str:
    user = running.fake.directory.find_user(upn)
    assert user is not None
    return f"/users/{user.id}/authentication/methods/{PASSWORD_METHOD_ID}/resetPassword"


def revoke_sessions(running: RunningFake, upn: str) -> None:
    """POST revokeSignInSessions in the next whole second (Graph keeps whole seconds, so a
    revocation in the second a token was issued would not cover it)."""
    time.sleep(1.01 - time.time() % 1)
    app = running.fake.directory.applications[demo.CLIENT_ID]
    token = running.fake.tokens.graph_app_token(demo.CLIENT_ID, app.service_principal_id,
                                                ["User.RevokeSessions.All"])
    user = running.fake.directory.find_user(upn)
    assert user is not None
    response = graph(running, "POST", f"/users/{user.id}/revokeSignInSessions", token)
    assert response.status_code == 200, response.text


def test_sign_in_gives_a_delegated_graph_token_and_a_refresh_token(
        fake_graph_server: RunningFake) -> None:
    _, result = auth_code_flow(fake_graph_server, SAM.upn, SAM.password,
                               scopes=[WRITE_METHODS])
    assert "refresh_token" in result, result
    claims = decode_verified(fake_graph_server, result["access_token"], GRAPH)
    assert "UserAuthenticationMethod.ReadWrite.All" in claims["scp"].split()
    assert (claims["oid"], claims["upn"], claims["idtyp"]) == (sam_id(fake_graph_server),
                                                              SAM.upn, "user")
    assert result["id_token_claims"]["oid"] == claims["oid"]
    # Graph decides by Sam's own roles: none in the demo tenant, then one over Seattle.
    path = reset_path(fake_graph_server, MORGAN_DIAZ)
    refused = graph(fake_graph_server, "POST", path, result["access_token"], {})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Authorization_RequestDenied"
    fake_graph_server.fake.directory.assign_role(sam_id(fake_graph_server),
                                                 "Authentication Administrator", SEATTLE)
    accepted = graph(fake_graph_server, "POST", path, result["access_token"], {})
    assert accepted.status_code == 202, accepted.text
    poll = graph(fake_graph_server, "GET", accepted.headers["Location"], result["access_token"])
    assert poll.json()["status"] == "running"


def test_refresh_token_gives_a_new_graph_token(fake_graph_server: RunningFake) -> None:
    _, result = auth_code_flow(fake_graph_server, SAM.upn, SAM.password,
                               scopes=[WRITE_METHODS])
    refreshed = make_app(fake_graph_server).acquire_token_by_refresh_token(
        result["refresh_token"], [WRITE_METHODS])
    assert "access_token" in refreshed, refreshed
    claims = unverified(refreshed["access_token"])
    assert claims["aud"] == GRAPH and claims["oid"] == sam_id(fake_graph_server)
    assert "UserAuthenticationMethod.ReadWrite.All" in claims["scp"].split()
    assert refreshed["refresh_token"] != result["refresh_token"]


def test_revoked_sessions_end_the_refresh_token(fake_graph_server: RunningFake) -> None:
    _, result = auth_code_flow(fake_graph_server, SAM.upn, SAM.password,
                               scopes=[WRITE_METHODS])
    revoke_sessions(fake_graph_server, SAM.upn)
    refreshed = make_app(fake_graph_server).acquire_token_by_refresh_token(
        result["refresh_token"], [WRITE_METHODS])
    assert refreshed["error"] == "invalid_grant" and refreshed["error_codes"] == [50173]
    assert "TokensValidFrom date (before which tokens are not valid)" \
        in refreshed["error_description"]
    # A new sign-in after the revocation works again.
    _, again = auth_code_flow(fake_graph_server, SAM.upn, SAM.password, scopes=[WRITE_METHODS])
    assert "access_token" in again, again


def test_a_password_reset_ends_the_refresh_token(fake_graph_server: RunningFake) -> None:
    _, result = auth_code_flow(fake_graph_server, MORGAN_DIAZ, "Demo-Staff-1!",
                               scopes=[WRITE_METHODS])
    assert "refresh_token" in result, result
    admin = fake_graph_server.fake.directory.find_user("morgan.admin@contoso.example")
    assert admin is not None
    token = fake_graph_server.fake.tokens.graph_user_token(
        demo.CLIENT_ID, admin.id, admin.user_principal_name, admin.display_name,
        ["UserAuthenticationMethod.ReadWrite.All"], [])
    reset = graph(fake_graph_server, "POST", reset_path(fake_graph_server, MORGAN_DIAZ), token,
                  {"newPassword": "Reset-By-Admin-9"})
    assert reset.status_code == 202, reset.text
    refreshed = make_app(fake_graph_server).acquire_token_by_refresh_token(
        result["refresh_token"], [WRITE_METHODS])
    assert refreshed["error"] == "invalid_grant" and refreshed["error_codes"] == [50173]


def api_token(running: RunningFake, upn: str = SAM.upn, password: str = SAM.password) -> str:
    """A user's access token for the proxy's own API, as a script calling it would hold."""
    _, result = auth_code_flow(running, upn, password, scopes=[demo.API_SCOPE])
    token: str = result["access_token"]
    return token


def test_on_behalf_of_gives_the_users_graph_token(fake_graph_server: RunningFake) -> None:
    assertion = api_token(fake_graph_server)
    result = make_app(fake_graph_server).acquire_token_on_behalf_of(assertion, [WRITE_METHODS])
    assert "access_token" in result, result
    claims = decode_verified(fake_graph_server, result["access_token"], GRAPH)
    assert claims["oid"] == sam_id(fake_graph_server) and claims["upn"] == SAM.upn
    assert "UserAuthenticationMethod.ReadWrite.All" in claims["scp"].split()
    assert claims["appid"] == demo.CLIENT_ID
    assert "refresh_token" in result  # MSAL asks for offline_access


def test_on_behalf_of_refuses_an_app_only_assertion(fake_graph_server: RunningFake) -> None:
    app = make_app(fake_graph_server)
    app_only = app.acquire_token_for_client([f"api://{demo.CLIENT_ID}/.default"])
    assert unverified(app_only["access_token"])["idtyp"] == "app"
    result = msal_obo(fake_graph_server, app_only["access_token"])
    assert result["error"] == "unauthorized_client" and result["error_codes"] == [7000114]
    assert f"Application '{demo.CLIENT_ID}' is not allowed to make application on-behalf-of " \
        "calls." in result["error_description"]


def msal_obo(running: RunningFake, assertion: str) -> dict[str, Any]:
    result: dict[str, Any] = make_app(running).acquire_token_on_behalf_of(assertion,
                                                                          [WRITE_METHODS])
    return result


def test_on_behalf_of_after_revocation_or_disabling(fake_graph_server: RunningFake) -> None:
    assertion = api_token(fake_graph_server)
    revoke_sessions(fake_graph_server, SAM.upn)
    result = msal_obo(fake_graph_server, assertion)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [50173]
    fresh = api_token(fake_graph_server)
    assert "access_token" in msal_obo(fake_graph_server, fresh)
    user = fake_graph_server.fake.directory.find_user(SAM.upn)
    assert user is not None
    user.account_enabled = False
    result = msal_obo(fake_graph_server, fresh)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [50057]

