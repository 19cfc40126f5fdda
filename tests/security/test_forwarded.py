"""``X-Forwarded-*`` honoured only from ``trusted_proxies``, shown by the sign-in rate limit
(``[server] signin_attempts_per_minute`` per client address, here a low one): which address
a request was counted against.
And the proxy's own origin (redirects, cookie flags, HSTS) comes from ``public_url`` only,
never from ``Host`` or ``X-Forwarded-Host/Proto``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_support import Manager, Stack, running_stack

from fake_graph.embedded import RunningFake

from .support import authorize, callback

LIMIT = 12  # sign-in starts a minute per address, so that each test stays short


async def _login(m: Manager, xff: str | None = None, **extra: str) -> int:
    headers = dict(extra)
    if xff is not None:
        headers["X-Forwarded-For"] = xff
    resp = await m.session.get(m.proxy_url + "/auth/login", headers=headers,
                               allow_redirects=False)
    text = await resp.text()
    if resp.status == 429:
        assert "Too many sign-ins" in text and int(resp.headers["Retry-After"]) >= 1
    return resp.status


@pytest.fixture
async def limited(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(e2e_fake, tmp_path,
                             server={"signin_attempts_per_minute": LIMIT}) as s:
        yield s


@pytest.fixture
async def behind_proxy(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(e2e_fake, tmp_path,
                             server={"trusted_proxies": ["127.0.0.1/32", "10.9.0.0/16"],
                                     "signin_attempts_per_minute": LIMIT}) as s:
        yield s


@pytest.fixture
async def other_proxy_trusted(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(e2e_fake, tmp_path,
                             server={"trusted_proxies": ["192.0.2.0/24"],
                                     "signin_attempts_per_minute": LIMIT}) as s:
        yield s


async def test_sign_in_attempts_are_limited_per_client_address(limited: Stack) -> None:
    m = await limited.manager()
    statuses = [await _login(m) for _ in range(LIMIT)]
    assert statuses == [302] * LIMIT
    assert await _login(m) == 429
    # The limit is on starting sign-ins; a signed-in manager keeps working.


async def test_forwarded_for_is_ignored_without_trusted_proxies(limited: Stack) -> None:
    m = await limited.manager()
    # A client inventing a new address for every attempt still has one budget: its own.
    statuses = [await _login(m, xff=f"203.0.113.{i}") for i in range(LIMIT)]
    assert statuses == [302] * LIMIT
    assert await _login(m, xff="198.51.100.7") == 429
    assert await _login(m) == 429


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(other_proxy_trusted: Stack) -> None:
    m = await other_proxy_trusted.manager()  # the peer is 127.0.0.1, not in 192.0.2.0/24
    statuses = [await _login(m, xff=f"203.0.113.{i}") for i in range(LIMIT)]
    assert statuses == [302] * LIMIT
    assert await _login(m, xff="198.51.100.7") == 429


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(behind_proxy: Stack) -> None:
    m = await behind_proxy.manager()
    statuses = [await _login(m, xff="203.0.113.5") for _ in range(LIMIT)]
    assert statuses == [302] * LIMIT
    assert await _login(m, xff="203.0.113.5") == 429
    # Another client behind the same proxy has its own budget...
    assert await _login(m, xff="203.0.113.6") == 302
    # ...and the proxy itself (no header) too.
    assert await _login(m) == 302
    # The right-most untrusted hop counts: a client prepending a made-up address to the
    # header (its real address is appended by the proxies) does not escape its limit.
    assert await _login(m, xff="198.51.100.99, 203.0.113.5") == 429
    assert await _login(m, xff="198.51.100.99, 203.0.113.5, 10.9.1.1") == 429
    # Garbage in the header falls back to the peer's address, never to the garbage.
    for junk in ("not-an-ip", "203.0.113.5<script>", "::ffff:zzz"):
        assert await _login(m, xff=junk) == 302
    # Only the peer (127.0.0.1) had that many attempts left; it is not unlimited either.
    left = [await _login(m, xff="evil") for _ in range(LIMIT)]
    assert left.count(429) >= 1


async def test_own_origin_comes_from_public_url_not_from_headers(behind_proxy: Stack) -> None:
    stack = behind_proxy
    m = await stack.manager()
    spoof = {"Host": "evil.example", "X-Forwarded-Host": "evil.example",
             "X-Forwarded-Proto": "https", "Forwarded": "host=evil.example;proto=https"}
    resp = await m.session.get(stack.proxy_url + "/auth/login?next=/locations/north",
                               headers=spoof, allow_redirects=False)
    assert resp.status == 302
    # The authorize request names our registered redirect URI, not the spoofed host.
    assert "redirect_uri=" + stack.proxy_url.replace(":", "%3A").replace("/", "%2F") \
        in resp.headers["Location"]
    # X-Forwarded-Proto: https from a trusted proxy does not turn on Secure or HSTS for a
    # plain-http public_url (a browser would drop Secure cookies there)...
    assert "Strict-Transport-Security" not in resp.headers
    assert not resp.cookies["mystaff-signin"]["secure"]
    url = await authorize(m, resp.headers["Location"], "mgr.upn@e2e.example")
    back = await m.session.get(url, headers=spoof, allow_redirects=False)
    assert back.status == 302
    assert back.headers["Location"] == stack.proxy_url + "/locations/north"
    # ...and the session cookie has the configured name and flags.
    assert back.cookies["mystaff"]["secure"] == ""
    assert "evil.example" not in str(back.headers)
    back2 = await callback(m, url)  # replay: refused whatever the headers
    assert back2.status == 400
