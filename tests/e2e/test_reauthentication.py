"""Re-authentication (policy ``reauthenticate_after_minutes``), end to end, in both identity
modes: a change needs credentials entered at Entra at most 15 minutes ago.

A manager whose proxy session comes from Entra's single sign-on an hour after they last typed
their password (a till left signed in) is refused ``401 reauthentication_required`` with a
``reauthUrl``; the page sends them through ``/auth/login?prompt=login&next=<the form>``, where
Entra shows its form despite its session, and back to the same form, where the change works.
Without ``auth_time`` in the tokens the time is unknown: refused, until a sign-in the proxy
asked for with ``prompt=login``. Bearer tokens are judged by their own ``auth_time``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import jwt
import pytest
from e2e_checks import AuditTail, bearer_call, error_code, policy_variant, state, user_token
from e2e_support import (
    CLIENT_ID,
    PASSWORDS,
    Manager,
    Stack,
    parse_forms,
    running_stack,
    uid,
)

from fake_graph.embedded import RunningFake
from fake_graph.identity.store import SSO_COOKIE, store

MGR = "mgr.upn@e2e.example"
STAFF2 = "staff2@e2e.example"
BASE = "/api/v1/locations/north/staff"
RESET = f"{BASE}/{uid(STAFF2)}/password"
FORM = f"/locations/north/staff/{uid(STAFF2)}/password"
REAUTH_URL = f"/auth/login?prompt=login&next=/locations/north/staff/{uid(STAFF2)}"


@pytest.fixture(params=["app", "manager"])
async def stack(request: pytest.FixtureRequest, e2e_fake: RunningFake,
                tmp_path: Path) -> AsyncIterator[Stack]:
    template = policy_variant(tmp_path, ("limits:\n",
                                         "reauthenticate_after_minutes: 15\nlimits:\n"))
    async with running_stack(e2e_fake, tmp_path / "s", policy_template=template,
                             identity=request.param) as s:
        yield s


def _age_entra_sessions(stack: Stack, seconds: float) -> None:
    """As if the manager typed their password at Entra ``seconds`` earlier."""
    for session in store(stack.fake.fake).sso.values():
        session.issued_at -= seconds


async def _signed_in_an_hour_ago(stack: Stack, upn: str = MGR) -> Manager:
    """A proxy session from Entra's single sign-on, an hour after the password was typed."""
    m = await stack.manager(upn)
    _age_entra_sessions(stack, 3600)
    await m.sign_in_silently()
    return m


async def test_a_fresh_sign_in_may_change(stack: Stack) -> None:
    m = await stack.manager(MGR)
    status, body, _ = await m.call("POST", RESET, {})
    assert status == 200, body


async def test_an_old_sign_in_is_refused_with_where_to_sign_in_again(stack: Stack) -> None:
    m = await _signed_in_an_hour_ago(stack)
    audit = AuditTail(stack)
    before = state(stack, STAFF2)
    since = stack.fake.fake.recorder.last_seq
    # reads are not changes
    assert (await m.call("GET", f"{BASE}/{uid(STAFF2)}"))[0] == 200
    audit.new()
    status, body, _ = await m.call("POST", RESET, {})
    assert (status, error_code(body)) == (401, "reauthentication_required"), body
    assert body["error"]["reauthUrl"] == REAUTH_URL
    assert state(stack, STAFF2) == before
    changes = [r for r in stack.fake.fake.recorder.since(since)[0]
               if r.method != "GET" and "$batch" not in r.path and r.path.startswith("/v1.0")]
    assert changes == []
    [record] = audit.new()
    assert (record["event"], record["outcome"], record["reason"]) == (
        "password_reset", "denied", "reauthentication_required")
    assert record["detail"] == {"why": "sign_in_too_old"}
    assert (record["location"], record["target"]["id"]) == ("north", uid(STAFF2))
    # each change alike; a CSRF failure is still told first
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/phone-methods",
                                   {"phoneType": "mobile", "phoneNumber": "4255550100"})
    assert (status, error_code(body)) == (401, "reauthentication_required")
    status, body, _ = await m.call("POST", RESET, {}, headers={"X-CSRF-Token": "forged"})
    assert (status, error_code(body)) == (403, "csrf_failed")


async def test_a_bulk_reset_is_refused_as_a_whole(stack: Stack) -> None:
    m = await _signed_in_an_hour_ago(stack)
    audit = AuditTail(stack)
    before = state(stack, STAFF2)
    status, body, _ = await m.call("POST", "/api/v1/locations/north/password-resets",
                                   {"userIds": [uid(STAFF2), uid("staff1@e2e.example")]})
    assert (status, error_code(body)) == (401, "reauthentication_required"), body
    assert body["error"]["reauthUrl"] == "/auth/login?prompt=login&next=/locations/north"
    assert state(stack, STAFF2) == before
    [record] = audit.new()
    assert (record["event"], record["reason"], record["location"]) == (
        "password_reset", "reauthentication_required", "north")


async def test_it_comes_before_insufficient_permissions(stack: Stack) -> None:
    m = await _signed_in_an_hour_ago(stack, "nobody@e2e.example")
    status, body, _ = await m.call("POST", RESET, {})
    assert (status, error_code(body)) == (401, "reauthentication_required")


