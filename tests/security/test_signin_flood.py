"""Anonymous floods of the sign-in routes (findings of an outside penetration test):

- bogus callbacks (an unknown ``state``) are counted in ``/metrics``, never audited: anyone
  can send them, and an audit record each would let an outsider fill the audit disk;
- the sign-in limit per client address (or IPv6 /64) comes from
  ``[server] signin_attempts_per_minute`` and its 429 speaks of sign-ins;
- pending sign-ins are capped per address, so a flood pushes out only its own.

Client addresses are simulated with ``X-Forwarded-For`` from a trusted proxy (the peer,
127.0.0.1, is in ``trusted_proxies``), as in test_forwarded.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_support import Manager, Stack, running_stack

from fake_graph.embedded import RunningFake
from mystaff_proxy.stores.signin_flows import MAX_PENDING_PER_ADDRESS

from .support import authorize, callback, error_code, session_cookie, start_login

MGR = "mgr.upn@e2e.example"
LIMIT = 7


@pytest.fixture
async def limited(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(e2e_fake, tmp_path,
                             server={"signin_attempts_per_minute": LIMIT,
                                     "trusted_proxies": ["127.0.0.1/32"]}) as s:
        yield s


@pytest.fixture
async def behind_proxy(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(e2e_fake, tmp_path,
                             server={"trusted_proxies": ["127.0.0.1/32"]}) as s:
        yield s


async def _login(m: Manager, xff: str | None = None, accept: str = "text/html") -> int:
    headers = {"Accept": accept}
    if xff is not None:
        headers["X-Forwarded-For"] = xff
    return (await start_login(m, headers=headers)).status


async def _metric(m: Manager, name: str) -> float:
    async with m.session.get(m.proxy_url + "/metrics") as resp:
        text = await resp.text()
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


# -- bogus callbacks ---------------------------------------------------------------------------

async def test_bogus_callbacks_are_counted_not_audited(stack: Stack) -> None:
    m = await stack.manager()
    before = await _metric(m, "mystaff_signin_unknown_state_total")
    queries = [f"state=x{i}&code=y" for i in range(200)] + ["code=y", "state=", ""]
    for query in queries:
        resp = await callback(m, f"{stack.proxy_url}/auth/callback?{query}")
        assert resp.status == 400
    assert stack.audit() == []
    assert await _metric(m, "mystaff_signin_unknown_state_total") == before + len(queries)
    # A genuine sign-in is audited as before.
    await m.sign_in(MGR)
    assert [(r["event"], r["outcome"]) for r in stack.audit()] == [("sign_in", "success")]


# -- the per-address sign-in limit -------------------------------------------------------------

async def test_the_sign_in_limit_comes_from_the_configuration_and_speaks_of_sign_ins(
        limited: Stack) -> None:
    m = await limited.manager()
    assert [await _login(m) for _ in range(LIMIT)] == [302] * LIMIT
    resp = await start_login(m, headers={"Accept": "text/html"})
    page = await resp.text()
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert "Too many sign-ins from your network" in page
    assert "change" not in page.lower()  # neither "too many changes" nor "nothing was changed"
    # A script asking for JSON gets the API's error body, in the same words.
    async with m.session.get(limited.proxy_url + "/auth/login",
                             headers={"Accept": "application/json"},
                             allow_redirects=False) as api:
        body = await api.json()
        assert api.status == 429 and int(api.headers["Retry-After"]) >= 1
    assert error_code(body) == "rate_limited"
    assert body["error"]["message"].startswith("Too many sign-ins from your network")
    # Another address has its own budget.
    assert await _login(m, xff="203.0.113.77") == 302


async def test_an_ipv6_client_counts_as_its_whole_64(limited: Stack) -> None:
    m = await limited.manager()
    statuses = [await _login(m, xff=f"2001:db8:5:1::{i + 1:x}") for i in range(LIMIT)]
    assert statuses == [302] * LIMIT
    assert await _login(m, xff="2001:db8:5:1:ffff:ffff:ffff:ffff") == 429
    assert await _login(m, xff="2001:db8:5:2::1") == 302  # the next /64


async def test_a_limit_of_zero_turns_it_off(e2e_fake: RunningFake, tmp_path: Path) -> None:
    async with running_stack(e2e_fake, tmp_path,
                             server={"signin_attempts_per_minute": 0}) as stack:
        m = await stack.manager()
        assert {await _login(m) for _ in range(40)} == {302}


# -- pending sign-ins ----------------------------------------------------------------------------

async def test_a_flood_from_one_address_pushes_out_only_its_own_sign_ins(
        behind_proxy: Stack) -> None:
    stack = behind_proxy
    flooded, elsewhere = "198.51.100.7", "203.0.113.9"
    same = await stack.manager()  # a manager behind the flooder's address
    same_url = await authorize(same, (await start_login(
        same, headers={"X-Forwarded-For": flooded})).headers["Location"], MGR)
    other = await stack.manager()
    other_url = await authorize(other, (await start_login(
        other, headers={"X-Forwarded-For": elsewhere})).headers["Location"], MGR)
    flooder = await stack.manager()
    statuses = {await _login(flooder, xff=flooded) for _ in range(MAX_PENDING_PER_ADDRESS)}
    assert statuses == {302}
    # The sign-in begun elsewhere completes; the one behind the flooding address was the
    # oldest there and was dropped (that address's own problem, not everyone's).
    assert (await callback(other, other_url)).status == 302
    assert session_cookie(other, stack) is not None
    assert (await callback(same, same_url)).status == 400
    assert session_cookie(same, stack) is None


async def test_a_flood_from_hundreds_of_addresses_leaves_sign_in_working(
        behind_proxy: Stack) -> None:
    flooder = await behind_proxy.manager()
    for i in range(300):
        for _ in range(3):
            assert await _login(flooder, xff=f"198.51.{100 + i // 256}.{i % 256}") == 302
    m = await behind_proxy.manager(MGR)
    assert (await m.call("GET", "/api/v1/me"))[0] == 200
