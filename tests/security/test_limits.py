"""Rate limits per manager for password resets and phone changes (policy limits lowered to
2 and 3 an hour), and request size limits: a 1 MB body is refused (413 on pages,
invalid_request in the API's own error model) and changes nothing. (The per-address sign-in
limit is in test_forwarded.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import Stack, running_stack, uid

from fake_graph.embedded import RunningFake

from .support import LOW_LIMITS_POLICY, error_code

MGR = "mgr.upn@e2e.example"
OTHER = "mgr.oid@e2e.example"
RESETS, PHONES = 2, 3  # as in policy_low_limits.yaml
S1, S2, S3 = (uid(f"staff{i}@e2e.example") for i in (1, 2, 3))
MB = 1024 * 1024


@pytest.fixture
async def limited(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(e2e_fake, tmp_path, policy_template=LOW_LIMITS_POLICY) as s:
        yield s


def _passwords(stack: Stack) -> list[str]:
    return [stack.fake_user(f"staff{i}@e2e.example").password for i in (1, 2, 3)]


def _phones(stack: Stack) -> Any:
    return [sorted((t, p.number) for t, p in stack.fake_user(f"staff{i}@e2e.example")
                   .phones.items()) for i in (1, 2, 3)]


async def test_password_resets_are_limited_per_manager(limited: Stack) -> None:
    stack = limited
    m = await stack.manager(MGR)
    for target in (S1, S2):
        status, body, _ = await m.call("POST", f"/api/v1/locations/north/staff/{target}/password",
                                       {})
        assert status == 200, body
    before = _passwords(stack)
    for target in (S3, S1):
        status, body, headers = await m.call(
            "POST", f"/api/v1/locations/north/staff/{target}/password", {})
        assert (status, error_code(body)) == (429, "rate_limited")
        assert 1 <= int(headers["Retry-After"]) <= 3600
    # Through the page too: the same manager, the same budget.
    resp = await m.session.post(f"{stack.proxy_url}/locations/north/staff/{S3}/password",
                                data={"csrf": m.csrf, "mode": "generate"},
                                allow_redirects=False)
    assert resp.status == 429 and "Retry-After" in resp.headers
    assert _passwords(stack) == before
    refused = [r for r in stack.audit() if r["event"] == "password_reset"
               and r["outcome"] == "denied"]
    assert [r["reason"] for r in refused] == ["rate_limited"] * 3
    # Another manager has a budget of their own.
    other = await stack.manager(OTHER)
    status, body, _ = await other.call("POST", f"/api/v1/locations/north/staff/{S3}/password",
                                       {})
    assert status == 200, body
    # Phone changes are a separate budget.
    status, body, _ = await m.call("POST", f"/api/v1/locations/north/staff/{S2}/phone-methods",
                                   {"phoneType": "mobile", "phoneNumber": "+1 2065550142"})
    assert status == 201, body


async def test_phone_changes_are_limited_per_manager(limited: Stack) -> None:
    stack = limited
    m = await stack.manager(MGR)
    base = f"/api/v1/locations/north/staff/{S2}/phone-methods"
    # Requests refused before Graph (bad numbers, bad bodies) do not use the budget.
    for bad in ({"phoneType": "mobile", "phoneNumber": "12"},
                {"phoneType": "pager", "phoneNumber": "+1 2065550142"}):
        for _ in range(PHONES + 1):
            status, _, _ = await m.call("POST", base, bad)
            assert status == 400
    changes = [("POST", base, {"phoneType": "mobile", "phoneNumber": "+1 2065550142"}, 201),
               ("PATCH", base + "/mobile", {"phoneNumber": "+1 2065550143"}, 200),
               ("DELETE", base + "/mobile", None, 204)]
    for method, path, body, expected in changes:
        status, answer, _ = await m.call(method, path, body)
        assert status == expected, answer
    before = _phones(stack)
    for method, path, body in [("POST", base, {"phoneType": "mobile",
                                              "phoneNumber": "+1 2065550144"}),
                               ("POST", f"/api/v1/locations/north/staff/{S1}/phone-methods",
                                {"phoneType": "office", "phoneNumber": "+1 2065550145"}),
                               ("PATCH", f"/api/v1/locations/north/staff/{S1}/phone-methods/"
                                         "mobile", {"phoneNumber": "+1 2065550146"}),
                               ("DELETE", f"/api/v1/locations/north/staff/{S1}/phone-methods/"
                                          "mobile", None)]:
        status, answer, headers = await m.call(method, path, body)
        assert (status, error_code(answer)) == (429, "rate_limited"), (method, path)
        assert int(headers["Retry-After"]) >= 1
    assert _phones(stack) == before
    # Password resets are a separate budget; another manager has their own phone budget.
    status, _, _ = await m.call("POST", f"/api/v1/locations/north/staff/{S1}/password", {})
    assert status == 200
    other = await stack.manager(OTHER)
    status, answer, _ = await other.call("POST", base, {"phoneType": "mobile",
                                                        "phoneNumber": "+1 2065550147"})
    assert status == 201, answer


async def test_a_1_mb_body_is_refused_and_changes_nothing(stack: Stack) -> None:
    m = await stack.manager(MGR)
    before = (_passwords(stack), _phones(stack))
    big_json = '{"password": "' + "A1b!" * (MB // 4) + '"}'
    big_form = {"csrf": m.csrf, "mode": "enter", "password": "A1b!" * (MB // 4)}
    for method, path, data, content_type in [
        ("POST", f"/api/v1/locations/north/staff/{S2}/password", big_json, "application/json"),
        ("POST", f"/api/v1/locations/north/staff/{S2}/phone-methods", big_json,
         "application/json"),
        ("PATCH", f"/api/v1/locations/north/staff/{S1}/phone-methods/mobile", big_json,
         "application/json"),
    ]:  # (DELETE takes no body: it never reads one, whatever its size)
        async with m.session.request(method, stack.proxy_url + path, data=data,
                                     headers={"Content-Type": content_type,
                                              "X-CSRF-Token": m.csrf}) as resp:
            answer = await resp.json()
            # The API answers in its own error model (docs/api.md has no 413 code): reading
            # stops at the limit (16 KB) and the request is refused as invalid_request,
            # after authorization, so the answer says nothing about the target.
            assert (resp.status, error_code(answer)) == (400, "invalid_request"), (method, path)
    for path in (f"/locations/north/staff/{S2}/password",
                 f"/locations/north/staff/{S2}/phones/add",
                 f"/locations/north/staff/{S1}/phones/mobile/edit",
                 f"/locations/north/staff/{S1}/phones/mobile/remove", "/auth/logout"):
        async with m.session.post(stack.proxy_url + path, data=big_form,
                                  allow_redirects=False) as resp:
            await resp.read()
            assert resp.status == 413, (path, resp.status)
    # A body sent without a length (chunked) is cut off just the same.
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"x" * (16 * 1024)

    async with m.session.post(stack.proxy_url + f"/api/v1/locations/north/staff/{S2}/password",
                              data=chunks(), headers={"Content-Type": "application/json",
                                                      "X-CSRF-Token": m.csrf}) as resp:
        assert (resp.status, error_code(await resp.json())) == (400, "invalid_request")
    assert (_passwords(stack), _phones(stack)) == before
    refused = [r for r in stack.audit() if r["event"] != "sign_in"]
    assert [(r["outcome"], r["reason"]) for r in refused] == [("denied", "invalid_request")] * 4
    status, _, _ = await m.call("GET", "/api/v1/me")
    assert status == 200  # still signed in: the oversized sign-out did nothing
    # A body of ordinary size is accepted (the limit is not zero).
    status, body, _ = await m.call("POST", f"/api/v1/locations/north/staff/{S2}/password",
                                   {"password": "Ordinary-Pass-42!"})
    assert status == 200, body
