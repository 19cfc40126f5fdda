"""The real MSAL ConfidentialClientApplication against the fake."""

from __future__ import annotations

import hashlib

import msal
import pytest
from identity_support import (
    REDIRECT_URI,
    auth_code_flow,
    decode_verified,
    make_app,
    redirect_params,
    session,
    sign_in,
    submit,
    unverified,
)

from fake_graph import demo
from fake_graph.embedded import RunningFake

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def test_client_credentials_token_carries_app_permissions(fake_graph_server: RunningFake) -> None:
    app = make_app(fake_graph_server)
    result = app.acquire_token_for_client([GRAPH_DEFAULT])
    assert "access_token" in result, result
    claims = unverified(result["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == demo.TENANT_ID
    assert claims["appid"] == demo.CLIENT_ID
    assert "User-PasswordProfile.ReadWrite.All" in claims["roles"]
    assert result["token_type"] == "Bearer"


def test_wrong_secret_is_invalid_client(fake_graph_server: RunningFake) -> None:
    result = make_app(fake_graph_server, secret="nope").acquire_token_for_client([GRAPH_DEFAULT])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]


def test_unknown_client_is_unauthorized_client(fake_graph_server: RunningFake) -> None:
    app = make_app(fake_graph_server, client_id="00000000-1111-2222-3333-444444444444")
    result = app.acquire_token_for_client([GRAPH_DEFAULT])
    assert result["error"] == "unauthorized_client"
    assert 700016 in result["error_codes"]


def test_auth_code_flow_with_pkce_signs_the_manager_in(fake_graph_server: RunningFake) -> None:
    flow, result = auth_code_flow(fake_graph_server, demo.MANAGER.upn, demo.MANAGER.password)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == demo.MANAGER.upn
    accounts = make_app(fake_graph_server).get_accounts()  # a new app has an empty cache
    assert accounts == []
    user = fake_graph_server.fake.directory.find_user(demo.MANAGER.upn)
    assert user is not None
    access = unverified(result["access_token"])
    assert access["scp"].split()[0] == "User.Read"
    assert access["oid"] == user.id
    assert access["aud"] == "https://graph.microsoft.com"
    # MSAL sent the SHA-256 hex of its nonce; the id token must carry exactly that.
    assert result["id_token_claims"]["nonce"] == hashlib.sha256(
        flow["nonce"].encode()).hexdigest()


def test_id_token_verifies_against_the_jwks(fake_graph_server: RunningFake) -> None:
    flow, result = auth_code_flow(fake_graph_server, demo.MANAGER.upn, demo.MANAGER.password)
    claims = decode_verified(fake_graph_server, result["id_token"], demo.CLIENT_ID)
    user = fake_graph_server.fake.directory.find_user(demo.MANAGER.upn)
    assert user is not None
    assert claims["iss"] == f"{fake_graph_server.url}/{demo.TENANT_ID}/v2.0"
    assert claims["tid"] == demo.TENANT_ID
    assert claims["oid"] == user.id
    assert claims["preferred_username"] == demo.MANAGER.upn
    assert claims["name"] == "Sam Rivera"
    assert claims["ver"] == "2.0"
    assert claims["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()
    assert claims["exp"] > claims["iat"] >= claims["nbf"] - 1


def test_account_comes_from_client_info(fake_graph_server: RunningFake) -> None:
    app = make_app(fake_graph_server)
    auth_code_flow(fake_graph_server, demo.MANAGER.upn, demo.MANAGER.password, app=app)
    [account] = app.get_accounts()
    user = fake_graph_server.fake.directory.find_user(demo.MANAGER.upn)
    assert user is not None
    assert account["home_account_id"] == f"{user.id}.{demo.TENANT_ID}"
    assert account["username"] == demo.MANAGER.upn


def test_refresh_returns_new_tokens(fake_graph_server: RunningFake) -> None:
    app = make_app(fake_graph_server)
    _, first = auth_code_flow(fake_graph_server, demo.MANAGER.upn, demo.MANAGER.password,
                              app=app)
    [account] = app.get_accounts()
    again = app.acquire_token_silent(["User.Read"], account=account, force_refresh=True)
    assert again is not None and "access_token" in again, again
    assert again["access_token"] != first["access_token"]
    # Entra keeps the old refresh token usable: redeem it once more, explicitly.
    third = make_app(fake_graph_server).acquire_token_by_refresh_token(
        first["refresh_token"], ["User.Read"])
    assert "access_token" in third, third


def test_reused_code_is_refused(fake_graph_server: RunningFake) -> None:
    app = make_app(fake_graph_server)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI)
    params = redirect_params(sign_in(session(fake_graph_server), flow["auth_uri"],
                                     demo.MANAGER.upn, demo.MANAGER.password))
    first = app.acquire_token_by_authorization_code(
        params["code"], ["User.Read"], redirect_uri=REDIRECT_URI,
        data={"code_verifier": flow["code_verifier"]})
    assert "access_token" in first, first
    second = make_app(fake_graph_server).acquire_token_by_authorization_code(
        params["code"], ["User.Read"], redirect_uri=REDIRECT_URI,
        data={"code_verifier": flow["code_verifier"]})
    assert second["error"] == "invalid_grant"
    assert 54005 in second["error_codes"]
    # ...and the refresh token issued from the first redemption is revoked with it.
    refreshed = make_app(fake_graph_server).acquire_token_by_refresh_token(
        first["refresh_token"], ["User.Read"])
    assert refreshed["error"] == "invalid_grant"


def test_wrong_pkce_verifier_is_refused(fake_graph_server: RunningFake) -> None:
    app = make_app(fake_graph_server)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI)
    params = redirect_params(sign_in(session(fake_graph_server), flow["auth_uri"],
                                     demo.MANAGER.upn, demo.MANAGER.password))
    result = app.acquire_token_by_authorization_code(
        params["code"], ["User.Read"], redirect_uri=REDIRECT_URI,
        data={"code_verifier": "x" * 43})
    assert result["error"] == "invalid_grant"
    assert 501481 in result["error_codes"]


