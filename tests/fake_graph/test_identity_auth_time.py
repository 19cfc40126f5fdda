"""``auth_time``, the optional claim that says when the user last entered credentials.

Only for an application whose registration asks for it (tenant key ``optional_claims:
[auth_time]``; the demo app does): in its ID tokens, and in access tokens for its own API.
Single sign-on and refresh keep the time of the sign-in they come from; ``prompt=login``
shows the form even to a browser with a session, and then the time is new.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from identity_support import (
    make_app,
    redirect_params,
    session,
    sign_in,
    unverified,
)
from test_identity_signin import authorize_url, redeem

from fake_graph import demo
from fake_graph.embedded import RunningFake
from fake_graph.identity.store import store
from fake_graph.tenant import TenantFileError, load_tenant


def _signed_in(running: RunningFake, **params: str) -> tuple[requests.Session, dict[str, str]]:
    http = session(running)
    code = redirect_params(sign_in(http, authorize_url(running, **params), demo.MANAGER.upn,
                                   demo.MANAGER.password))["code"]
    return http, redeem(running, code)


def _age_sso_sessions(running: RunningFake, seconds: float) -> None:
    for sso in store(running.fake).sso.values():
        sso.issued_at -= seconds


def test_the_form_gives_a_fresh_auth_time_in_the_id_token(
        fake_graph_server: RunningFake) -> None:
    before = int(time.time())
    _, body = _signed_in(fake_graph_server)
    claims = unverified(body["id_token"])
    assert before <= claims["auth_time"] <= int(time.time())
    assert "auth_time" not in unverified(body["access_token"])  # a Graph token: never


def test_single_sign_on_keeps_the_time_of_the_form_and_prompt_login_renews_it(
        fake_graph_server: RunningFake) -> None:
    http, first = _signed_in(fake_graph_server)
    signed_in_at = unverified(first["id_token"])["auth_time"]
    _age_sso_sessions(fake_graph_server, 3600)
    # single sign-on: no form, and the time of the form an hour ago
    silent = http.get(authorize_url(fake_graph_server), allow_redirects=False, timeout=10)
    again = redeem(fake_graph_server, redirect_params(silent)["code"])
    assert unverified(again["id_token"])["auth_time"] == signed_in_at - 3600
    # prompt=login: the form despite the session, and a new time
    page = http.get(authorize_url(fake_graph_server, prompt="login"), timeout=10)
    assert page.status_code == 200 and 'name="password"' in page.text
    code = redirect_params(sign_in(http, authorize_url(fake_graph_server, prompt="login"),
                                   demo.MANAGER.upn, demo.MANAGER.password))["code"]
    fresh = unverified(redeem(fake_graph_server, code)["id_token"])["auth_time"]
    assert fresh >= int(time.time()) - 5


def test_api_tokens_carry_it_and_refresh_keeps_it(fake_graph_server: RunningFake) -> None:
    app = make_app(fake_graph_server)
    flow = app.initiate_auth_code_flow([demo.API_SCOPE], redirect_uri=demo.REDIRECT_URIS[0])
    response = sign_in(session(fake_graph_server), flow["auth_uri"], demo.MANAGER.upn,
                       demo.MANAGER.password)
    result = app.acquire_token_by_auth_code_flow(flow, redirect_params(response))
    access = unverified(result["access_token"])
    assert access["aud"] == demo.CLIENT_ID and isinstance(access["auth_time"], int)
    assert result["id_token_claims"]["auth_time"] == access["auth_time"]
    time.sleep(1.1)
    refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], [demo.API_SCOPE])
    assert unverified(refreshed["access_token"])["auth_time"] == access["auth_time"]
    assert unverified(refreshed["access_token"])["iat"] > access["auth_time"]


def _password_grant(running: RunningFake) -> dict[str, str]:
    """ROPC straight at the token endpoint (MSAL would ask user-realm discovery on 443)."""
    body: dict[str, str] = session(running).post(
        f"{running.authority}/oauth2/v2.0/token", timeout=10,
        data={"grant_type": "password", "client_id": demo.CLIENT_ID,
              "client_secret": demo.CLIENT_SECRET, "username": demo.MANAGER.upn,
              "password": demo.MANAGER.password, "scope": demo.API_SCOPE}).json()
    return body


def test_the_password_grant_is_a_sign_in(fake_graph_server: RunningFake) -> None:
    token = _password_grant(fake_graph_server)
    assert unverified(token["access_token"])["auth_time"] >= int(time.time()) - 5


def test_only_for_an_app_that_asks_for_it(fake_graph_server: RunningFake) -> None:
    fake_graph_server.fake.directory.applications[demo.CLIENT_ID].optional_claims = []
    _, body = _signed_in(fake_graph_server)
    assert "auth_time" not in unverified(body["id_token"])
    token = _password_grant(fake_graph_server)
    assert "auth_time" not in unverified(token["access_token"])


_TENANT = ('tenant: {id: "a0a0a0a0-0000-4000-8000-000000000009", domain: t.example, '
           "name: T}\napplications:\n"
           '  - client_id: "e2e0a000-0000-4000-8000-0000000000aa"\n'
           "    optional_claims: [{claims}]\n")


def test_the_tenant_key(tmp_path: Path) -> None:
    path = tmp_path / "tenant.yaml"
    path.write_text(_TENANT.replace("{claims}", "auth_time"))
    app = load_tenant(path).applications["e2e0a000-0000-4000-8000-0000000000aa"]
    assert app.optional_claims == ["auth_time"]
    path.write_text(_TENANT.replace("{claims}", "acct"))
    with pytest.raises(TenantFileError) as caught:
        load_tenant(path)
    assert str(caught.value) == (f"{path}:4: unknown optional claim 'acct' (the fake knows: "
                                 "auth_time)")
