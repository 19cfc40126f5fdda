"""The sign-in page over HTTP: form, hints, response modes, refusals, hardening."""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from identity_support import REDIRECT_URI, parse_form, session, sign_in

from fake_graph import demo
from fake_graph.embedded import RunningFake

VERIFIER = "v" * 50
CHALLENGE = urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def authorize_url(running: RunningFake, **overrides: str) -> str:
    params = {"client_id": demo.CLIENT_ID, "response_type": "code",
              "redirect_uri": REDIRECT_URI, "scope": "openid profile offline_access User.Read",
              "state": "st-1", "nonce": "n-1", "code_challenge": CHALLENGE,
              "code_challenge_method": "S256"} | overrides
    params = {k: v for k, v in params.items() if v != ""}
    return f"{running.authority}/oauth2/v2.0/authorize?{urlencode(params)}"


def redeem(running: RunningFake, code: str, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    response = session(running).post(
        f"{running.authority}/oauth2/v2.0/token", timeout=10,
        data={"grant_type": "authorization_code", "client_id": demo.CLIENT_ID,
              "client_secret": demo.CLIENT_SECRET, "code": code,
              "redirect_uri": redirect_uri, "code_verifier": VERIFIER})
    body: dict[str, str] = response.json()
    return body


def test_page_is_accessible_and_locked_down(fake_graph_server: RunningFake) -> None:
    page = session(fake_graph_server).get(authorize_url(fake_graph_server,
                                                        login_hint=demo.MANAGER.upn), timeout=10)
    assert page.status_code == 200
    form = parse_form(page.text)
    assert form.fields["username"] == demo.MANAGER.upn  # login_hint pre-fills
    assert "password" in form.fields
    assert '<label for="username">' in page.text and '<html lang="en">' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self' http://127.0.0.1:8080" in csp
    assert "<script" not in page.text  # no script on the sign-in page itself
    assert page.headers["X-Frame-Options"] == "DENY"


def test_query_response_carries_code_and_state(fake_graph_server: RunningFake) -> None:
    response = sign_in(session(fake_graph_server), authorize_url(fake_graph_server),
                       demo.MANAGER.upn, demo.MANAGER.password)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    params = dict(parse_qsl(location.query))
    assert params["state"] == "st-1"
    body = redeem(fake_graph_server, params["code"])
    assert "id_token" in body and "refresh_token" in body
    wrong_redirect = redeem(fake_graph_server, params["code"], "http://127.0.0.1:8080/other")
    assert wrong_redirect["error"] == "invalid_grant"  # already redeemed, anyway


def test_redirect_uri_at_token_must_equal_authorize(fake_graph_server: RunningFake) -> None:
    response = sign_in(session(fake_graph_server), authorize_url(fake_graph_server),
                       demo.MANAGER.upn, demo.MANAGER.password)
    code = dict(parse_qsl(urlsplit(response.headers["Location"]).query))["code"]
    body = redeem(fake_graph_server, code, demo.REDIRECT_URIS[1])
    assert body["error"] == "invalid_grant"
    assert "500112" in body["error_description"]


def test_form_post_response(fake_graph_server: RunningFake) -> None:
    response = sign_in(session(fake_graph_server),
                       authorize_url(fake_graph_server, response_mode="form_post"),
                       demo.MANAGER.upn, demo.MANAGER.password)
    assert response.status_code == 200
    form = parse_form(response.text)
    assert form.action == REDIRECT_URI
    assert set(form.fields) == {"code", "state"}
    csp = response.headers["Content-Security-Policy"]
    nonce = csp.split("script-src 'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in response.text
    assert "<noscript>" in response.text


def test_fragment_response(fake_graph_server: RunningFake) -> None:
    response = sign_in(session(fake_graph_server),
                       authorize_url(fake_graph_server, response_mode="fragment"),
                       demo.MANAGER.upn, demo.MANAGER.password)
    location = urlsplit(response.headers["Location"])
    assert not location.query
    assert dict(parse_qsl(location.fragment))["state"] == "st-1"


def test_loopback_redirect_port_is_ignored(fake_graph_server: RunningFake) -> None:
    other_port = "http://127.0.0.1:49321/auth/callback"
    response = sign_in(session(fake_graph_server),
                       authorize_url(fake_graph_server, redirect_uri=other_port),
                       demo.MANAGER.upn, demo.MANAGER.password)
    assert response.headers["Location"].startswith(other_port + "?code=")
    # ...but never another host or path.
    for uri in ("http://localhost.evil.example:8080/auth/callback",
                "http://127.0.0.1:8080/auth/callback/x", "https://127.0.0.1:8080/auth/callback"):
        page = session(fake_graph_server).get(authorize_url(fake_graph_server, redirect_uri=uri),
                                              allow_redirects=False, timeout=10)
        assert page.status_code == 400 and "AADSTS50011" in page.text, uri


@pytest.mark.parametrize(("user", "password", "text"), [
    (demo.MANAGER.upn, "wrong", "AADSTS50126"),
    ("nobody@contoso.example", "x", "AADSTS50034"),
    ("jesse.park@contoso.example", "Demo-Staff-1!", "AADSTS50057"),
])
def test_refused_sign_ins_reshow_the_form(fake_graph_server: RunningFake, user: str,
                                          password: str, text: str) -> None:
    response = sign_in(session(fake_graph_server), authorize_url(fake_graph_server), user,
                       password)
    assert response.status_code == 200
    assert text in response.text
    assert "Location" not in response.headers
    assert parse_form(response.text).fields["username"] == user


def test_unknown_client_is_an_error_page(fake_graph_server: RunningFake) -> None:
    page = session(fake_graph_server).get(
        authorize_url(fake_graph_server, client_id="11111111-2222-3333-4444-555555555555"),
        allow_redirects=False, timeout=10)
    assert page.status_code == 400 and "AADSTS700016" in page.text


def test_errors_after_validation_go_back_to_the_client(fake_graph_server: RunningFake) -> None:
    http = session(fake_graph_server)
    for overrides, error in (({"response_type": "token"}, "unsupported_response_type"),
                             ({"prompt": "none"}, "login_required"),
                             ({"scope": "User.Read api://nope/x"}, "invalid_resource")):
        response = http.get(authorize_url(fake_graph_server, **overrides),
                            allow_redirects=False, timeout=10)
        assert response.status_code == 302, overrides
        params = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
        assert params["error"] == error and params["state"] == "st-1"
        assert params["error_description"].startswith("AADSTS")


def test_hostile_display_name_is_escaped(fake_graph_server: RunningFake) -> None:
    app = fake_graph_server.fake.directory.applications[demo.CLIENT_ID]
    app.display_name = "<script>alert(1)</script>"
    page = session(fake_graph_server).get(
        authorize_url(fake_graph_server, login_hint='"><img src=x onerror=alert(1)>'),
        timeout=10)
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;" in page.text


def test_new_password_must_follow_the_rules(fake_graph_server: RunningFake) -> None:
    http = session(fake_graph_server)
    page = sign_in(http, authorize_url(fake_graph_server), "riley.chen@contoso.example",
                   "Demo-Staff-1!")
    form = parse_form(page.text)
    for new in ("short", "alllowercaseletters", "Demo-Staff-1!"):
        again = http.post(page.url, data=form.fields | {"new_password": new,
                                                        "confirm_password": new},
                          allow_redirects=False, timeout=10)
        assert again.status_code == 200 and 'role="alert"' in again.text, new
    user = fake_graph_server.fake.directory.find_user("riley.chen@contoso.example")
    assert user is not None and user.force_change_password_next_sign_in
    forged = http.post(page.url, data=form.fields | {"flow": "forged", "new_password": "Aa1!aaaa",
                                                     "confirm_password": "Aa1!aaaa"},
                       allow_redirects=False, timeout=10)
    assert forged.status_code == 200 and "expired" in forged.text


def test_logout(fake_graph_server: RunningFake) -> None:
    http: requests.Session = session(fake_graph_server)
    base = f"{fake_graph_server.authority}/oauth2/v2.0/logout"
    back = http.get(base, params={"post_logout_redirect_uri": "http://127.0.0.1:8080/"},
                    allow_redirects=False, timeout=10)
    assert back.status_code == 302 and back.headers["Location"] == "http://127.0.0.1:8080/"
    stay = http.get(base, params={"post_logout_redirect_uri": "https://evil.example/"},
                    allow_redirects=False, timeout=10)
    assert stay.status_code == 200 and "signed out" in stay.text


def test_logout_returns_to_a_loopback_redirect_uri_on_any_port(
        fake_graph_server: RunningFake) -> None:
    # Registered: http://127.0.0.1:8080/auth/callback; the loopback rule (RFC 8252) ignores the
    # port at sign-in, and so it does on the way back from sign-out.
    http: requests.Session = session(fake_graph_server)
    base = f"{fake_graph_server.authority}/oauth2/v2.0/logout"
    back = http.get(base, params={"post_logout_redirect_uri":
                                  "http://127.0.0.1:54321/auth/callback"},
                    allow_redirects=False, timeout=10)
    assert back.status_code == 302
    assert back.headers["Location"] == "http://127.0.0.1:54321/auth/callback"


@pytest.mark.parametrize(("target", "followed"), [
    ("http://127.0.0.1:40123/", True), ("http://127.0.0.1:40123", True),
    ("http://localhost:9/", True), ("http://127.0.0.1:40123/elsewhere", False),
    ("http://127.0.0.1.evil.example:40123/", False), ("https://127.0.0.1:40123/", False)])
def test_logout_returns_to_the_origin_of_a_loopback_redirect_uri(
        fake_graph_server: RunningFake, target: str, followed: bool) -> None:
    http: requests.Session = session(fake_graph_server)
    resp = http.get(f"{fake_graph_server.authority}/oauth2/v2.0/logout",
                    params={"post_logout_redirect_uri": target}, allow_redirects=False,
                    timeout=10)
    assert (resp.status_code == 302) is followed
    if followed:
        assert resp.headers["Location"] == target
