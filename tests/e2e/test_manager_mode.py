"""Manager mode (``[graph] identity = "manager"``): both guards must say yes.

The proxy's policy is one guard; Entra's own check of the manager's role is the other: changes
go to Graph with the manager's delegated token (docs/manager-mode.md). The shared e2e tests run
in this mode too (the ``stack`` fixture); these are the cases only this mode has: a manager
whose Entra role does not cover the unit, an eligible-but-not-active role, a Helpdesk
manager whose reset cannot be confirmed, Retry-After honoured, a failed reset, a refresh token
that no longer works, bearer callers on-behalf-of, and where the tokens live.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_checks import AuditTail, bearer_call, error_code, fetch_token, state, user_token
from e2e_support import NORTH, Stack, parse_forms, reset_operations, running_stack, uid
from token_shapes import has_jwt

from fake_graph.embedded import RunningFake
from fake_graph.graph.operations import FailureRule
from mystaff_proxy.web.services import SERVICES

BASE = "/api/v1/locations/north/staff"
STAFF2 = "staff2@e2e.example"
NUMBER = {"phoneType": "office", "phoneNumber": "+1 425 555 0166"}
SOUTH = "a0000000-0000-4000-8000-00000000000b"


@pytest.fixture
async def stack(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(e2e_fake, tmp_path, identity="manager") as s:
        yield s


def graph_calls(stack: Stack, since: int) -> list[tuple[str, str, str | None]]:
    records, _ = stack.fake.fake.recorder.since(since)
    return [(r.method, r.path, r.client_id) for r in records
            if r.path.startswith("/v1.0/") and not r.batch]


def _roles(stack: Stack, upn: str, role: str, unit: str = NORTH) -> None:
    directory = stack.fake.fake.directory
    directory.unassign_roles(uid(upn))
    directory.assign_role(uid(upn), role, f"/administrativeUnits/{unit}")


async def test_a_reset_goes_to_graph_as_the_manager_and_is_confirmed(stack: Stack) -> None:
    reset_operations(stack.fake.fake).seconds = 1  # Graph's Retry-After: the proxy waits
    m = await stack.manager("mgr.upn@e2e.example")
    since = stack.fake.fake.recorder.last_seq
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/password", {})
    assert status == 200, body
    assert "confirmed" not in body  # confirmed: the usual answer
    assert state(stack, STAFF2)[:2] == (body["temporaryPassword"], True)
    calls = graph_calls(stack, since)
    assert [(m_, p) for m_, p, _ in calls] == [
        ("POST", "/v1.0/$batch"),
        ("POST", f"/v1.0/users/{uid(STAFF2)}/authentication/methods/"
                 "28c10230-6103-485e-b985-444c60001490/resetPassword"),
        ("GET", calls[2][1])]
    assert calls[2][1].startswith(f"/v1.0/users/{uid(STAFF2)}/authentication/operations/")
    records, _ = stack.fake.fake.recorder.since(since)
    polled = [r for r in records if "/operations/" in r.path]
    posted = [r for r in records if r.path.endswith("/resetPassword")]
    assert polled[0].time - posted[0].time >= 0.95  # Retry-After: 1


async def test_phones_go_to_graph_as_the_manager(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/phone-methods", NUMBER)
    assert status == 201, body
    assert state(stack, STAFF2)[2]["office"][0] == "+1 4255550166"


async def test_a_role_that_does_not_cover_the_unit_is_refused_by_graph(stack: Stack) -> None:
    """The policy says yes (north), Entra says no (the role is scoped to south)."""
    _roles(stack, "mgr.upn@e2e.example", "Authentication Administrator", SOUTH)
    m = await stack.manager("mgr.upn@e2e.example")
    audit = AuditTail(stack)
    before = state(stack, STAFF2)
    for path, payload, event in ((f"{BASE}/{uid(STAFF2)}/password", {}, "password_reset"),
                                 (f"{BASE}/{uid(STAFF2)}/phone-methods", NUMBER, "phone_added")):
        status, body, _ = await m.call("POST", path, payload)
        assert (status, error_code(body)) == (403, "forbidden"), body
        assert "Microsoft Entra refused" in body["error"]["message"]
        [record] = audit.new()
        assert (record["event"], record["outcome"], record["reason"]) == (
            event, "denied", "graph_denied")
        assert record["detail"]["graphStatus"] == 403
    assert state(stack, STAFF2) == before


async def test_an_eligible_role_that_is_not_active_backs_nothing(stack: Stack) -> None:
    directory = stack.fake.fake.directory
    directory.unassign_roles(uid("mgr.oid@e2e.example"))
    role = next(iter(r for r in directory.role_eligibilities))  # any eligibility's shape
    directory.role_eligibilities.append(type(role)(
        **{**role.__dict__, "principal_id": uid("mgr.oid@e2e.example"),
           "id": "e1161b1e-0000-4000-8000-000000000001"}))
    m = await stack.manager("mgr.oid@e2e.example")
    before = state(stack, STAFF2)
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/password", {})
    assert (status, error_code(body)) == (403, "forbidden"), body
    assert state(stack, STAFF2) == before


async def test_a_helpdesk_manager_resets_but_cannot_confirm(stack: Stack) -> None:
    """Helpdesk Administrator may reset but not read the reset's operation: the password is
    shown as accepted, not confirmed, the audit says so, and the reset is sent once."""
    _roles(stack, "mgr.oid@e2e.example", "Helpdesk Administrator")
    m = await stack.manager("mgr.oid@e2e.example")
    audit = AuditTail(stack)
    since = stack.fake.fake.recorder.last_seq
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/password", {})
    assert status == 200, body
    assert body["confirmed"] is False
    assert state(stack, STAFF2)[:2] == (body["temporaryPassword"], True)
    [record] = audit.new()
    assert (record["outcome"], record["detail"]) == (
        "success", {"method": "generated", "operation": "unconfirmed"})
    posts = [c for c in graph_calls(stack, since) if c[1].endswith("/resetPassword")]
    assert len(posts) == 1
    # The page says it in words.
    page = stack.proxy_url + f"/locations/north/staff/{uid('staff1@e2e.example')}/password"
    async with m.session.get(page) as resp:
        fields = next(f for a, f in parse_forms(await resp.text()) if a.endswith("/password"))
    async with m.session.post(page, data={**fields, "mode": "generate"}) as resp:
        text = await resp.text()
        assert resp.status == 200, text
    assert "your role cannot confirm that it finished" in text
    # ... and phones need Authentication Administrator: Entra refuses the Helpdesk manager.
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/phone-methods", NUMBER)
    assert (status, error_code(body)) == (403, "forbidden")


async def test_a_failed_reset_says_the_password_was_not_changed(stack: Stack) -> None:
    reset_operations(stack.fake.fake).add_failure(FailureRule(uid(STAFF2), 1))
    m = await stack.manager("mgr.upn@e2e.example")
    audit = AuditTail(stack)
    before = state(stack, STAFF2)
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/password", {})
    assert (status, error_code(body)) == (502, "upstream_unavailable"), body
    assert "the password was not changed" in body["error"]["message"]
    assert state(stack, STAFF2) == before
    [record] = audit.new()
    assert (record["outcome"], record["reason"]) == ("failed", "operation_failed")


async def test_a_refresh_token_that_no_longer_works_asks_for_a_new_sign_in(
        stack: Stack) -> None:
    """The access token expired and Entra refuses the refresh (here: the manager's password
    was changed): 401 reauthentication_required, audited, nothing sent; the page sends the
    manager to sign in and back to the same form."""
    m = await stack.manager("mgr.upn@e2e.example")
    delegation = stack.app[SERVICES].delegation
    assert delegation is not None
    delegation._clock = lambda: 4_000_000_000.0  # the stored access token is long expired
    # Entra voids older refresh tokens when the password changes (AADSTS50173).
    stack.fake_user("mgr.upn@e2e.example").password = "Changed-Pass-2!"
    audit = AuditTail(stack)
    before = state(stack, STAFF2)
    since = stack.fake.fake.recorder.last_seq
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/password", {})
    assert (status, error_code(body)) == (401, "reauthentication_required"), body
    assert body["error"]["reauthUrl"] == "/auth/login"
    assert state(stack, STAFF2) == before
    assert not [c for c in graph_calls(stack, since) if c[0] != "POST" or "$batch" not in c[1]]
    [record] = audit.new()
    assert (record["event"], record["outcome"], record["reason"]) == (
        "password_reset", "denied", "reauthentication_required")
    page = f"/locations/north/staff/{uid(STAFF2)}/password"
    async with m.session.get(stack.proxy_url + page) as resp:
        fields = next(f for a, f in parse_forms(await resp.text()) if a.endswith("/password"))
    async with m.session.post(stack.proxy_url + page, data={**fields, "mode": "generate"},
                              allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"] == "/auth/login?prompt=login&next=" + page


async def test_bearer_callers_act_on_behalf_of_their_token(stack: Stack) -> None:
    token = await user_token(stack, "mgr.upn@e2e.example")
    since = stack.fake.fake.recorder.last_seq
    status, body, _ = await bearer_call(stack, token, "POST", f"{BASE}/{uid(STAFF2)}/password",
                                        {})
    assert status == 200, body
    assert state(stack, STAFF2)[:2] == (body["temporaryPassword"], True)
    records, _ = stack.fake.fake.recorder.since(since)
    assert any(r.path.endswith("/oauth2/v2.0/token") for r in records)  # on-behalf-of
    # An app-only token has no manager to act for: refused.
    app_only = await fetch_token(stack, {"grant_type": "client_credentials",
                                         "scope": "api://e2e0a000-0000-4000-8000-0000000000aa"
                                                  "/.default"})
    status, body, _ = await bearer_call(stack, app_only["access_token"], "POST",
                                        f"{BASE}/{uid(STAFF2)}/password", {})
    assert status == 401, body


async def test_delegated_tokens_stay_on_the_server_and_end_with_the_session(
        stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    store = stack.app[SERVICES].delegation._store  # type: ignore[union-attr]
    blobs = dict(store._blobs)  # type: ignore[attr-defined]
    assert len(blobs) == 1
    [(sid, (_, blob))] = blobs.items()
    cookies = json.dumps({c.key: c.value for c in m.session.cookie_jar})
    assert blob not in cookies and sid not in cookies
    assert not has_jwt(blob)  # sealed, not a readable token
    async with m.session.post(stack.proxy_url + "/auth/logout", data={"csrf": m.csrf},
                              allow_redirects=False) as resp:
        assert resp.status == 302
    assert await store.get(sid) is None
