"""Single sign-on at the fake's identity platform (the ``ESTSAUTH`` session cookie), as Entra:
a browser that signed in with the form is signed in again without it, until the session ends
(sign-out, password change, disabled account, revoked sessions) or the client asks otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
from identity_support import redirect_params, session, sign_in
from test_identity_signin import authorize_url, redeem

from fake_graph import demo
from fake_graph.embedded import RunningFake
from fake_graph.identity.store import SSO_COOKIE


def signed_in_browser(running: RunningFake) -> requests.Session:
    http: requests.Session = session(running)
    params = redirect_params(sign_in(http, authorize_url(running), demo.MANAGER.upn,
                                     demo.MANAGER.password))
    assert "code" in params
    cookie = next(c for c in http.cookies if c.name == SSO_COOKIE)
    assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")
    return http


def silent(http: requests.Session, running: RunningFake, **params: str) -> requests.Response:
    return http.get(authorize_url(running, **params), allow_redirects=False, timeout=10)


def test_a_second_authorization_is_answered_without_the_form(
        fake_graph_server: RunningFake) -> None:
    http = signed_in_browser(fake_graph_server)
    for extra in ({}, {"login_hint": demo.MANAGER.upn.upper()}, {"prompt": "none"}):
        params = redirect_params(silent(http, fake_graph_server, **extra))
        claims = redeem(fake_graph_server, params["code"])
        assert "access_token" in claims, claims


@pytest.mark.parametrize("extra", [{"prompt": "login"}, {"prompt": "select_account"},
                                   {"login_hint": "someone.else@contoso.example"}])
def test_the_client_can_ask_for_the_form(fake_graph_server: RunningFake,
                                         extra: dict[str, str]) -> None:
    http = signed_in_browser(fake_graph_server)
    page = silent(http, fake_graph_server, **extra)
    assert page.status_code == 200 and 'name="password"' in page.text


def _password_changed(running: RunningFake) -> None:
    user = running.fake.directory.find_user(demo.MANAGER.upn)
    assert user is not None
    user.password = "Another-Passw0rd!"


def _disabled(running: RunningFake) -> None:
    user = running.fake.directory.find_user(demo.MANAGER.upn)
    assert user is not None
    user.account_enabled = False


def _revoked(running: RunningFake) -> None:
    user = running.fake.directory.find_user(demo.MANAGER.upn)
    assert user is not None
    user.sign_in_sessions_valid_from = float(int(time.time()) + 1)


def _signed_out(running: RunningFake, http: requests.Session) -> None:
    http.get(f"{running.authority}/oauth2/v2.0/logout", timeout=10)
    assert SSO_COOKIE not in {c.name for c in http.cookies}


@pytest.mark.parametrize("end", [_password_changed, _disabled, _revoked])
def test_the_session_ends_with_the_account(fake_graph_server: RunningFake,
                                           end: Callable[[RunningFake], None]) -> None:
    http = signed_in_browser(fake_graph_server)
    end(fake_graph_server)
    page = silent(http, fake_graph_server)
    assert page.status_code == 200 and 'name="password"' in page.text
    none = redirect_params(silent(http, fake_graph_server, prompt="none"))
    assert none["error"] == "login_required"


def test_sign_out_ends_the_session_even_when_the_cookie_is_kept(
        fake_graph_server: RunningFake) -> None:
    http = signed_in_browser(fake_graph_server)
    kept = {c.name: c.value for c in http.cookies}
    _signed_out(fake_graph_server, http)
    http.cookies.update(kept)  # a copy of the cookie from before sign-out: worthless
    page = silent(http, fake_graph_server)
    assert page.status_code == 200 and 'name="password"' in page.text
