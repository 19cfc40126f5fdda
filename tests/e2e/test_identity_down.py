"""The identity platform down (every endpoint of the sign-in host failing): a sign-in ends in
a clear page, never a 500; managers already signed in, and scripts with a token, keep working
(their session is the proxy's, the app token and the tenant's keys are cached)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from e2e_checks import bearer_call, user_token
from e2e_support import Stack, running_stack, uid

from fake_graph.embedded import RunningFake
from fake_graph.faults import Fault

MGR = "mgr.upn@e2e.example"
STAFF2 = "staff2@e2e.example"
RESET = f"/api/v1/locations/north/staff/{uid(STAFF2)}/password"
EVERYTHING_BUT_GRAPH = re.compile(r"^/(?!v1\.0/)")


def identity_down(stack: Stack, status: int = 503, *, path: re.Pattern[str] | None = None
                  ) -> None:
    stack.fake.fake.faults.add(Fault(path=path or EVERYTHING_BUT_GRAPH, status=status))


@pytest.mark.parametrize("status", [500, 503, 504])
async def test_signed_in_managers_and_scripts_keep_working(stack: Stack, status: int) -> None:
    m = await stack.manager(MGR)
    token = await user_token(stack, MGR)
    assert (await bearer_call(stack, token, "GET", "/api/v1/me"))[0] == 200  # keys fetched
    seq = stack.fake.fake.recorder.last_seq
    identity_down(stack, status)
    status_, body, _ = await m.call("POST", RESET, {})
    assert status_ == 200, body
    assert stack.fake_user(STAFF2).password == body["temporaryPassword"]
    assert (await m.call("GET", "/api/v1/locations/north/staff"))[0] == 200
    assert (await bearer_call(stack, token, "GET", f"{RESET.rsplit('/', 1)[0]}"))[0] == 200
    faulted = [r for r in stack.fake.fake.recorder.since(seq)[0]
               if not r.path.startswith("/v1.0") and r.status == status]
    assert faulted == []  # none of it needed the identity platform


async def test_a_sign_in_ends_in_a_clear_page_when_the_token_endpoint_fails(
        stack: Stack) -> None:
    identity_down(stack, 503, path=re.compile(r"/oauth2/v2\.0/token$"))
    m = await stack.manager()
    last = await m.sign_in(MGR)
    text = await last.text()
    assert last.status == 503 and last.content_type == "text/html"
    assert "sign-in service cannot be reached" in text
    assert (await m.call("GET", "/api/v1/me"))[0] == 401
    records = [r for r in stack.audit() if r["event"] == "sign_in"]
    assert [(r["outcome"], r.get("reason")) for r in records] == \
        [("failed", "identity_unavailable")]


async def test_a_proxy_started_while_the_identity_platform_is_down(
        e2e_fake: RunningFake, tmp_path: Path) -> None:
    """No discovery document at start-up: sign-in says so clearly, and works once it is back."""
    def down() -> None:  # running_stack resets the fake before the proxy starts: re-add
        e2e_fake.fake.faults.add(Fault(path=EVERYTHING_BUT_GRAPH, status=503))

    e2e_fake.fake.on_reset.append(down)
    try:
        async with running_stack(e2e_fake, tmp_path,
                                 graph={"retry_budget_seconds": 0.3}) as stack:
            m = await stack.manager()
            async with m.session.get(f"{stack.proxy_url}/auth/login",
                                     allow_redirects=False) as resp:
                assert resp.status == 503 and resp.content_type == "text/html"
                assert "cannot be reached" in await resp.text()
            async with m.session.get(f"{stack.proxy_url}/readyz") as resp:
                assert resp.status == 503
            stack.fake.fake.faults.clear()
            # Back: the policy (its UPNs need Graph, so a token) loads at the next check.
            for _ in range(60):
                async with m.session.get(f"{stack.proxy_url}/readyz") as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("not ready within 6 s of the identity platform's return")
            await m.sign_in(MGR)
            assert (await m.call("GET", "/api/v1/me"))[0] == 200
    finally:
        e2e_fake.fake.on_reset.remove(down)
