"""A manager disabled, deleted, or whose sessions IT revoked in Entra loses the proxy too
(standing.py): the session ends at the next request, a bearer token is refused, each audited
once; a failing check refuses (fail closed); the check is not a Graph call per request."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_checks import SCRIPT_CLIENT_ID, bearer_call, error_code, fetch_token, user_token
from e2e_support import Stack, client_ssl, running_stack, uid

from fake_graph.embedded import RunningFake
from fake_graph.faults import Fault

MGR = "mgr.upn@e2e.example"
STAFF2 = "staff2@e2e.example"
RESET = f"/api/v1/locations/north/staff/{uid(STAFF2)}/password"


@pytest.fixture
async def strict(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    """Every request asks Graph about the manager (account_recheck_seconds = 0)."""
    async with running_stack(e2e_fake, tmp_path, session={"account_recheck_seconds": 0}) as s:
        yield s


def ended(stack: Stack) -> list[dict[str, Any]]:
    return [r for r in stack.audit() if r.get("reason") == "unauthenticated"]


def manager_checks(stack: Stack, since: int) -> int:
    path = f"/v1.0/users/{uid(MGR)}"
    return sum(1 for r in stack.fake.fake.recorder.since(since)[0]
               if r.method == "GET" and r.path == path)


async def test_a_disabled_manager_is_signed_out_at_the_next_request(strict: Stack) -> None:
    m = await strict.manager(MGR)
    assert (await m.call("GET", "/api/v1/me"))[0] == 200
    strict.fake_user(MGR).account_enabled = False
    status, body, _ = await m.call("POST", RESET, {})
    assert (status, error_code(body)) == (401, "unauthenticated")
    assert strict.fake_user(STAFF2).password == "Staff2-Pass-1!"
    [record] = ended(strict)
    assert (record["event"], record["outcome"], record["detail"]) == \
        ("sign_out", "denied", {"why": "account_disabled"})
    assert record["actor"]["userPrincipalName"] == MGR
    # Enabled again, the old session stays ended (a new sign-in is needed), and is not
    # audited again: the ended session is simply unknown now.
    strict.fake_user(MGR).account_enabled = True
    assert (await m.call("GET", "/api/v1/me"))[0] == 401
    assert len(ended(strict)) == 1
    await m.sign_in(MGR)
    assert (await m.call("GET", "/api/v1/me"))[0] == 200


async def test_revoked_sessions_end_the_proxy_session_too(strict: Stack) -> None:
    m = await strict.manager(MGR)
    assert (await m.call("GET", "/api/v1/locations"))[0] == 200
    user = strict.fake_user(MGR)
    # IT clicks "Revoke sessions" a second after this sign-in (Graph keeps whole seconds).
    user.sign_in_sessions_valid_from = float(int(time.time()) + 1)
    status, body, _ = await m.call("GET", "/api/v1/locations")
    assert (status, error_code(body)) == (401, "unauthenticated")
    assert ended(strict)[0]["detail"] == {"why": "sessions_revoked"}
    # A sign-in after the revocation is good.
    await asyncio.sleep(max(0.0, user.sign_in_sessions_valid_from - time.time()) + 0.05)
    await m.sign_in(MGR)
    assert (await m.call("GET", "/api/v1/locations"))[0] == 200


async def test_a_deleted_manager_is_refused(strict: Stack) -> None:
    m = await strict.manager(MGR)
    del strict.fake.fake.directory.users[uid(MGR)]
    assert (await m.call("GET", "/api/v1/me"))[0] == 401
    assert ended(strict)[0]["detail"] == {"why": "account_deleted"}


async def test_the_page_sends_an_ended_session_to_sign_in(strict: Stack) -> None:
    m = await strict.manager(MGR)
    strict.fake_user(MGR).account_enabled = False
    async with m.session.get(f"{strict.proxy_url}/locations/north",
                             allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"].startswith("/auth/login?next=")
        assert "mystaff=;" in resp.headers.get("Set-Cookie", "").replace('""', "")
    async with m.session.get(f"{strict.proxy_url}/", allow_redirects=False) as resp:
        assert resp.status == 200 and "Sign in" in await resp.text()  # no session any more


async def test_a_bearer_token_of_a_disabled_manager_is_refused(strict: Stack) -> None:
    token = await user_token(strict, MGR)
    assert (await bearer_call(strict, token, "GET", "/api/v1/me"))[0] == 200
    strict.fake_user(MGR).account_enabled = False
    status, body, _ = await bearer_call(strict, token, "POST", RESET, {})
    assert (status, error_code(body)) == (401, "unauthenticated")
    assert strict.fake_user(STAFF2).password == "Staff2-Pass-1!"
    [record] = ended(strict)
    assert (record["event"], record["detail"]) == ("access_denied", {"why": "account_disabled"})


async def test_graph_failing_on_the_manager_check_refuses_and_changes_nothing(
        strict: Stack) -> None:
    m = await strict.manager(MGR)
    strict.fake.fake.faults.add(Fault(path=re.compile(rf"^/v1\.0/users/{uid(MGR)}$"),
                                      method="GET", status=500))
    status, body, _ = await m.call("POST", RESET, {})
    assert status == 503 and error_code(body) == "upstream_unavailable"
    assert strict.fake_user(STAFF2).password == "Staff2-Pass-1!"
    strict.fake.fake.faults.clear()
    assert (await m.call("POST", RESET, {}))[0] == 200  # the session itself is fine


async def test_the_check_costs_no_round_trip_right_after_sign_in(stack: Stack) -> None:
    """Default (60 s): the sign-in vouches for the account; requests in the next minute do
    not ask Graph about the manager. With 0, every request does (one GET)."""
    m = await stack.manager(MGR)
    seq = stack.fake.fake.recorder.last_seq
    for _ in range(3):
        assert (await m.call("GET", "/api/v1/locations"))[0] == 200
    assert manager_checks(stack, seq) == 0


async def test_with_recheck_zero_every_request_asks_graph(strict: Stack) -> None:
    m = await strict.manager(MGR)
    seq = strict.fake.fake.recorder.last_seq
    for _ in range(3):
        assert (await m.call("GET", "/api/v1/locations"))[0] == 200
    assert manager_checks(strict, seq) == 3


async def revoke_sessions(stack: Stack, upn: str) -> None:
    """IT's "Revoke sessions": ``POST /users/{id}/revokeSignInSessions`` on the fake's Graph,
    by an admin tool (the script app, given the permission it needs)."""
    stack.fake.fake.directory.applications[SCRIPT_CLIENT_ID].application_permissions.append(
        "User.RevokeSessions.All")
    token = (await fetch_token(stack, {"grant_type": "client_credentials",
                                       "scope": "https://graph.microsoft.com/.default"}))
    connector = aiohttp.TCPConnector(ssl=client_ssl(stack.fake.ca_file))
    async with aiohttp.ClientSession(connector=connector) as http, http.post(
            f"{stack.fake_url}/v1.0/users/{uid(upn)}/revokeSignInSessions",
            headers={"Authorization": f"Bearer {token['access_token']}"}) as resp:
        assert resp.status == 200, await resp.text()


async def test_a_new_sign_in_does_not_revive_revoked_sessions_or_tokens(stack: Stack) -> None:
    """Revocation is absolute. A sign-in primes the per-manager answer (default 60 s); it used
    to prime it with "no revocation", so after IT revoked a manager's sessions, each new
    sign-in of that manager made a stolen cookie or token good again (pen test #13)."""
    stolen = await stack.manager(MGR)
    token = await user_token(stack, MGR)
    assert (await stolen.call("GET", "/api/v1/me"))[0] == 200
    assert (await bearer_call(stack, token, "GET", "/api/v1/me"))[0] == 200
    await asyncio.sleep(1.05)  # Graph keeps whole seconds: revoked strictly after both
    await revoke_sessions(stack, MGR)
    seq = stack.fake.fake.recorder.last_seq
    for _ in range(2):  # the manager signs in again, twice, in another browser
        fresh = await stack.manager(MGR)
        assert (await fresh.call("GET", "/api/v1/locations"))[0] == 200
    assert manager_checks(stack, seq) == 0  # the new sessions still cost no Graph call
    status, body, _ = await bearer_call(stack, token, "GET", "/api/v1/me")
    assert (status, error_code(body)) == (401, "unauthenticated")
    status, body, _ = await stolen.call("GET", "/api/v1/me")
    assert (status, error_code(body)) == (401, "unauthenticated")
    assert (await fresh.call("GET", "/api/v1/me"))[0] == 200
    assert [r["detail"] for r in ended(stack)] == [{"why": "sessions_revoked"}] * 2
