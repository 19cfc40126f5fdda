"""Sign-in: ``state``, ``nonce`` and PKCE single-use and bound to the browser; parallel tabs;
a new session (new id) at every sign-in, whatever cookie the browser had before."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

from e2e_support import Stack, uid
from token_shapes import has_jwt

from .support import (
    authorize,
    callback,
    decode_session,
    session_cookie,
    set_session_cookie,
    start_login,
)

MGR = "mgr.upn@e2e.example"
OTHER = "mgr.oid@e2e.example"
FLOW_COOKIE = "mystaff-signin"  # plain http on loopback; __Host- prefixed over https


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _refused(resp_status: int, set_cookie: list[str], stack: Stack) -> bool:
    """A refused callback: an error page and no session cookie."""
    name = stack.settings.session.cookie_name + "="
    return resp_status >= 400 and not any(c.startswith(name) for c in set_cookie)


def _sign_in_records(stack: Stack, outcome: str) -> list[dict[str, object]]:
    return [r for r in stack.audit() if r["event"] == "sign_in" and r["outcome"] == outcome]


async def test_authorize_request_has_state_nonce_and_pkce_s256(stack: Stack) -> None:
    m = await stack.manager()
    resp = await start_login(m)
    assert resp.status == 302
    q = _query(resp.headers["Location"])
    assert q["response_type"] == "code"
    assert q["redirect_uri"] == stack.proxy_url + "/auth/callback"
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43  # base64url SHA-256
    assert len(q["state"]) >= 16 and len(q["nonce"]) >= 16
    flow = resp.cookies[FLOW_COOKIE]
    assert flow["httponly"] and flow["samesite"] == "Lax" and flow["path"] == "/"
    assert len(flow.value) == 43
    # Each sign-in gets fresh values.
    q2 = _query((await start_login(m)).headers["Location"])
    assert {q2["state"], q2["nonce"], q2["code_challenge"]}.isdisjoint(
        {q["state"], q["nonce"], q["code_challenge"]})


async def test_callback_replayed_is_refused(stack: Stack) -> None:
    m = await stack.manager()
    url = await authorize(m, (await start_login(m)).headers["Location"], MGR)
    first = await callback(m, url)
    assert first.status == 302 and session_cookie(m, stack)
    # Replayed by the same browser (its flow cookie and all), or without the flow cookie.
    for clear in (False, True):
        if clear:
            m.session.cookie_jar.clear()
        again = await callback(m, url)
        assert _refused(again.status, again.headers.getall("Set-Cookie", []), stack)
    assert session_cookie(m, stack) is None
    page = await m.session.get(url, allow_redirects=False)
    assert "This sign-in link has expired or was used." in await page.text()
    # A used state is an unknown one: counted in /metrics, not audited (anyone can replay a
    # callback URL, as often as they like; test_signin_flood.py).
    assert _sign_in_records(stack, "denied") == []
    assert len(_sign_in_records(stack, "success")) == 1
    async with m.session.get(stack.proxy_url + "/metrics") as resp:
        assert "mystaff_signin_unknown_state_total 3.0\n" in await resp.text()


async def test_callback_replayed_with_the_stolen_flow_cookie_is_refused(stack: Stack) -> None:
    m = await stack.manager()
    login = await start_login(m)
    flow_value = login.cookies[FLOW_COOKIE].value
    url = await authorize(m, login.headers["Location"], MGR)
    assert (await callback(m, url)).status == 302
    thief = await stack.manager()
    thief.session.cookie_jar.update_cookies({FLOW_COOKIE: flow_value})
    again = await callback(thief, url)
    assert _refused(again.status, again.headers.getall("Set-Cookie", []), stack)
    assert session_cookie(thief, stack) is None


async def test_callback_url_from_browser_a_is_refused_in_browser_b(stack: Stack) -> None:
    a = await stack.manager()
    url = await authorize(a, (await start_login(a)).headers["Location"], MGR)
    b_fresh = await stack.manager()  # no flow cookie at all
    resp = await callback(b_fresh, url)
    assert _refused(resp.status, resp.headers.getall("Set-Cookie", []), stack)
    assert session_cookie(b_fresh, stack) is None

    url2 = await authorize(a, (await start_login(a)).headers["Location"], MGR)
    b_own = await stack.manager()
    await start_login(b_own)  # B has a flow cookie of its own, just not A's
    resp = await callback(b_own, url2)
    assert _refused(resp.status, resp.headers.getall("Set-Cookie", []), stack)
    assert session_cookie(b_own, stack) is None
    reasons = [r["reason"] for r in _sign_in_records(stack, "denied")]
    assert reasons == ["browser_mismatch", "browser_mismatch"]
    # Login CSRF: a victim sent the attacker's callback URL is not signed in as the attacker.
    status, _, _ = await b_own.call("GET", "/api/v1/me")
    assert status == 401


async def test_two_sign_ins_in_parallel_tabs_both_succeed(stack: Stack) -> None:
    m = await stack.manager()
    tab1 = await start_login(m, "/locations/north")
    tab2 = await start_login(m, "/locations/north?search=sam")
    assert tab1.cookies[FLOW_COOKIE].value == tab2.cookies[FLOW_COOKIE].value  # one browser
    url1 = await authorize(m, tab1.headers["Location"], MGR)
    url2 = await authorize(m, tab2.headers["Location"], OTHER)
    done2 = await callback(m, url2)  # finished in the other order
    assert done2.status == 302
    assert done2.headers["Location"] == stack.proxy_url + "/locations/north?search=sam"
    s2 = await decode_session(stack, session_cookie(m, stack))
    assert s2 is not None and s2.oid == uid(OTHER)
    done1 = await callback(m, url1)
    assert done1.status == 302
    assert done1.headers["Location"] == stack.proxy_url + "/locations/north"
    s1 = await decode_session(stack, session_cookie(m, stack))
    assert s1 is not None and s1.oid == uid(MGR) and s1.sid != s2.sid


async def test_code_of_one_tab_with_the_state_of_another_is_refused(stack: Stack) -> None:
    """PKCE and nonce bind a code to its flow: tab 1's code under tab 2's state fails."""
    m = await stack.manager()
    tab1 = await start_login(m)
    tab2 = await start_login(m)
    code1 = _query(await authorize(m, tab1.headers["Location"], MGR))["code"]
    state2 = _query(tab2.headers["Location"])["state"]
    resp = await callback(m, f"{stack.proxy_url}/auth/callback?code={code1}&state={state2}")
    assert _refused(resp.status, resp.headers.getall("Set-Cookie", []), stack)
    assert session_cookie(m, stack) is None


async def test_code_issued_for_another_pkce_challenge_is_refused(stack: Stack) -> None:
    """An attacker who injects a code bound to their own PKCE challenge gets nothing."""
    m = await stack.manager()
    login = await start_login(m)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()
    url = await authorize(m, login.headers["Location"], MGR, code_challenge=challenge)
    resp = await callback(m, url)
    assert _refused(resp.status, resp.headers.getall("Set-Cookie", []), stack)
    assert [r["reason"] for r in _sign_in_records(stack, "denied")] == ["token_error"]


async def test_id_token_with_another_nonce_is_refused(stack: Stack) -> None:
    """A code (PKCE intact) whose ID token carries another nonce: an error page, audited."""
    m = await stack.manager()
    login = await start_login(m)
    url = await authorize(m, login.headers["Location"], MGR, nonce="attacker-chosen-nonce")
    resp = await callback(m, url)
    assert resp.status == 400, await resp.text()
    assert _refused(resp.status, resp.headers.getall("Set-Cookie", []), stack)
    assert [r["reason"] for r in _sign_in_records(stack, "denied")] == ["flow_mismatch"]


async def test_unknown_or_missing_state_is_refused(stack: Stack) -> None:
    m = await stack.manager()
    login = await start_login(m)
    code = _query(await authorize(m, login.headers["Location"], MGR))["code"]
    for query in (f"code={code}&state=forged", f"code={code}", "state=", ""):
        resp = await callback(m, f"{stack.proxy_url}/auth/callback?{query}")
        assert _refused(resp.status, resp.headers.getall("Set-Cookie", []), stack)
    assert session_cookie(m, stack) is None


async def test_sign_in_replaces_a_cookie_set_before_it(stack: Stack) -> None:
    """Session fixation: a session cookie planted before sign-in (garbage, or the attacker's
    own valid session) is replaced by a new session with a new id at sign-in."""
    attacker = await stack.manager(OTHER)
    planted = session_cookie(attacker, stack)
    planted_session = await decode_session(stack, planted)
    assert planted is not None and planted_session is not None

    for before in ("garbage-value", planted):
        victim = await stack.manager()
        set_session_cookie(victim, stack, before)
        url = await authorize(victim, (await start_login(victim)).headers["Location"], MGR)
        resp = await callback(victim, url)
        assert resp.status == 302
        issued = resp.cookies[stack.settings.session.cookie_name].value
        assert issued != before
        session = await decode_session(stack, issued)
        assert session is not None and session.oid == uid(MGR)
        assert session.sid != planted_session.sid and session.csrf != planted_session.csrf

    # The planted session was ended on the server when the victim signed in over it.
    assert await decode_session(stack, planted) is None

    # Signing in again in the same browser starts a new session and ends the one before
    # (ASVS 7.2.4): a copy of the earlier cookie no longer works.
    m = await stack.manager(MGR)
    first_cookie = session_cookie(m, stack)
    first = await decode_session(stack, first_cookie)
    await m.sign_in(MGR)
    second = await decode_session(stack, session_cookie(m, stack))
    assert first is not None and second is not None and first.sid != second.sid
    assert await decode_session(stack, first_cookie) is None
    copy = await stack.manager()
    set_session_cookie(copy, stack, first_cookie or "")
    status, _, _ = await copy.call("GET", "/api/v1/me")
    assert status == 401


async def test_tokens_never_reach_the_browser(stack: Stack) -> None:
    """The callback answer carries only the session cookie; its value is encrypted."""
    m = await stack.manager()
    url = await authorize(m, (await start_login(m)).headers["Location"], MGR)
    resp = await callback(m, url)
    body = await resp.text()
    cookie = resp.cookies[stack.settings.session.cookie_name].value
    for text in (body, cookie, str(resp.headers)):
        assert not has_jwt(text)  # no JWT (access, ID or refresh token) anywhere
    assert MGR not in cookie
