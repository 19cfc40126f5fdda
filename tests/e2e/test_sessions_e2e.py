"""Sessions (docs/api.md, sign-in): cookie flags, a new session at each sign-in, sign-out
that holds."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import aiohttp
from aiohttp import web
from e2e_checks import error_code
from e2e_support import (
    CLIENT_ID,
    PASSWORDS,
    Manager,
    Stack,
    client_ssl,
    parse_forms,
    running_stack,
    uid,
)
from token_shapes import has_jwt

from fake_graph.embedded import RunningFake
from mystaff_proxy.auth.sessions import Session, SessionManager
from mystaff_proxy.config import Settings
from mystaff_proxy.web.app import init_app
from mystaff_proxy.web.services import SERVICES

MGR = "mgr.upn@e2e.example"


def set_cookies(resp: aiohttp.ClientResponse) -> dict[str, SimpleCookie]:
    out = {}
    for header in resp.headers.getall("Set-Cookie", []):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            out[name] = cookie
    return out


def session_cookie(m: Manager) -> str:
    return next(c.value for c in m.session.cookie_jar if c.key == "mystaff")


async def session_of(stack: Stack, cookie: str) -> Session:
    session = await stack.app[SERVICES].sessions.decode(cookie)
    assert session is not None
    return session


async def test_cookie_flags_on_plain_http_loopback(stack: Stack) -> None:
    m = await stack.manager(MGR)
    login, callback = m.history[0], next(r for r in m.history if r.url.path == "/auth/callback")
    flow = set_cookies(login)["mystaff-signin"]["mystaff-signin"]
    cookie = set_cookies(callback)["mystaff"]["mystaff"]
    for c in (flow, cookie):
        assert c["httponly"] is True
        assert c["samesite"] == "Lax"
        assert c["path"] == "/"
        assert not c["secure"]  # http://127.0.0.1: a browser would drop a Secure cookie
        assert not c["domain"]
    assert int(cookie["max-age"]) == stack.settings.session.max_age_minutes * 60
    # no token reaches the browser: the cookie is sealed, not a JWT
    assert not has_jwt(cookie.value) and "." not in cookie.value
    assert not any(has_jwt(c.value) for c in m.session.cookie_jar)


async def test_cookie_flags_behind_https(e2e_fake: RunningFake, tmp_path: Path) -> None:
    """public_url https (TLS ends at a reverse proxy): Secure and the __Host- prefix."""
    async with running_stack(e2e_fake, tmp_path) as plain:
        public = plain.proxy_url.replace("http://", "https://")
    async with running_stack(e2e_fake, tmp_path, server={"public_url": public}) as stack:
        apps = stack.fake.fake.directory.applications
        apps[CLIENT_ID].redirect_uris.append(stack.settings.redirect_uri)
        jar = aiohttp.CookieJar(unsafe=True)
        connector = aiohttp.TCPConnector(ssl=client_ssl(stack.fake.ca_file))
        async with aiohttp.ClientSession(cookie_jar=jar, connector=connector) as http:
            login = await http.get(stack.proxy_url + "/auth/login", allow_redirects=False)
            assert login.status == 302
            flow = set_cookies(login)["__Host-mystaff-signin"]["__Host-mystaff-signin"]
            assert flow["secure"] and flow["httponly"] and flow["samesite"] == "Lax"
            assert flow["path"] == "/" and not flow["domain"]
            page = await http.get(login.headers["Location"], allow_redirects=False)
            action, fields = parse_forms(await page.text())[0]
            fields.update(username=MGR, password=PASSWORDS[MGR])
            resp = await http.post(urljoin(str(page.url), action), data=fields,
                                   allow_redirects=False)
            back = urlsplit(resp.headers["Location"])
            assert f"{back.scheme}://{back.netloc}" == public
            # the reverse proxy hands the callback over plain http
            callback = await http.get(f"{stack.proxy_url}{back.path}?{back.query}",
                                      cookies={"__Host-mystaff-signin": flow.value},
                                      allow_redirects=False)
            assert callback.status == 302, await callback.text()
            cookie = set_cookies(callback)["__Host-mystaff"]["__Host-mystaff"]
            assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
            assert cookie["path"] == "/" and not cookie["domain"]
            assert callback.headers["Location"].startswith(public + "/")
            async with http.get(stack.proxy_url + "/api/v1/me",
                                cookies={"__Host-mystaff": cookie.value}) as me:
                assert me.status == 200
                assert "max-age" in me.headers["Strict-Transport-Security"]


async def test_sign_out_ends_the_session_on_the_server(stack: Stack) -> None:
    m = await stack.manager(MGR)
    cookie, csrf = session_cookie(m), m.csrf
    # without the CSRF token, sign-out is refused and the session goes on
    async with m.session.post(f"{stack.proxy_url}/auth/logout", allow_redirects=False) as r:
        assert r.status == 403
    status, _, _ = await m.call("GET", "/api/v1/me")
    assert status == 200
    # with it as a form field (the page's form)
    async with m.session.post(f"{stack.proxy_url}/auth/logout", data={"csrf": csrf},
                              allow_redirects=False) as r:
        # ...and on to Entra's sign-out, which comes back to the start page
        assert r.status == 302
        entra, _, query = r.headers["Location"].partition("?")
        assert entra == f"{stack.fake.authority}/oauth2/v2.0/logout"
        assert dict(parse_qsl(query))["post_logout_redirect_uri"] == stack.proxy_url + "/"
        cleared = set_cookies(r)["mystaff"]["mystaff"]
        assert cleared.value == ""
    status, body, _ = await m.call("GET", "/api/v1/me")
    assert (status, error_code(body)) == (401, "unauthenticated")
    # the old cookie, replayed from elsewhere, is refused too
    replay = await stack.manager()
    replay.session.cookie_jar.update_cookies({"mystaff": cookie})
    replay.csrf = csrf
    for method, path in [("GET", "/api/v1/me"), ("GET", "/api/v1/locations"),
                         ("POST", f"/api/v1/locations/north/staff/"
                                  f"{uid('staff2@e2e.example')}/password")]:
        status, body, _ = await replay.call(method, path, {} if method == "POST" else None)
        assert (status, error_code(body)) == (401, "unauthenticated")
    assert stack.fake_user("staff2@e2e.example").password == "Staff2-Pass-1!"


async def test_sign_out_with_the_csrf_header(stack: Stack) -> None:
    m = await stack.manager(MGR)
    cookie = session_cookie(m)
    async with m.session.post(f"{stack.proxy_url}/auth/logout",
                              headers={"X-CSRF-Token": m.csrf}, allow_redirects=False) as r:
        assert r.status == 302
    replay = await stack.manager()
    replay.session.cookie_jar.update_cookies({"mystaff": cookie})
    status, _, _ = await replay.call("GET", "/api/v1/me")
    assert status == 401


async def test_a_new_session_at_each_sign_in(stack: Stack) -> None:
    m = await stack.manager(MGR)
    first = session_cookie(m)
    first_session = await session_of(stack, first)
    await m.sign_in(MGR)  # again, in the same browser, with the old cookie present
    second = session_cookie(m)
    second_session = await session_of(stack, second)
    assert second_session.sid != first_session.sid
    assert second_session.csrf != first_session.csrf
    other = await stack.manager("mgr.oid@e2e.example")
    third_session = await session_of(stack, session_cookie(other))
    assert third_session.sid not in (first_session.sid, second_session.sid)
    # signing in as someone else in the same browser replaces the session entirely
    await m.sign_in("viewer@e2e.example")
    status, me, _ = await m.call("GET", "/api/v1/me")
    assert status == 200 and me["userPrincipalName"] == "viewer@e2e.example"


async def test_expired_and_foreign_cookies_are_refused(stack: Stack) -> None:
    m = await stack.manager(MGR)
    session = await session_of(stack, session_cookie(m))
    manager: SessionManager = stack.app[SERVICES].sessions
    now = time.time()
    client = await stack.manager()

    async def status_with(cookie: str) -> int:
        client.session.cookie_jar.clear()
        client.session.cookie_jar.update_cookies({"mystaff": cookie})
        status, _, _ = await client.call("GET", "/api/v1/me")
        return status

    fresh = dataclasses.replace(session, sid="fresh-sid-for-this-test")
    assert await status_with(manager.encode(fresh)) == 200  # the control
    idle = dataclasses.replace(session, last_seen=now - manager.idle - 5)
    assert await status_with(manager.encode(idle)) == 401
    old = dataclasses.replace(session, created=now - manager.max_age - 5, last_seen=now)
    assert await status_with(manager.encode(old)) == 401
    # a cookie sealed with another secret (another deployment) means nothing here
    foreign = SessionManager(b"x" * 32, max_age=manager.max_age, idle=manager.idle,
                             revocations=manager.revocations)
    assert await status_with(foreign.encode(fresh)) == 401
    assert await status_with(session_cookie(m)[:-2] + "AA") == 401


async def test_sign_out_also_ends_the_identity_platform_session(stack: Stack) -> None:
    """Why sign-out goes on to Entra: on a shared device, the identity platform's own session
    would otherwise sign the next person in as this manager without a password."""
    m = await stack.manager(MGR)
    # The threat: with the proxy session gone but the platform's kept, "Sign in" is silent.
    async with m.session.post(f"{stack.proxy_url}/auth/logout", data={"csrf": m.csrf},
                              allow_redirects=False) as r:
        assert r.status == 302
    await m.sign_in_silently()
    assert m.upn == MGR and (await m.call("GET", "/api/v1/me"))[0] == 200
    # The product: the sign-out, followed as a browser does, ends both.
    async with m.session.post(f"{stack.proxy_url}/auth/logout", data={"csrf": m.csrf}) as r:
        assert r.status == 200 and str(r.url) == stack.proxy_url + "/"
    last = await m.sign_in_silently()
    assert last.status == 200 and 'name="password"' in await last.text()  # the form again
    assert (await m.call("GET", "/api/v1/me"))[0] == 401


@contextlib.asynccontextmanager
async def proxy_started_again(settings: Settings) -> AsyncIterator[str]:
    """The proxy started anew on the same configuration (a deploy, a crash and restart):
    a new process state, the same secret and files. Yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(init_app(settings), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


async def _status_with(url: str, cookie: str) -> tuple[int, int]:
    """(API status, page status) with only this session cookie."""
    async with aiohttp.ClientSession(cookies={"mystaff": cookie}) as http:
        async with http.get(url + "/api/v1/me") as api:
            api_status = api.status
        async with http.get(url + "/locations/north", allow_redirects=False) as page:
            return api_status, page.status


async def test_sign_out_holds_across_a_restart(e2e_fake: RunningFake, tmp_path: Path) -> None:
    """With the cookie backend the signed-out ids were kept in memory only: after a deploy a
    signed-out cookie was a live session again (pen test #13). They are kept on disk."""
    async with running_stack(e2e_fake, tmp_path) as stack:
        out = await stack.manager(MGR)
        signed_out = session_cookie(out)
        async with out.session.post(f"{stack.proxy_url}/auth/logout",
                                    data={"csrf": out.csrf}, allow_redirects=False) as r:
            assert r.status == 302
        kept = session_cookie(await stack.manager("mgr.oid@e2e.example"))
        settings = stack.settings
    # The proxy is stopped; the same configuration starts again.
    async with proxy_started_again(settings) as url:
        assert await _status_with(url, kept) == (200, 200)  # the control: same secret
        assert await _status_with(url, signed_out) == (401, 303)
    # And again (the file is read back, compacted, and still holds it).
    async with proxy_started_again(settings) as url:
        assert await _status_with(url, signed_out) == (401, 303)
        assert await _status_with(url, kept) == (200, 200)
