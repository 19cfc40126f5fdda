"""Graph failures injected into the fake: throttling is waited out, failures fail closed.

Faults go in both ways the fake offers: ``fake.faults.add`` in process, and ``POST /_fake/faults``
over HTTP as a test in another process would.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
from e2e_checks import AuditTail, drop_app_token, error_code, state
from e2e_support import Stack, client_ssl, running_stack, uid

from fake_graph.embedded import RunningFake
from fake_graph.faults import Fault
from fake_graph.recorder import RecordedRequest

NORTH = "/api/v1/locations/north/staff"
STAFF1, STAFF2 = uid("staff1@e2e.example"), uid("staff2@e2e.example")
PHONE = {"phoneType": "office", "phoneNumber": "+1 425 555 0140"}


async def post_fault(stack: Stack, **fault: Any) -> None:
    """Add a fault through the fake's HTTP control API."""
    connector = aiohttp.TCPConnector(ssl=client_ssl(stack.fake.ca_file))
    async with aiohttp.ClientSession(connector=connector) as session, \
            session.post(f"{stack.fake_url}/_fake/faults", json=fault) as resp:
        assert resp.status == 201, await resp.text()


async def drained(stack: Stack, hang: Fault, count: int, seq: int, method: str) -> None:
    """Wait until the fake has answered every request it delayed (so none outlives the test)."""
    for _ in range(100):
        delayed = count - (hang.count or 0)
        done = [r for r in requests_since(stack, seq)
                if r.method == method and hang.path.search(r.path)]
        if len(done) >= delayed:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the fake did not finish its delayed requests")


def requests_since(stack: Stack, seq: int) -> list[RecordedRequest]:
    items: list[RecordedRequest] = stack.fake.fake.recorder.since(seq)[0]
    return items


def seconds_between(a: RecordedRequest, b: RecordedRequest) -> float:
    return b.time - a.time


# -- throttled reads succeed after Retry-After -------------------------------------------------