async def test_the_page_signs_in_again_and_lands_back_on_the_form(stack: Stack) -> None:
    m = await _signed_in_an_hour_ago(stack)
    before = stack.fake_user(STAFF2).password
    async with m.session.get(stack.proxy_url + FORM) as resp:
        assert resp.status == 200  # the form itself is shown
        fields = next(f for a, f in parse_forms(await resp.text()) if a.endswith("/password"))
    async with m.session.post(stack.proxy_url + FORM, data={**fields, "mode": "generate"},
                              allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"] == f"/auth/login?prompt=login&next={FORM}"
        location = resp.headers["Location"]
    assert stack.fake_user(STAFF2).password == before
    landed = await _sign_in_through(m, stack, location)
    assert urlsplit(landed).path == FORM
    async with m.session.get(landed) as resp:
        assert resp.status == 200
        fields = next(f for a, f in parse_forms(await resp.text()) if a.endswith("/password"))
    async with m.session.post(stack.proxy_url + FORM, data={**fields, "mode": "generate"},
                              allow_redirects=False) as resp:
        assert resp.status == 200, await resp.text()
    assert stack.fake_user(STAFF2).password != before


async def _sign_in_through(m: Manager, stack: Stack, location: str) -> str:
    """Follow a re-authentication link: Entra's form is shown although its single sign-on
    session is still there; returns where the proxy sends the manager afterwards."""
    assert any(c.key == SSO_COOKIE for c in m.session.cookie_jar)
    async with m.session.get(stack.proxy_url + location, allow_redirects=False) as resp:
        assert resp.status == 302
        authorize = resp.headers["Location"]
    assert dict(parse_qsl(urlsplit(authorize).query))["prompt"] == "login"
    async with m.session.get(authorize, allow_redirects=False) as resp:
        assert resp.status == 200, "Entra must show its form for prompt=login"
        action, fields = parse_forms(await resp.text())[0]
    fields.update(username=MGR, password=PASSWORDS[MGR])
    async with m.session.post(urljoin(authorize, action), data=fields,
                              allow_redirects=False) as resp:
        assert resp.status == 302
        callback = resp.headers["Location"]
    async with m.session.get(callback, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        return urljoin(stack.proxy_url, resp.headers["Location"])


async def test_unknown_sign_in_time_is_too_old_until_a_sign_in_with_the_form(
        stack: Stack) -> None:
    """The app registration without the optional claim: no auth_time in any token."""
    stack.fake.fake.directory.applications[CLIENT_ID].optional_claims = []
    m = await stack.manager(MGR)  # the form was filled in, but the proxy cannot know it
    audit = AuditTail(stack)
    status, body, _ = await m.call("POST", RESET, {})
    assert (status, error_code(body)) == (401, "reauthentication_required")
    assert audit.one()["detail"] == {"why": "sign_in_time_unknown"}
    # a sign-in the proxy asked for with prompt=login: its time is when the code came back
    landed = await _sign_in_through(m, stack, body["error"]["reauthUrl"])
    assert urlsplit(landed).path == f"/locations/north/staff/{uid(STAFF2)}"
    async with m.session.get(f"{stack.proxy_url}/api/v1/me") as resp:
        m.csrf = (await resp.json())["csrfToken"]
    status, body, _ = await m.call("POST", RESET, {})
    assert status == 200, body


def _token_with(stack: Stack, token: str, **changes: Any) -> str:
    """The same token with some claims changed, signed by the fake tenant (as Entra signs)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    tokens = stack.fake.fake.tokens
    return jwt.encode(claims, tokens.key.private_key, algorithm="RS256",
                      headers={"kid": tokens.key.kid, "typ": "JWT"})


async def test_bearer_tokens_by_their_auth_time(stack: Stack) -> None:
    token = await user_token(stack, MGR)  # the password grant: typed just now
    assert jwt.decode(token, options={"verify_signature": False})["auth_time"] >= time.time() - 60
    status, body, _ = await bearer_call(stack, token, "POST", RESET, {})
    assert status == 200, body
    audit = AuditTail(stack)
    before = state(stack, STAFF2)
    for changed, why in (({"auth_time": int(time.time()) - 3600}, "sign_in_too_old"),
                         ({"auth_time": None}, "sign_in_time_unknown")):
        status, body, _ = await bearer_call(stack, _token_with(stack, token, **changed),
                                            "POST", RESET, {})
        assert (status, error_code(body)) == (401, "reauthentication_required"), body
        assert body["error"]["reauthUrl"] == REAUTH_URL
        record = audit.one()
        assert (record["event"], record["detail"]) == ("password_reset", {"why": why})
    assert state(stack, STAFF2) == before
    # reads need no recent sign-in
    old = _token_with(stack, token, auth_time=int(time.time()) - 3600)
    assert (await bearer_call(stack, old, "GET", f"{BASE}/{uid(STAFF2)}"))[0] == 200


async def test_off_by_default_and_an_unknown_time_changes_nothing_then(
        e2e_fake: RunningFake, tmp_path: Path) -> None:
    async with running_stack(e2e_fake, tmp_path) as plain:
        plain.fake.fake.directory.applications[CLIENT_ID].optional_claims = []
        m = await plain.manager(MGR)
        status, body, _ = await m.call("POST", RESET, {})
        assert status == 200, body