def test_unregistered_redirect_uri_shows_an_error_page(fake_graph_server: RunningFake) -> None:
    app = make_app(fake_graph_server)
    flow = app.initiate_auth_code_flow(["User.Read"],
                                       redirect_uri="https://evil.example/callback")
    page = session(fake_graph_server).get(flow["auth_uri"], allow_redirects=False, timeout=10)
    assert page.status_code == 400
    assert "Location" not in page.headers
    assert "AADSTS50011" in page.text
    assert "evil.example" in page.text  # named, escaped, never followed


def test_forced_password_change_at_sign_in(fake_graph_server: RunningFake) -> None:
    upn, old = "riley.chen@contoso.example", "Demo-Staff-1!"
    app = make_app(fake_graph_server)
    http = session(fake_graph_server)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI)
    change_page = sign_in(http, flow["auth_uri"], upn, old)
    assert change_page.status_code == 200  # no code yet: the change-password form
    assert 'name="new_password"' in change_page.text
    assert "code=" not in change_page.headers.get("Location", "")
    mismatch = submit(http, change_page.url, change_page.text,
                      new_password="Brand-New-Pass-1", confirm_password="Other-Pass-1")
    assert mismatch.status_code == 200 and "match" in mismatch.text
    done = submit(http, mismatch.url, mismatch.text,
                  new_password="Brand-New-Pass-1", confirm_password="Brand-New-Pass-1")
    result = app.acquire_token_by_auth_code_flow(flow, redirect_params(done))
    assert "access_token" in result, result
    state = session(fake_graph_server).get(f"{fake_graph_server.url}/_fake/users/{upn}",
                                           timeout=10).json()
    assert state["password"] == "Brand-New-Pass-1"
    assert state["forceChangePasswordNextSignIn"] is False


