"""The post-sign-in redirect, through the real ``/auth/login?next=…`` → fake sign-in → callback.

``tests/proxy/auth/test_redirects.py`` runs all 559 public payloads through ``safe_next`` itself;
these tests prove the wiring: whatever ``next`` the login link carries, the callback's
``Location`` is on the proxy's own origin. Each payload is sent twice: as a query value
(the server sees exactly the line) and raw in the URL, as an attacker's link would put it
(the server sees the line after one round of percent-decoding).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from e2e_support import Manager, Stack, running_stack
from yarl import URL

from fake_graph.embedded import RunningFake

from .support import authorize, callback, is_own_origin, session_cookie

PAYLOADS = (Path(__file__).resolve().parents[1] / "data" / "openredirects.txt") \
    .read_text(encoding="utf-8").splitlines()

# Our own table, the tricks that matter for a "same-origin path" check, with the proxy's own
# host (127.0.0.1) as the look-alike: each must land on "/" exactly.
OWN_TABLE = [
    "//evil.example", "///evil.example", "////evil.example/", "//evil.example/%2e%2e",
    "/\\evil.example", "\\\\evil.example", "/\\/evil.example", "/\\\\evil.example",
    "/%2f/evil.example", "/%2F%2Fevil.example", "/%5c/evil.example", "/%5Cevil.example",
    "/%252f%252fevil.example", "/%25252f%25252fevil.example",
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\x0b/evil.example",
    "/\x0c/evil.example", "/ /evil.example", "/\x00/evil.example", "/\x7f/evil.example",
    "/%09/evil.example", "/%0a/evil.example", "/%0d%0a/evil.example", "/%00/evil.example",
    "/%20/evil.example", "/%7f/evil.example",
    "/./../evil.example", "/..//evil.example", "/.%2e/evil.example", "/%2e%2e/%2e%2e/x",
    "/a/../..//evil.example",
    "//user:pass@evil.example", "/@evil.example", "/user@evil.example/",
    "//127.0.0.1@evil.example", "//127.0.0.1.evil.example", "//127.0.0.1%40evil.example",
    "/127.0.0.1:1@evil.example", "https://127.0.0.1.evil.example/",
    "https://evil.example", "http:evil.example", "https:/evil.example", "https:\\\\evil.example",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "/javascript:alert(1)",
    "java%0d%0ascript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)", "\u3002evil.example", "//evil\u3002example", "/\u2215\u2215evil.example",
    "/\uff0f\uff0fevil.example", "/%E2%80%AE/evil", "%2f%2fevil.example", "evil.example",
    " /locations", "/locations\\..\\..\\evil", "/" + "a" * 2000,
]

# Local targets that must be kept as they are: without them a wiring that drops ``next``
# altogether would pass the table above.
KEPT = ["/locations/north", "/locations/north?search=sam&top=25", "/locations/north#staff"]


@pytest.fixture
async def proxied_stack(e2e_fake: RunningFake, tmp_path: Path) -> Any:
    """A proxy behind a trusted loopback proxy, so each sign-in can come from its own client
    address (X-Forwarded-For) and the sign-in rate limit (30/min per address) stays out of
    the way of hundreds of sign-ins."""
    async with running_stack(e2e_fake, tmp_path,
                             server={"trusted_proxies": ["127.0.0.1/32"]}) as s:
        yield s


class _Signer:
    def __init__(self, stack: Stack, m: Manager) -> None:
        self.stack, self.m, self.n = stack, m, 0

    async def land(self, login_url: URL) -> str:
        """Sign in through ``login_url``; the Location the callback sends the browser to."""
        self.n += 1
        xff = f"10.{self.n // 65536 % 256}.{self.n // 256 % 256}.{self.n % 256}"
        resp = await self.m.session.get(login_url, allow_redirects=False,
                                        headers={"X-Forwarded-For": xff})
        body = await resp.text()
        assert resp.status == 302, (login_url, body[:300])
        auth_url = resp.headers["Location"]
        assert auth_url.startswith(self.stack.fake_url + "/")
        back = await callback(self.m, await authorize(self.m, auth_url, "mgr.upn@e2e.example"))
        assert back.status == 302, await back.text()
        assert session_cookie(self.m, self.stack)  # really signed in
        return back.headers["Location"]


def _as_value(stack: Stack, payload: str) -> URL:
    return URL(stack.proxy_url + "/auth/login").with_query({"next": payload})


def _raw(stack: Stack, payload: str) -> URL | None:
    """The payload pasted into the link as is (non-ASCII percent-encoded, as a browser sends
    it); None if no HTTP client could send it."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or c in "#" for c in payload):
        return None
    link = "".join(c if c.isascii() else quote(c) for c in payload)
    try:
        return URL(stack.proxy_url + "/auth/login?next=" + link, encoded=True)
    except ValueError:
        return None


async def test_all_public_open_redirect_payloads_land_on_our_origin(proxied_stack: Stack) -> None:
    stack = proxied_stack
    signer = _Signer(stack, await stack.manager())
    escaped = []
    sent_raw = 0
    for payload in PAYLOADS:
        raw = _raw(stack, payload)
        sent_raw += raw is not None
        for url in (_as_value(stack, payload), raw):
            if url is None:
                continue
            location = await signer.land(url)
            if not (location.startswith(stack.proxy_url + "/") and is_own_origin(stack,
                                                                               location)):
                escaped.append((payload, str(url), location))
    assert not escaped, escaped[:20]
    assert len(PAYLOADS) == 559
    assert sent_raw > 500  # nearly every line also went out raw


async def test_own_tricks_land_on_the_home_page(proxied_stack: Stack) -> None:
    stack = proxied_stack
    signer = _Signer(stack, await stack.manager())
    wrong = []
    for payload in OWN_TABLE:
        location = await signer.land(_as_value(stack, payload))
        if location != stack.proxy_url + "/":
            wrong.append((payload, location))
        raw = _raw(stack, payload)
        if raw is not None:
            location = await signer.land(raw)
            if not (location.startswith(stack.proxy_url + "/") and is_own_origin(stack,
                                                                               location)):
                wrong.append((payload, location))
    assert not wrong


async def test_local_targets_are_kept_through_the_flow(proxied_stack: Stack) -> None:
    stack = proxied_stack
    signer = _Signer(stack, await stack.manager())
    for target in KEPT:
        assert await signer.land(_as_value(stack, target)) == stack.proxy_url + target


async def test_missing_next_lands_on_the_home_page(stack: Stack) -> None:
    m = await stack.manager()
    resp = await m.session.get(stack.proxy_url + "/auth/login", allow_redirects=False)
    back = await callback(m, await authorize(m, resp.headers["Location"],
                                             "mgr.upn@e2e.example"))
    assert back.headers["Location"] == stack.proxy_url + "/"
