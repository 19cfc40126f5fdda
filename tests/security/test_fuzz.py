"""Fuzzing the live proxy (a signed-in manager's cookie and CSRF token, the real fake tenant)
with what no client should send: odd and made-up methods, huge and repeated headers, control
characters and percent-encoded line breaks in paths and ids, overlong paths, deep JSON,
bodies that are not UTF-8, duplicate or conflicting lengths. Two parts: raw bytes on a
socket (what an HTTP client library would refuse to send) and hypothesis-generated API and
page requests. Whatever arrives, the answer is never a 5xx, and nothing changes in the
tenant: no password, no phone, and no change record in the audit log but refusals.

Deterministic (hypothesis derandomized, no example database) and quick (a few seconds).
(The schema-driven pass is test_schemathesis.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from e2e_support import Manager, Stack, uid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fake_graph.embedded import RunningFake

from .support import ThreadedStack

MGR = "mgr.upn@e2e.example"
STAFF = ["staff1@e2e.example", "staff2@e2e.example", "staff3@e2e.example", "ceo@e2e.example",
         "south1@e2e.example", "mgr.upn@e2e.example"]
STAFF1 = uid("staff1@e2e.example")
SOUTH1 = uid("south1@e2e.example")  # not a member of north: every change is not_found
BENT = [STAFF1 + "%0A", STAFF1 + "%00", STAFF1 + "%0D%0A", "%0A" + STAFF1, STAFF1 + "%E2%80%A8",
        STAFF1 + "%C0%AF", STAFF1[:-1], STAFF1 + "0", STAFF1.replace("-", ""), "%FF%FE",
        "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "x" * 300, "%25" * 50, "{userId}", "\u00e9"]


def _tenant(stack: Stack) -> Any:
    out = []
    for upn in STAFF:
        user = stack.fake_user(upn)
        out.append((upn, user.password, user.force_change_password_next_sign_in,
                    sorted((t, p.number) for t, p in user.phones.items())))
    return out


def _changes_made(stack: Stack) -> list[dict[str, Any]]:
    """Audit records of anything done (not refused): there must be none."""
    return [r for r in stack.audit() if r["event"] not in ("sign_in", "sign_out")
            and r["outcome"] != "denied"]


@pytest.fixture
async def signed_in(stack: Stack) -> AsyncIterator[tuple[Stack, Manager, str]]:
    m = await stack.manager(MGR)
    cookie = next(f"{c.key}={c.value}" for c in m.session.cookie_jar
                  if c.key == stack.settings.session.cookie_name)
    yield stack, m, cookie


# -- raw bytes on a socket --------------------------------------------------------------------

async def _raw(stack: Stack, data: bytes) -> bytes:
    """Send ``data`` as it is; the status line of the answer (b"" if the server just closed)."""
    parts = urlsplit(stack.proxy_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(data)
        await writer.drain()
        head = await asyncio.wait_for(reader.readline(), 10)
    except (ConnectionResetError, BrokenPipeError):
        head = b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await writer.wait_closed()
    return head


def _request(method: bytes, path: bytes, headers: list[bytes], body: bytes = b"") -> bytes:
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: proxy", b"Connection: close",
             *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _raw_cases(cookie: str, csrf: str) -> list[bytes]:
    auth = [f"Cookie: {cookie}".encode(), f"X-CSRF-Token: {csrf}".encode()]
    json_ct = b"Content-Type: application/json"
    api = f"/api/v1/locations/north/staff/{STAFF1}".encode()
    page = f"/locations/north/staff/{STAFF1}".encode()
    body = b'{"phoneType":"office","phoneNumber":"+1 2065550177"}'
    cases = []
    for method in (b"PROPFIND", b"MKCOL", b"TRACE", b"OPTIONS", b"HEAD", b"PUT", b"PATCH",
                   b"DELETE", b"BREW", b"get", b"G\xc3\x89T", b"CONNECT"):
        for path in (api, api + b"/password", page + b"/password", b"/auth/logout",
                     b"/metrics", b"/", b"*"):
            cases.append(_request(method, path, auth))
    for path in (api + b"%0A", api + b"%00/password", api + b"\x00", api + b"\r/password",
                 b"/api/v1/locations/no%0Arth/staff", b"/locations/%00", page + b"%0A/password",
                 b"/" + b"a" * 8000, b"/api/v1/" + b"x/" * 3000, b"/%" + b"%" * 100,
                 b"/api/v1/locations/north/staff?search=%00&top=-1",
                 b"/api/v1/locations/north/staff?top=99999999999999999999999&cursor=%0A",
                 b"/api/v1/locations/north/staff?search=" + b"%E2%80%A8" * 30,
                 b"/static/..%2f..%2fapp.py", b"/auth/login?next=%0D%0ASet-Cookie:x=1",
                 b"/auth/callback?state=%00&code=" + b"A" * 4000):
        cases.append(_request(b"GET", path, auth))
        cases.append(_request(b"POST", path, [*auth, json_ct, b"Content-Length: 2"], b"{}"))
    deep = b"[" * 16000 + b"]" * 16000
    for payload in (deep, b'{"password":"\xff\xfe"}', b"\xff" * 100, b'{"a":1,"a":2}',
                    b'{"phoneType":"office","phoneNumber":"' + b"9" * 5000 + b'"}', b"null",
                    b"[]", b'"x"', b"1e999999", b'{"password":' + b"1" * 5000 + b"}"):
        for path in (api + b"/password", api + b"/phone-methods"):
            cases.append(_request(b"POST", path, [
                *auth, json_ct, f"Content-Length: {len(payload)}".encode()], payload))
    form = b"application/x-www-form-urlencoded"
    for ctype, payload in ((form, b"csrf=" + csrf.encode() + b"&mode=\xff"),
                           (form + b"; charset=bogus", b"csrf=x"),
                           (b"multipart/form-data", b"--x\r\n"),
                           (b"multipart/form-data; boundary=x", b"--x\r\nbroken"),
                           (b"text/plain", b"csrf=" + csrf.encode())):
        for path in (page + b"/password", page + b"/phones/add", b"/auth/logout"):
            cases.append(_request(b"POST", path, [
                *auth, b"Content-Type: " + ctype, f"Content-Length: {len(payload)}".encode()],
                payload))
    for headers in (
            [b"Content-Length: 4", b"Content-Length: 40"],  # duplicate, different
            [b"Content-Length: 4", b"Content-Length: 4"],
            [b"Content-Length: 4", b"Transfer-Encoding: chunked"],
            [b"Content-Length: -1"], [b"Content-Length: 1e3"], [b"Content-Length: 99999999999"],
            [b"Transfer-Encoding: chunked, identity"], [b"Transfer-Encoding: gzip"],
            [b"X-Big: " + b"a" * 9000], [b"X-Many: a"] * 200, [b"Cookie: " + b"c" * 8000],
            [b"Authorization: Bearer " + b"e" * 8000], [b"Authorization: Bearer \x01\x02"],
            [b"Authorization: Bearer eyJ" + b"W" * 400 + b".e30.x"], [b"X-CSRF-Token: \xff"],
            [b"X-Forwarded-For: \x00, ::, 999.1.1.1"], [b"Host: \xff"], [b"No-Colon-Here"],
            [b" Folded: header"], [b"Accept-Language: " + b"x;q=1," * 1000]):
        cases.append(_request(b"POST", api + b"/password", [*auth, json_ct, *headers], body))
    cases.append(b"POST " + api + b"/password HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                 b"\r\n" + auth[0] + b"\r\n" + auth[1] + b"\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
    cases.append(b"GET / HTTP/9.9\r\nHost: x\r\n\r\n")
    cases.append(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64)  # TLS hello
    cases.append(b"GET /\r\n\r\n")  # HTTP/0.9
    return cases


async def test_raw_requests_never_get_a_server_error(
        signed_in: tuple[Stack, Manager, str]) -> None:
    stack, m, cookie = signed_in
    before = _tenant(stack)
    statuses: dict[bytes, int] = {}
    for case in _raw_cases(cookie, m.csrf):
        head = await _raw(stack, case)
        status = head.split(b" ")[1] if head.startswith(b"HTTP/") else b"closed"
        statuses[status] = statuses.get(status, 0) + 1
        assert not status.startswith(b"5"), (case[:200], head)
    print("RAW", sorted(statuses.items()))
    assert statuses.get(b"404", 0) > 5 and statuses.get(b"400", 0) > 5  # reached both layers
    assert _tenant(stack) == before
    assert _changes_made(stack) == []
    status, _, _ = await m.call("GET", "/healthz")  # still serving (one case signed m out)
    assert status == 200


# -- generated requests -----------------------------------------------------------------------

_SEGMENT = st.one_of(
    st.sampled_from(["north", "south", "nowhere", "North", "north%0A", "%00", "", "north%2F..",
                     "n" * 200, "%E2%80%AE", "north\u2028"]),
    st.text(st.characters(codec="utf-8"), max_size=20).map(lambda s: quote(s, safe="")))
_USER = st.one_of(st.sampled_from([*BENT, SOUTH1, uid("nobody.there@e2e.example")]),
                  st.text(max_size=40).map(lambda s: quote(s, safe="")))
_JSON: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["password", "phoneType", "phoneNumber", "region", "x", ""]), inner,
        max_size=4), max_leaves=12)
_BODY = st.one_of(_JSON.map(lambda v: json.dumps(v).encode()),
                  st.binary(max_size=200),
                  st.integers(1, 40).map(lambda n: b"[" * (n * 100) + b"]" * (n * 100)))
_ROUTE = st.sampled_from([
    ("GET", "/api/v1/locations/{loc}/staff/{user}"), ("GET", "/api/v1/locations/{loc}/staff"),
    ("POST", "/api/v1/locations/{loc}/staff/{user}/password"),
    ("POST", "/api/v1/locations/{loc}/staff/{user}/phone-methods"),
    ("PATCH", "/api/v1/locations/{loc}/staff/{user}/phone-methods/{phone}"),
    ("DELETE", "/api/v1/locations/{loc}/staff/{user}/phone-methods/{phone}"),
    ("GET", "/locations/{loc}/staff/{user}"), ("POST", "/locations/{loc}/staff/{user}/password"),
    ("POST", "/locations/{loc}/staff/{user}/phones/add"),
    ("POST", "/locations/{loc}/staff/{user}/phones/{phone}/edit"),
    ("POST", "/locations/{loc}/staff/{user}/phones/{phone}/remove"),
    ("GET", "/locations/{loc}"), ("PUT", "/api/v1/locations/{loc}/staff/{user}/password"),
])
_CTYPE = st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                          "multipart/form-data", "text/plain", "application/json; charset=latin-1",
                          "", "application/json; charset=bogus"])


def test_generated_requests_never_get_a_server_error(e2e_fake: RunningFake,
                                                     tmp_path: Path) -> None:
    """Hypothesis picks the route, the location, the id, the body and its content type; the
    ids are never one of the location's people (a valid request would really change them)."""
    with ThreadedStack(e2e_fake, tmp_path, MGR) as live, requests.Session() as http:
        assert live.stack is not None
        stack = live.stack
        http.cookies.update(live.cookies)
        http.trust_env = False
        before = _tenant(stack)
        seen: dict[int, int] = {}

        @settings(max_examples=150, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(route=_ROUTE, loc=_SEGMENT, user=_USER, body=_BODY, ctype=_CTYPE,
               phone=st.sampled_from(["mobile", "office", "alternateMobile", "fax", "%0A", ""]))
        def fuzz(route: tuple[str, str], loc: str, user: str, body: bytes, ctype: str,
                 phone: str) -> None:
            method, template = route
            path = template.format(loc=loc or "north", user=user or "x", phone=phone or "x")
            headers = {"X-CSRF-Token": live.csrf}
            if ctype:
                headers["Content-Type"] = ctype
            resp = http.request(method, stack.proxy_url + path, data=body, headers=headers,
                                allow_redirects=False, timeout=30)
            seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
            assert resp.status_code < 500, (method, path, body[:100], ctype, resp.status_code,
                                            resp.text[:300])

        fuzz()
        print("GENERATED", sorted(seen.items()))
        assert seen.get(404, 0) > 10
        assert _tenant(stack) == before
        assert _changes_made(stack) == []