@pytest.fixture
def ropc_realm() -> None:
    # MSAL asks https://127.0.0.1/common/userrealm/... (port 443) before ROPC
    # (``Authority.user_realm_discovery`` drops the port).
    msal.authority.Authority._domains_without_user_realm_discovery.add("127.0.0.1")


@pytest.mark.usefixtures("ropc_realm")
def test_ropc_refused_while_password_must_change(fake_graph_server: RunningFake) -> None:
    upn, password = "riley.chen@contoso.example", "Demo-Staff-1!"
    # A fresh app per call: MSAL caches a 400 for 60 s per app instance
    # (``msal/throttled_http_client.py``).
    pending = make_app(fake_graph_server).acquire_token_by_username_password(
        upn, password, ["User.Read"])
    assert pending["error"] == "invalid_grant"
    assert 50055 in pending["error_codes"]
    user = fake_graph_server.fake.directory.find_user(upn)
    assert user is not None
    user.force_change_password_next_sign_in = False
    ok = make_app(fake_graph_server).acquire_token_by_username_password(
        upn, password, ["User.Read"])
    assert "access_token" in ok, ok


@pytest.mark.usefixtures("ropc_realm")
def test_ropc_wrong_password_and_disabled(fake_graph_server: RunningFake) -> None:
    wrong = make_app(fake_graph_server).acquire_token_by_username_password(
        demo.MANAGER.upn, "not-it", ["User.Read"])
    assert wrong["error"] == "invalid_grant" and 50126 in wrong["error_codes"]
    disabled = make_app(fake_graph_server).acquire_token_by_username_password(
        "jesse.park@contoso.example", "Demo-Staff-1!", ["User.Read"])
    assert disabled["error"] == "invalid_grant" and 50057 in disabled["error_codes"]


def test_password_reset_revokes_refresh_tokens(fake_graph_server: RunningFake) -> None:
    _, result = auth_code_flow(fake_graph_server, demo.MANAGER.upn, demo.MANAGER.password)
    user = fake_graph_server.fake.directory.find_user(demo.MANAGER.upn)
    assert user is not None
    user.password = "Reset-By-Admin-9"
    refreshed = make_app(fake_graph_server).acquire_token_by_refresh_token(
        result["refresh_token"], ["User.Read"])
    assert refreshed["error"] == "invalid_grant"
    assert 50173 in refreshed["error_codes"]


def test_api_scope_gives_a_token_for_the_app_itself(fake_graph_server: RunningFake) -> None:
    _, result = auth_code_flow(fake_graph_server, demo.MANAGER.upn, demo.MANAGER.password,
                               scopes=[demo.API_SCOPE])
    claims = decode_verified(fake_graph_server, result["access_token"], demo.CLIENT_ID)
    assert claims["scp"] == "access_as_user"
    assert claims["ver"] == "2.0"
    assert claims["iss"] == f"{fake_graph_server.url}/{demo.TENANT_ID}/v2.0"


def test_admin_token_carries_wids(fake_graph_server: RunningFake) -> None:
    _, result = auth_code_flow(fake_graph_server, "morgan.admin@contoso.example",
                               "Demo-Admin-1!")
    assert unverified(result["access_token"])["wids"] == ["62e90394-69f5-4237-9190-012177145e10"]


def test_revoked_sign_in_sessions_void_older_refresh_tokens(fake_graph_server: RunningFake
                                                            ) -> None:
    _, result = auth_code_flow(fake_graph_server, demo.MANAGER.upn, demo.MANAGER.password)
    assert "refresh_token" in result, result
    user = fake_graph_server.fake.directory.find_user(demo.MANAGER.upn)
    assert user is not None
    # As revokeSignInSessions would a second later (Graph keeps whole seconds).
    user.sign_in_sessions_valid_from = float(int(result["id_token_claims"]["iat"]) + 1)
    refreshed = make_app(fake_graph_server).acquire_token_by_refresh_token(
        result["refresh_token"], ["User.Read"])
    assert refreshed["error"] == "invalid_grant" and 50173 in refreshed["error_codes"]
