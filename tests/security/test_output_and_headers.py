"""Hostile names and UPNs from the directory in every page and API answer (JSON strings in
the API, escaped text in pages, never markup), and the security headers on every kind of
answer (CSP with ``frame-ancestors 'none'``, nosniff, Referrer-Policy, no-store on the API,
HSTS only over https, no CORS)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from e2e_support import Manager, Stack, running_stack, uid

from fake_graph.embedded import RunningFake

from .support import error_code

MGR = "mgr.upn@e2e.example"
HOSTILE_NAME = "<img src=x onerror=alert(1)>"  # staff3's displayName in the tenant file
# Set on other directory objects at the start of a test (the fake is reset for each stack).
ME_NAME = "<b onmouseover=alert('me')>Mona</b>"
S1_NAME = '"><script>alert("dn")</script>'
S1_TITLE = "</title><svg/onload=alert('jt')>{{7*7}}"
S1_MAIL = 'x"onfocus="alert(1)"@e2e.example'
S1_UPN = "o'hara\"><iframe/src=javascript:alert(2)>@e2e.example"
AU_NAME = "<script>alert('au')</script>"
SEARCH = "<script>alert(9)</script>"
RAW_MARKERS = ["<img src=x", "<script>alert", "<svg/onload", "<iframe", "<b onmouseover",
               'onfocus="alert', "'><iframe", "alert('me')>"]


def _hostile_tenant(fake: RunningFake) -> None:
    directory = fake.fake.directory
    me, s1 = directory.find_user(MGR), directory.find_user("staff1@e2e.example")
    assert me is not None and s1 is not None
    me.display_name = ME_NAME
    s1.display_name, s1.job_title, s1.mail = S1_NAME, S1_TITLE, S1_MAIL
    s1.user_principal_name = S1_UPN
    directory.add_user(s1)
    south = directory.administrative_units["a0000000-0000-4000-8000-00000000000b"]
    south.display_name = AU_NAME


@pytest.fixture
async def hostile(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    """A stack whose tenant is made hostile right after its reset, before the proxy starts
    (so names the proxy reads at start-up, such as a location's AU name, are hostile too)."""
    def hook() -> None:
        _hostile_tenant(e2e_fake)

    e2e_fake.fake.on_reset.append(hook)
    try:
        async with running_stack(e2e_fake, tmp_path) as s:
            yield s
    finally:
        e2e_fake.fake.on_reset.remove(hook)
        e2e_fake.fake.reset()


def _assert_no_markup(where: str, html: str) -> None:
    # Our own templates use none of these; any of them is directory data unescaped.
    for marker in RAW_MARKERS:
        assert marker not in html, (where, marker)


async def _page(m: Manager, path: str, *, method: str = "GET",
                data: dict[str, str] | None = None) -> str:
    resp = await m.session.request(method, m.proxy_url + path, data=data, allow_redirects=False)
    html = await resp.text()
    assert resp.status in (200, 303, 400, 403, 404), (path, resp.status)
    if html:
        assert resp.content_type == "text/html" and resp.charset == "utf-8", path
    _assert_no_markup(path, html)
    return html


async def test_hostile_directory_data_is_text_in_every_page(hostile: Stack) -> None:
    stack = hostile
    m = await stack.manager(MGR)
    s1, s3 = uid("staff1@e2e.example"), uid("staff3@e2e.example")
    shown = ""
    for path in ["/locations/north", f"/locations/north?search={SEARCH}",
                 f"/locations/north/staff/{s1}", f"/locations/north/staff/{s3}",
                 f"/locations/north/staff/{s1}/password", f"/locations/north/staff/{s3}/password",
                 f"/locations/north/staff/{s1}/phones/add",
                 f"/locations/north/staff/{s1}/phones/mobile/edit",
                 f"/locations/north/staff/{s1}/phones/mobile/remove",
                 f"/locations/{quote(AU_NAME, safe='')}", f"/locations/{AU_NAME}",
                 f"/locations/north/staff/{quote(S1_UPN, safe='')}",
                 f"/{SEARCH}"]:
        shown += await _page(m, path)
    # Forms answered with an error show the typed value back: escaped too.
    shown += await _page(m, f"/locations/north/staff/{s1}/phones/add", method="POST",
                         data={"csrf": m.csrf, "phoneType": "office", "phoneNumber": SEARCH})
    shown += await _page(m, f"/locations/north/staff/{s3}/password", method="POST",
                         data={"csrf": m.csrf, "mode": "generate"})
    # The data really was on the pages, as text (so the checks above could fail).
    for value in (HOSTILE_NAME, S1_NAME, S1_TITLE, S1_UPN, ME_NAME, SEARCH):
        escaped = (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   .replace('"', "&#34;").replace("'", "&#39;"))
        assert escaped in shown, value
    assert "{{7*7}}" in shown.replace("&#39;", "'")  # shown, never evaluated as a template
    viewer = await stack.manager("viewer@e2e.example")  # manages north and south
    locations = await _page(viewer, "/locations")
    assert "&lt;script&gt;alert(&#39;au&#39;)&lt;/script&gt;" in locations


async def test_hostile_directory_data_is_a_json_string_in_every_api_answer(
        hostile: Stack) -> None:
    stack = hostile
    m = await stack.manager(MGR)
    s1, s3 = uid("staff1@e2e.example"), uid("staff3@e2e.example")
    answers: list[tuple[str, Any]] = []

    async def call(method: str, path: str, body: Any = None) -> Any:
        async with m.session.request(method, m.proxy_url + path, allow_redirects=False,
                                     data=None if body is None else json.dumps(body),
                                     headers={"X-CSRF-Token": m.csrf,
                                              "Content-Type": "application/json"}) as resp:
            raw = await resp.read()
            assert resp.headers["Content-Type"] == "application/json; charset=utf-8", path
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["Cache-Control"] == "no-store"
            data = json.loads(raw) if raw else None
            answers.append((path, data))
            return data

    me = await call("GET", "/api/v1/me")
    assert me["displayName"] == ME_NAME
    listing = await call("GET", "/api/v1/locations/north/staff?top=100")
    by_id = {s["id"]: s for s in listing["value"]}
    assert by_id[s3]["displayName"] == HOSTILE_NAME
    assert (by_id[s1]["displayName"], by_id[s1]["userPrincipalName"],
            by_id[s1]["jobTitle"]) == (S1_NAME, S1_UPN, S1_TITLE)
    searched = await call("GET", "/api/v1/locations/north/staff?search=%3Cimg")
    assert [s["id"] for s in searched["value"]] == [s3]
    profile = await call("GET", f"/api/v1/locations/north/staff/{s1}")
    assert (profile["displayName"], profile["mail"], profile["userPrincipalName"]) == (
        S1_NAME, S1_MAIL, S1_UPN)
    await call("GET", f"/api/v1/locations/north/staff/{s3}")
    await call("POST", f"/api/v1/locations/north/staff/{s3}/password", {})
    await call("POST", f"/api/v1/locations/north/staff/{s1}/phone-methods",
               {"phoneType": "office", "phoneNumber": SEARCH})
    await call("GET", f"/api/v1/locations/{quote(AU_NAME, safe='')}/staff")
    viewer = await stack.manager("viewer@e2e.example")
    status, locs, headers = await viewer.call("GET", "/api/v1/locations")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert {v["id"]: v["name"] for v in locs["value"]}["south"] == AU_NAME
    # Error answers never echo what was sent.
    for path, data in answers:
        if error_code(data):
            assert not any(marker in json.dumps(data) for marker in RAW_MARKERS), path


# -- security headers --------------------------------------------------------------------

def _check_headers(what: str, headers: Any, *, https: bool, api: bool) -> None:
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, what
    assert "default-src 'none'" in csp and "script-src 'self'" in csp, what
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp, what  # ASVS 3.4.3
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    # Forms post to the proxy, and sign-out goes on to the sign-in host: nowhere else.
    form_action = re.search(r"form-action ([^;]*)", csp)
    assert form_action is not None and form_action.group(1).split()[0] == "'self'", what
    assert all(src.startswith("https://127.0.0.1:") for src in form_action.group(1).split()[1:])
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "no-referrer", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", what
    assert headers.get("Cross-Origin-Resource-Policy") == "same-origin", what
    assert "Access-Control-Allow-Origin" not in headers, what
    assert "Access-Control-Allow-Credentials" not in headers, what
    hsts = headers.get("Strict-Transport-Security")
    if https:
        assert hsts is not None and hsts.startswith("max-age=31536000"), what
    else:
        assert hsts is None, what
    if api or not what.startswith("static"):
        assert headers.get("Cache-Control") == "no-store", what  # nothing personal is cached


def _kinds(stack_or_none: Stack | None) -> list[tuple[str, str, str, dict[str, str], Any, bool]]:
    """(what, method, path, headers, body, api) for every kind of answer."""
    s3 = uid("staff3@e2e.example")
    evil = {"Origin": "https://evil.example"}
    return [
        ("sign-in page", "GET", "/", {}, None, False),
        ("page", "GET", "/locations/north", {}, None, False),
        ("page redirect 303", "GET", "/locations", {}, None, False),
        ("error page 404", "GET", "/no/such/page", {}, None, False),
        ("error page csrf 403", "POST", "/auth/logout", {}, None, False),
        ("sign-in redirect 302", "GET", "/auth/login?next=/", {}, None, False),
        ("callback refused 400", "GET", "/auth/callback?state=x&code=y", {}, None, False),
        ("static asset", "GET", "/static/app.css", {}, None, False),
        ("static 404", "GET", "/static/nothing.css", {}, None, False),
        ("healthz", "GET", "/healthz", {}, None, False),
        ("readyz", "GET", "/readyz", {}, None, False),
        ("metrics", "GET", "/metrics", {}, None, False),
        ("api 200", "GET", "/api/v1/me", evil, None, True),
        ("api list", "GET", "/api/v1/locations/north/staff", {}, None, True),
        ("api 401", "GET", "/api/v1/me", {"Authorization": "Bearer x"}, None, True),
        ("api 403 csrf", "POST", f"/api/v1/locations/north/staff/{s3}/password",
         {"X-CSRF-Token": "x"}, {}, True),
        ("api 404", "GET", "/api/v1/locations/nowhere/staff", {}, None, True),
        ("api 400", "GET", "/api/v1/locations/north/staff?top=0", {}, None, True),
        ("api 200 change", "POST", f"/api/v1/locations/north/staff/{s3}/password",
         {}, {}, True),
        ("api 405", "PUT", "/api/v1/me", {}, None, True),
        ("api preflight", "OPTIONS", "/api/v1/me",
         {**evil, "Access-Control-Request-Method": "POST"}, None, True),
        ("api unknown route", "GET", "/api/v1/nothing", {}, None, True),
        ("openapi", "GET", "/api/v1/openapi.json", {}, None, True),
        ("api oversized body", "POST", f"/api/v1/locations/north/staff/{s3}/password",
         {}, "x" * (1024 * 1024), True),
    ]


async def test_security_headers_on_every_kind_of_answer(stack: Stack) -> None:
    m = await stack.manager(MGR)
    for what, method, path, headers, body, api in _kinds(stack):
        h = dict(headers)
        if method not in ("GET", "OPTIONS") and "X-CSRF-Token" not in h:
            h["X-CSRF-Token"] = m.csrf
        data = body if isinstance(body, str) else (None if body is None else json.dumps(body))
        async with m.session.request(method, stack.proxy_url + path, headers=h, data=data,
                                     allow_redirects=False) as resp:
            await resp.read()
            _check_headers(f"{what} ({resp.status})", resp.headers, https=False, api=api)
            if what == "static asset":
                assert (resp.status == 200 and "max-age" in resp.headers["Cache-Control"]) \
                    or resp.headers["Cache-Control"] == "no-cache"


async def test_security_headers_over_https(https_client: TestClient[Any, Any]) -> None:
    for what, method, path, headers, body, api in _kinds(None):
        if what in ("page", "api list", "api 200 change"):
            continue  # need a session; the https sign-in is in test_sessions_security
        data = body if isinstance(body, str) else (None if body is None else json.dumps(body))
        resp = await https_client.request(method, path, headers=headers, data=data,
                                          allow_redirects=False)
        await resp.read()
        _check_headers(f"{what} ({resp.status})", resp.headers, https=True, api=api)
