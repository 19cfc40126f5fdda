"""The sign-in page takes a Temporary Access Pass in place of the password: a one-time pass
once, a multi-use one while valid; no password change is asked for; a pass the policy does
not allow, or one already used, is refused with Entra's sentence; the single sign-on session
ends with the pass.

Learn: "Configure Temporary Access Pass",
https://learn.microsoft.com/entra/identity/authentication/howto-authentication-temporary-access-pass
(use, expiration, troubleshooting).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from identity_support import auth_code_flow, make_app, redirect_params, session, sign_in
from test_identity_signin import authorize_url

from fake_graph import demo
from fake_graph.embedded import RunningFake

STAFF = "taylor.brooks@contoso.example"  # Seattle cashier
MUST_CHANGE = "riley.chen@contoso.example"  # must change the password at next sign-in
BLOCKED = "Temporary Access Pass sign in was blocked due to User Credential Policy."


def create_pass(running: RunningFake, upn: str, **body: Any) -> dict[str, Any]:
    token = make_app(running).acquire_token_for_client(
        ["https://graph.microsoft.com/.default"])["access_token"]
    response = session(running).post(
        f"{running.graph_url}/users/{upn}/authentication/temporaryAccessPassMethods",
        json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def usability(running: RunningFake, upn: str) -> str:
    user = running.fake.directory.find_user(upn)
    assert user is not None and user.temporary_access_pass is not None
    return user.temporary_access_pass.usability(running.fake.directory.tap_allowed(user.id))


def try_pass(running: RunningFake, upn: str, typed: str) -> requests.Response:
    return sign_in(session(running), authorize_url(running, prompt="login"), upn, typed)


def test_a_one_time_pass_signs_in_once(fake_graph_server: RunningFake) -> None:
    tap = create_pass(fake_graph_server, STAFF, isUsableOnce=True)
    _, result = auth_code_flow(fake_graph_server, STAFF, tap["temporaryAccessPass"])
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == STAFF
    assert usability(fake_graph_server, STAFF) == "OneTimeUsed"

    again = try_pass(fake_graph_server, STAFF, tap["temporaryAccessPass"])
    assert again.status_code == 200 and BLOCKED in again.text
    assert "Location" not in again.headers
    # the password still works: a pass "doesn't replace a user's password"
    password = next(a.password for a in demo.ACCOUNTS if a.upn == STAFF)
    assert "code" in redirect_params(try_pass(fake_graph_server, STAFF, password))


def test_a_multi_use_pass_signs_in_while_valid(fake_graph_server: RunningFake) -> None:
    tap = create_pass(fake_graph_server, STAFF)
    for _ in range(2):
        assert "code" in redirect_params(try_pass(fake_graph_server, STAFF,
                                                  tap["temporaryAccessPass"]))
    user = fake_graph_server.fake.directory.find_user(STAFF)
    assert user is not None and user.temporary_access_pass is not None
    user.temporary_access_pass.start = datetime.now(UTC) - timedelta(hours=2)  # expired
    expired = try_pass(fake_graph_server, STAFF, tap["temporaryAccessPass"])
    assert expired.status_code == 200 and "AADSTS50126" in expired.text


def test_no_password_change_after_a_pass(fake_graph_server: RunningFake) -> None:
    tap = create_pass(fake_graph_server, MUST_CHANGE)
    response = try_pass(fake_graph_server, MUST_CHANGE, tap["temporaryAccessPass"])
    assert "code" in redirect_params(response)  # no change-password page
    user = fake_graph_server.fake.directory.find_user(MUST_CHANGE)
    assert user is not None and user.force_change_password_next_sign_in  # still pending


def test_refused_passes(fake_graph_server: RunningFake) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    tap = create_pass(fake_graph_server, STAFF, startDateTime=later)
    not_yet = try_pass(fake_graph_server, STAFF, tap["temporaryAccessPass"])
    assert "AADSTS50126" in not_yet.text  # not a credential yet
    tap = create_pass(fake_graph_server, STAFF)
    fake_graph_server.fake.directory.methods_policy.temporary_access_pass.state = "disabled"
    blocked = try_pass(fake_graph_server, STAFF, tap["temporaryAccessPass"])
    assert BLOCKED in blocked.text
    assert "AADSTS50126" in try_pass(fake_graph_server, STAFF, "not-the-pass").text
    disabled = "jesse.park@contoso.example"  # account disabled
    fake_graph_server.fake.directory.methods_policy.temporary_access_pass.state = "enabled"
    tap = create_pass(fake_graph_server, disabled, isUsableOnce=True)
    assert "AADSTS50057" in try_pass(fake_graph_server, disabled, tap["temporaryAccessPass"]).text
    assert usability(fake_graph_server, disabled) == "EnabledByPolicy"  # not spent


def test_the_sign_on_session_ends_with_the_pass(fake_graph_server: RunningFake) -> None:
    http = session(fake_graph_server)
    tap = create_pass(fake_graph_server, STAFF)
    response = sign_in(http, authorize_url(fake_graph_server), STAFF, tap["temporaryAccessPass"])
    assert "code" in redirect_params(response)
    cookie = next(c for c in response.cookies if c.name == "ESTSAUTH")
    assert cookie.expires is not None and cookie.expires <= datetime.now(UTC).timestamp() + 3601
    silent = http.get(authorize_url(fake_graph_server, prompt="none"), allow_redirects=False,
                      timeout=10)
    assert "code" in redirect_params(silent)  # single sign-on while the pass lasts
    create_pass(fake_graph_server, STAFF)  # replaced: the session made with the old one ends
    silent = http.get(authorize_url(fake_graph_server, prompt="none"), allow_redirects=False,
                      timeout=10)
    assert redirect_params(silent)["error"] == "login_required"