async def test_a_throttled_batch_is_sent_again_after_retry_after(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    await post_fault(stack, path=r"^/v1\.0/\$batch$", method="POST", status=429, retryAfter=1,
                     count=1)
    seq = stack.fake.fake.recorder.last_seq
    status, body, _ = await m.call("GET", f"{NORTH}/{STAFF1}")
    assert status == 200, body
    assert body["id"] == STAFF1 and body["phoneMethods"]
    batches = [r for r in requests_since(stack, seq) if r.path == "/v1.0/$batch"]
    assert [b.status for b in batches] == [429, 200]
    assert seconds_between(batches[0], batches[1]) >= 0.9  # Retry-After: 1 was honoured


async def test_a_throttled_member_check_inside_the_batch_is_retried(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    stack.fake.fake.faults.add(Fault(path=re.compile(rf"/members/{STAFF2}$"), method="GET",
                                     status=429, retry_after=1, count=1))
    seq = stack.fake.fake.recorder.last_seq
    status, body, _ = await m.call("POST", f"{NORTH}/{STAFF2}/password", {})
    assert status == 200, body
    assert stack.fake_user("staff2@e2e.example").password == body["temporaryPassword"]
    checks = [r for r in requests_since(stack, seq) if r.path.endswith(f"/members/{STAFF2}")]
    assert [c.status for c in checks] == [429, 200] and all(c.batch for c in checks)
    assert seconds_between(checks[0], checks[1]) >= 0.9


async def test_a_throttled_staff_list_and_group_lookup_are_retried(stack: Stack) -> None:
    # the nested-group manager's groups are looked up at the first API call after sign-in
    await post_fault(stack, path=r"/transitiveMemberOf/microsoft\.graph\.group$", status=429,
                     retryAfter=1, count=1)
    m = await stack.manager("mgr.group@e2e.example")
    status, me, _ = await m.call("GET", "/api/v1/me")
    assert status == 200 and [loc["id"] for loc in me["locations"]] == ["north"]
    await post_fault(stack, path=r"/members/microsoft\.graph\.user$", status=429, retryAfter=1,
                     count=1)
    status, body, _ = await m.call("GET", f"{NORTH}?top=100")
    assert status == 200 and len(body["value"]) == 20  # the 20 user members of north (tenant.yaml)
    assert len(stack.fake.fake.faults) == 0  # both faults were met


async def test_a_throttled_password_write_is_retried(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    stack.fake.fake.faults.add(Fault(path=re.compile(rf"^/v1\.0/users/{STAFF2}$"),
                                     method="PATCH", status=503, retry_after=1, count=1))
    status, body, _ = await m.call("POST", f"{NORTH}/{STAFF2}/password", {})
    assert status == 200, body
    assert stack.fake_user("staff2@e2e.example").password == body["temporaryPassword"]


# -- a write that Graph keeps failing ----------------------------------------------------------

async def test_a_password_write_that_keeps_failing(e2e_fake: RunningFake, tmp_path: Path) -> None:
    async with running_stack(e2e_fake, tmp_path,
                             graph={"retry_budget_seconds": 1.5}) as stack:
        m = await stack.manager("mgr.upn@e2e.example")
        audit = AuditTail(stack)
        before = state(stack, "staff2@e2e.example")
        await post_fault(stack, path=rf"^/v1\.0/users/{STAFF2}$", method="PATCH", status=503)
        seq = stack.fake.fake.recorder.last_seq
        status, body, headers = await m.call("POST", f"{NORTH}/{STAFF2}/password", {})
        assert (status, error_code(body)) == (503, "upstream_unavailable")
        assert "temporaryPassword" not in body
        assert "nothing was changed" in body["error"]["message"]
        assert state(stack, "staff2@e2e.example") == before
        patches = [r for r in requests_since(stack, seq) if r.method == "PATCH"]
        assert 2 <= len(patches) <= 4  # retried, within the budget (idempotent PATCH)
        record = audit.one()
        assert (record["event"], record["outcome"], record["reason"]) == (
            "password_reset", "failed", "upstream_unavailable")
        assert record["detail"]["graphStatus"] == 503
        assert record["requestId"] == headers["X-Request-ID"]


async def test_a_phone_write_that_keeps_failing(e2e_fake: RunningFake, tmp_path: Path) -> None:
    async with running_stack(e2e_fake, tmp_path, graph={"retry_budget_seconds": 0.5}) as stack:
        await _phone_writes_fail(stack)


async def _phone_writes_fail(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    audit = AuditTail(stack)
    stack.fake.fake.faults.add(Fault(path=re.compile(r"/authentication/phoneMethods"),
                                     method="POST", status=503))
    stack.fake.fake.faults.add(Fault(path=re.compile(r"/authentication/phoneMethods/"),
                                     method="PATCH", status=500))
    stack.fake.fake.faults.add(Fault(path=re.compile(r"/authentication/phoneMethods/"),
                                     method="DELETE", status=503))
    seq = stack.fake.fake.recorder.last_seq
    for method, path, body, event in [
        ("POST", f"{NORTH}/{STAFF2}/phone-methods", PHONE, "phone_added"),
        ("PATCH", f"{NORTH}/{STAFF1}/phone-methods/mobile", {"phoneNumber": "4255550141"},
         "phone_changed"),
        ("DELETE", f"{NORTH}/{STAFF1}/phone-methods/mobile", None, "phone_removed"),
    ]:
        before = {u: state(stack, u) for u in ("staff1@e2e.example", "staff2@e2e.example")}
        status, data, _ = await m.call(method, path, body)
        assert status == 503 and error_code(data) == "upstream_unavailable", data
        assert {u: state(stack, u) for u in before} == before
        record = audit.one()
        assert (record["event"], record["outcome"], record["reason"]) == (
            event, "failed", "upstream_unavailable")
    posts = [r for r in requests_since(stack, seq) if r.method == "POST"
             and r.path.endswith("/phoneMethods")]
    assert len(posts) == 1  # a POST is never blindly repeated


async def test_a_failing_read_fails_closed(stack: Stack) -> None:
    """Graph failing during the authorization checks denies the request."""
    m = await stack.manager("mgr.upn@e2e.example")
    audit = AuditTail(stack)
    stack.fake.fake.faults.add(Fault(path=re.compile(r"/transitiveMemberOf$"), status=500))
    before = state(stack, "staff2@e2e.example")
    status, body, _ = await m.call("POST", f"{NORTH}/{STAFF2}/password", {})
    assert (status, error_code(body)) == (503, "upstream_unavailable")
    assert state(stack, "staff2@e2e.example") == before
    record = audit.one()
    assert (record["outcome"], record["reason"]) == ("failed", "upstream_unavailable")
    status, body, _ = await m.call("GET", f"{NORTH}/{STAFF2}")
    assert (status, error_code(body)) == (503, "upstream_unavailable")


# -- a call that hangs -------------------------------------------------------------------------

HANG: dict[str, Any] = {"graph": {"timeout_seconds": 0.5, "retry_budget_seconds": 1}}


async def test_a_hanging_read_ends_in_a_clear_error(e2e_fake: RunningFake,
                                                    tmp_path: Path) -> None:
    async with running_stack(e2e_fake, tmp_path, **HANG) as stack:
        m = await stack.manager("mgr.upn@e2e.example")
        hang = Fault(path=re.compile(r"^/v1\.0/\$batch$"), latency_ms=2000, count=10)
        stack.fake.fake.faults.add(hang)
        seq = stack.fake.fake.recorder.last_seq
        started = time.monotonic()
        status, body, _ = await m.call("GET", f"{NORTH}/{STAFF1}")
        elapsed = time.monotonic() - started
        assert (status, error_code(body)) == (504, "upstream_unavailable")
        assert elapsed < 5  # a bound on the hang (timeout 0.5 s + budget 1 s), not a perf test
        await drained(stack, hang, 10, seq, "POST")


async def test_a_hanging_write_ends_in_a_clear_error(e2e_fake: RunningFake,
                                                     tmp_path: Path) -> None:
    async with running_stack(e2e_fake, tmp_path, **HANG) as stack:
        m = await stack.manager("mgr.upn@e2e.example")
        audit = AuditTail(stack)
        before = state(stack, "staff2@e2e.example")
        hang = Fault(path=re.compile(rf"^/v1\.0/users/{STAFF2}$"), method="PATCH",
                     latency_ms=2000, count=10)
        stack.fake.fake.faults.add(hang)
        seq = stack.fake.fake.recorder.last_seq
        started = time.monotonic()
        status, body, _ = await m.call("POST", f"{NORTH}/{STAFF2}/password", {})
        elapsed = time.monotonic() - started
        assert (status, error_code(body)) == (504, "upstream_unavailable")
        assert elapsed < 5
        # Graph may still carry out a write it did not answer in time: the manager is told so
        message = body["error"]["message"]
        assert "nothing was changed" not in message
        assert "may or may not have been made" in message
        record = audit.one()
        assert (record["outcome"], record["reason"]) == ("failed", "upstream_unavailable")
        assert record["detail"]["graphStatus"] == 504
        # the fake finishes the delayed PATCH later: exactly what the message warned about
        await drained(stack, hang, 10, seq, "PATCH")
        assert state(stack, "staff2@e2e.example") != before
        assert state(stack, "staff2@e2e.example")[1] is True


async def test_the_token_endpoint_failing(e2e_fake: RunningFake, tmp_path: Path) -> None:
    """No app token: every Graph-backed request fails closed, nothing changes."""
    async with running_stack(e2e_fake, tmp_path, graph={"retry_budget_seconds": 0.3}) as stack:
        m = await stack.manager("mgr.upn@e2e.example")
        await drop_app_token(stack)
        stack.fake.fake.faults.add(Fault(path=re.compile(r"/oauth2/v2\.0/token$"), status=400))
        before = state(stack, "staff2@e2e.example")
        status, body, _ = await m.call("POST", f"{NORTH}/{STAFF2}/password", {})
        assert (status, error_code(body)) == (503, "upstream_unavailable")
        assert state(stack, "staff2@e2e.example") == before
        status, body, _ = await m.call("GET", f"{NORTH}/{STAFF2}")
        assert (status, error_code(body)) == (503, "upstream_unavailable")


async def test_a_refused_app_token_is_replaced_by_a_new_one(app_stack: Stack) -> None:
    """Graph answering 401 (a revoked or expired app token): the proxy gets a NEW token from
    the token endpoint (azure-identity alone would hand back its cached one) and the change,
    which was not done, is sent once more."""
    stack = app_stack
    m = await stack.manager("mgr.upn@e2e.example")
    stack.fake.fake.faults.add(Fault(path=re.compile(rf"^/v1\.0/users/{STAFF2}$"),
                                     method="PATCH", status=401, count=1))
    seq = stack.fake.fake.recorder.last_seq
    status, body, _ = await m.call("POST", f"{NORTH}/{STAFF2}/password", {})
    assert status == 200, body
    assert stack.fake_user("staff2@e2e.example").password == body["temporaryPassword"]
    recorded = requests_since(stack, seq)
    tokens = [r for r in recorded if r.path.endswith("/oauth2/v2.0/token")]
    patches = [r.status for r in recorded if r.method == "PATCH"]
    assert len(tokens) == 1 and tokens[0].status == 200
    assert patches == [401, 204]
