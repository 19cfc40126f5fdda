"""Every error code of docs/api.md, over real sockets, and the order in which they are checked.

unauthenticated → csrf_failed → insufficient_permissions → not_found → forbidden / protected_user
→ invalid_request / invalid_phone_number / password_rejected → rate_limited → Graph's answer.
After every refused request the fake shows that nothing changed.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from e2e_checks import AuditTail, error_code, policy_variant, raw_call, state
from e2e_support import Manager, Stack, running_stack, uid

from fake_graph import derive_id
from fake_graph.embedded import RunningFake
from fake_graph.faults import Fault

NORTH = "/api/v1/locations/north/staff"
STAFF1, STAFF2 = uid("staff1@e2e.example"), uid("staff2@e2e.example")
TARGETS = ("staff1@e2e.example", "staff2@e2e.example", "ceo@e2e.example",
           "south1@e2e.example", "admin.tenant@e2e.example")
PHONE = {"phoneType": "office", "phoneNumber": "2065550100"}


def endpoints(loc: str = "north", user: str = STAFF1) -> list[tuple[str, str, Any]]:
    """Every /api/v1 endpoint that needs a manager, with a valid body."""
    staff = f"/api/v1/locations/{loc}/staff"
    return [
        ("GET", "/api/v1/locations", None),
        ("GET", staff, None),
        ("GET", f"{staff}/{user}", None),
        ("POST", f"{staff}/{user}/password", {}),
        ("POST", f"{staff}/{user}/phone-methods", PHONE),
        ("PATCH", f"{staff}/{user}/phone-methods/mobile", {"phoneNumber": "2065550100"}),
        ("DELETE", f"{staff}/{user}/phone-methods/mobile", None),
    ]


def unsafe(loc: str = "north", user: str = STAFF1) -> list[tuple[str, str, Any]]:
    return [e for e in endpoints(loc, user) if e[0] != "GET"]


def snapshot(stack: Stack) -> dict[str, Any]:
    return {upn: state(stack, upn) for upn in TARGETS}


async def expect(m: Manager, method: str, path: str, body: Any, status: int, code: str,
                 **kwargs: Any) -> dict[str, Any]:
    got, data, _ = await m.call(method, path, body, **kwargs)
    assert (got, error_code(data)) == (status, code), (method, path, body, data)
    return data  # type: ignore[no-any-return]


# -- unauthenticated ---------------------------------------------------------------------------

async def test_unauthenticated_on_every_endpoint_before_anything_else(stack: Stack) -> None:
    before, audit = snapshot(stack), AuditTail(stack)
    anonymous = await stack.manager()
    for method, path, body in [("GET", "/api/v1/me", None), *endpoints(),
                               *endpoints("nowhere", "not-a-guid")]:
        # no session and no CSRF token: unauthenticated comes first
        await expect(anonymous, method, path, body, 401, "unauthenticated", csrf=False)
        for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c"):
            await expect(anonymous, method, path, body, 401, "unauthenticated",
                         headers={"Authorization": header})
    forged = await stack.manager()
    forged.session.cookie_jar.update_cookies({"mystaff": "forged-cookie-value"})
    for method, path, body in endpoints():
        await expect(forged, method, path, body, 401, "unauthenticated",
                     headers={"X-CSRF-Token": "x"})
    assert snapshot(stack) == before
    assert audit.new() == []  # no one to attribute it to


async def test_an_invalid_bearer_token_is_not_rescued_by_a_valid_cookie(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    await expect(m, "GET", "/api/v1/me", None, 401, "unauthenticated",
                 headers={"Authorization": "Bearer not-a-jwt"})
    status, _, _ = await m.call("GET", "/api/v1/me")
    assert status == 200


# -- csrf_failed -------------------------------------------------------------------------------

async def test_csrf_failed_on_every_unsafe_endpoint(stack: Stack) -> None:
    before = snapshot(stack)
    m = await stack.manager("mgr.upn@e2e.example")
    other = await stack.manager("mgr.oid@e2e.example")
    for method, path, body in unsafe():
        await expect(m, method, path, body, 403, "csrf_failed", csrf=False)
        await expect(m, method, path, body, 403, "csrf_failed",
                     headers={"X-CSRF-Token": m.csrf + "x"})
        await expect(m, method, path, body, 403, "csrf_failed",
                     headers={"X-CSRF-Token": other.csrf})  # another session's token
        # csrf before not_found and before body errors
        await expect(m, method, path.replace("north", "nowhere"), body, 403, "csrf_failed",
                     csrf=False)
        await expect(m, method, path, ["not", "an", "object"], 403, "csrf_failed", csrf=False)
    assert snapshot(stack) == before


async def test_csrf_failed_before_insufficient_permissions(stack: Stack) -> None:
    nobody = await stack.manager("nobody@e2e.example")
    for method, path, body in unsafe() + unsafe("nowhere"):
        await expect(nobody, method, path, body, 403, "csrf_failed", csrf=False)
        await expect(nobody, method, path, body, 403, "insufficient_permissions")


# -- insufficient_permissions ------------------------------------------------------------------

async def test_insufficient_permissions_for_a_non_manager(stack: Stack) -> None:
    before, audit = snapshot(stack), AuditTail(stack)
    nobody = await stack.manager("nobody@e2e.example")
    audit.new()  # the sign-in
    status, me, _ = await nobody.call("GET", "/api/v1/me")
    assert status == 200 and me["locations"] == []
    assert audit.new() == []
    for loc, user in [("north", STAFF1), ("south", uid("south1@e2e.example")),
                      ("nowhere", str(uuid.uuid4())), ("north", "not-a-guid")]:
        for method, path, body in endpoints(loc, user):
            await expect(nobody, method, path, body, 403, "insufficient_permissions")
            record = audit.one()
            assert (record["outcome"], record["reason"]) == ("denied",
                                                            "insufficient_permissions")
            assert record["actor"] == {"id": uid("nobody@e2e.example"),
                                       "userPrincipalName": "nobody@e2e.example"}
        # even with a body that is wrong in every way
        await expect(nobody, "POST", f"/api/v1/locations/{loc}/staff/{user}/phone-methods",
                     {"phoneType": "pager", "junk": 1}, 403, "insufficient_permissions")
        audit.one()
    assert snapshot(stack) == before


# -- not_found ---------------------------------------------------------------------------------

def _normalized(status: int, raw: bytes, headers: dict[str, str]) -> tuple[Any, ...]:
    """The answer with its request id (body and header) and date blanked."""
    rid = headers["X-Request-ID"]
    assert rid.encode() in raw
    kept = {k: v for k, v in headers.items() if k not in ("Date", "X-Request-ID")}
    return status, raw.replace(rid.encode(), b"RID"), tuple(sorted(kept.items()))


async def test_not_found_is_the_same_answer_whatever_the_reason(stack: Stack) -> None:
    before, audit = snapshot(stack), AuditTail(stack)
    m = await stack.manager("mgr.upn@e2e.example")
    audit.new()
    floor_team = derive_id("group", "Floor team")  # a member of north, but not a user
    cases = {
        "unknown user": ("north", str(uuid.uuid4())),
        "user outside the manager's locations": ("north", uid("south1@e2e.example")),
        "member of a member group": ("north", uid("grouped@e2e.example")),
        "a group that is a member": ("north", floor_team),
        "not an object id": ("north", "staff1@e2e.example"),
        "unknown location": ("nowhere", STAFF1),
        "location not managed": ("south", uid("south1@e2e.example")),
        "location key in another case": ("North", STAFF1),
    }
    for i, (method, _path, body) in enumerate(endpoints()):
        if i < 2:
            continue  # /locations and the staff list name no user
        answers = {}
        for name, (loc, user) in cases.items():
            path = endpoints(loc, user)[i][1]
            data = json.dumps(body).encode() if body is not None else None
            status, raw, headers = await raw_call(
                m, method, path, data,
                headers={"Content-Type": "application/json"} if data else None)
            answers[name] = _normalized(status, raw, headers)
            assert json.loads(raw)["error"]["code"] == "not_found", (name, method, raw)
            record = audit.one()
            assert (record["outcome"], record["reason"]) == ("denied", "not_found")
        first = next(iter(answers.values()))
        for name, answer in answers.items():
            assert answer == first, (method, name)
    # the staff list of a location that does not exist and of one that is not the manager's
    lists = []
    for loc in ("nowhere", "south", "North"):
        status, raw, headers = await raw_call(m, "GET", f"/api/v1/locations/{loc}/staff?top=2")
        assert json.loads(raw)["error"]["code"] == "not_found"
        lists.append(_normalized(status, raw, headers))
        audit.one()
    assert lists[0] == lists[1] == lists[2]
    assert lists[0][1] == first[1]  # the same body as for a person
    assert snapshot(stack) == before


async def test_not_found_for_a_missing_phone_type(stack: Stack) -> None:
    before = snapshot(stack)
    m = await stack.manager("mgr.upn@e2e.example")
    for phone_type in ("office", "alternateMobile", "pager"):
        await expect(m, "PATCH", f"{NORTH}/{STAFF2}/phone-methods/{phone_type}",
                     {"phoneNumber": "2065550100"}, 404, "not_found")
        await expect(m, "DELETE", f"{NORTH}/{STAFF2}/phone-methods/{phone_type}", None,
                     404, "not_found")
    assert snapshot(stack) == before


async def test_not_found_before_forbidden_and_protected_user(stack: Stack) -> None:
    before = snapshot(stack)
    viewer = await stack.manager("viewer@e2e.example")  # views north and south, changes nothing
    mgr = await stack.manager("mgr.upn@e2e.example")
    for m in (viewer, mgr):
        for method, path, body in unsafe("north", uid("south1@e2e.example")) \
                + unsafe("south", uid("ceo@e2e.example")) + unsafe("north", str(uuid.uuid4())):
            await expect(m, method, path, body, 404, "not_found")
    assert snapshot(stack) == before


# -- forbidden / protected_user ----------------------------------------------------------------

async def test_forbidden_for_an_action_not_allowed_there(stack: Stack) -> None:
    before, audit = snapshot(stack), AuditTail(stack)
    viewer = await stack.manager("viewer@e2e.example")
    audit.new()
    status, profile, _ = await viewer.call("GET", f"{NORTH}/{STAFF1}")
    assert status == 200 and profile["actions"] == []
    assert profile["phoneMethods"]  # a view-only manager still sees the phones
    audit.new()
    for user in (STAFF1, uid("ceo@e2e.example"), uid("admin.tenant@e2e.example")):
        # forbidden comes before protected_user
        for method, path, body in unsafe("north", user):
            await expect(viewer, method, path, body, 403, "forbidden")
            assert audit.one()["reason"] == "forbidden"
    assert snapshot(stack) == before


async def test_protected_user_before_body_errors(stack: Stack) -> None:
    before = snapshot(stack)
    m = await stack.manager("mgr.upn@e2e.example")
    ceo = uid("ceo@e2e.example")
    await expect(m, "POST", f"{NORTH}/{ceo}/password", {"password": "x", "junk": 1},
                 403, "protected_user")
    await expect(m, "POST", f"{NORTH}/{ceo}/phone-methods",
                 {"phoneType": "mobile", "phoneNumber": "+1 900 555 0100"}, 403, "protected_user")
    await expect(m, "POST", f"{NORTH}/{uid('mgr.upn@e2e.example')}/password", ["x"],
                 403, "protected_user")
    assert snapshot(stack) == before


# -- body errors -------------------------------------------------------------------------------

async def test_body_errors_only_after_authorization(stack: Stack) -> None:
    before = snapshot(stack)
    m = await stack.manager("mgr.upn@e2e.example")
    viewer = await stack.manager("viewer@e2e.example")
    south1 = uid("south1@e2e.example")
    for path in (f"{NORTH}/{south1}/password", f"{NORTH}/{south1}/phone-methods"):
        for data in (b"{not json", b"[1, 2]", b'{"junk": true}', b"x" * 20_000):
            status, raw, _ = await raw_call(m, "POST", path, data,
                                            headers={"Content-Type": "application/json"})
            assert (status, json.loads(raw)["error"]["code"]) == (404, "not_found"), data[:20]
            status, raw, _ = await raw_call(viewer, "POST", path.replace(south1, STAFF1), data,
                                            headers={"Content-Type": "application/json"})
            assert (status, json.loads(raw)["error"]["code"]) == (403, "forbidden"), data[:20]
    assert snapshot(stack) == before


INVALID_REQUESTS: list[tuple[str, str, Any]] = [
    ("POST", "password", ["not", "an", "object"]),
    ("POST", "password", {"password": "Harbor-Lights-2024!x", "force": False}),
    ("POST", "phone-methods", {}),
    ("POST", "phone-methods", {"phoneType": "pager", "phoneNumber": "2065550100"}),
    ("POST", "phone-methods", {"phoneType": "office"}),
    ("POST", "phone-methods", {"phoneType": "office", "phoneNumber": 2065550100}),
    ("POST", "phone-methods", {"phoneType": "office", "phoneNumber": "2065550100",
                               "region": "ZZ"}),
    ("POST", "phone-methods", {"phoneType": "office", "phoneNumber": "2065550100",
                               "region": 1}),
    ("POST", "phone-methods", {"phoneType": "office", "phoneNumber": "2065550100",
                               "isDefault": True}),
    ("PATCH", "phone-methods/mobile", {"phoneNumber": "2065550100", "phoneType": "office"}),
    ("PATCH", "phone-methods/mobile", {}),
    ("PATCH", "phone-methods/mobile", "2065550100"),
]


async def test_invalid_request(stack: Stack) -> None:
    before, audit = snapshot(stack), AuditTail(stack)
    m = await stack.manager("mgr.upn@e2e.example")
    audit.new()
    for method, tail, body in INVALID_REQUESTS:
        await expect(m, method, f"{NORTH}/{STAFF1}/{tail}", body, 400, "invalid_request")
        record = audit.one()
        assert (record["outcome"], record["reason"]) == ("denied", "invalid_request")
        assert record["target"]["id"] == STAFF1
    for data, ctype in [(b"{not json", "application/json"), (b"{}", "text/plain"),
                        (b"\xff\xfe", "application/json"), (b"x" * 20_000, "application/json")]:
        status, raw, _ = await raw_call(m, "POST", f"{NORTH}/{STAFF1}/password", data,
                                        headers={"Content-Type": ctype})
        assert (status, json.loads(raw)["error"]["code"]) == (400, "invalid_request"), data[:9]
        audit.one()
    for query in ("top=0", "top=101", "top=abc", "top=-1", "top=1.5", "search=" + "a" * 65,
                  "search=a%01b", "cursor=garbage", "cursor=" + "A" * 5000):
        await expect(m, "GET", f"{NORTH}?{query}", None, 400, "invalid_request")
        assert audit.one()["reason"] == "invalid_request"
    assert snapshot(stack) == before


@pytest.mark.parametrize("number", [
    "", "   ", "12", "abc", "+1 900 555 0100", "+44 909 879 0000", "+999 123",
    "0800 123 4567", "+1 206 555 01", "2065550100" * 3,
])
async def test_invalid_phone_number(stack: Stack, number: str) -> None:
    before, audit = snapshot(stack), AuditTail(stack)
    m = await stack.manager("mgr.upn@e2e.example")
    audit.new()
    await expect(m, "POST", f"{NORTH}/{STAFF2}/phone-methods",
                 {"phoneType": "mobile", "phoneNumber": number}, 400, "invalid_phone_number")
    record = audit.one()
    assert (record["event"], record["reason"]) == ("phone_added", "invalid_phone_number")
    await expect(m, "PATCH", f"{NORTH}/{STAFF1}/phone-methods/mobile",
                 {"phoneNumber": number}, 400, "invalid_phone_number")
    assert audit.one()["event"] == "phone_changed"
    assert snapshot(stack) == before


async def test_password_rejected(stack: Stack) -> None:
    before, audit = snapshot(stack), AuditTail(stack)
    m = await stack.manager("mgr.upn@e2e.example")
    audit.new()
    for typed in ["", "Sh0rt!", "Password-2024!x", "staff2-Harbor-99!", "alllowercase-only",
                  "Sara-Harbor-2024!", " Harbor-Lights-2024!x", "Harbor-Lights-2024!\u00e9", 12345,
                  ["Harbor-Lights-2024!x"]]:
        await expect(m, "POST", f"{NORTH}/{STAFF2}/password", {"password": typed},
                     400, "password_rejected")
        record = audit.one()
        assert (record["event"], record["outcome"], record["reason"]) == (
            "password_reset", "denied", "password_rejected")
    assert snapshot(stack) == before


async def test_password_rejected_when_the_policy_forbids_typed_passwords(
        e2e_fake: RunningFake, tmp_path: Path) -> None:
    template = policy_variant(tmp_path, ("allow_manager_entered: true",
                                         "allow_manager_entered: false"))
    async with running_stack(e2e_fake, tmp_path, policy_template=template) as stack:
        before = snapshot(stack)
        m = await stack.manager("mgr.upn@e2e.example")
        await expect(m, "POST", f"{NORTH}/{STAFF2}/password",
                     {"password": "Harbor-Lights-2024!x"}, 400, "password_rejected")
        assert snapshot(stack) == before
        status, body, _ = await m.call("POST", f"{NORTH}/{STAFF2}/password", {})
        assert status == 200 and stack.fake_user("staff2@e2e.example").password == \
            body["temporaryPassword"]


# -- conflict ----------------------------------------------------------------------------------

async def test_conflict(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    audit = AuditTail(stack)
    before = snapshot(stack)
    await expect(m, "POST", f"{NORTH}/{STAFF1}/phone-methods",
                 {"phoneType": "mobile", "phoneNumber": "2065550199"}, 409, "conflict")
    assert audit.one()["reason"] == "conflict"
    await expect(m, "POST", f"{NORTH}/{STAFF2}/phone-methods",
                 {"phoneType": "alternateMobile", "phoneNumber": "2065550199"}, 409, "conflict")
    assert audit.one()["reason"] == "conflict"
    assert snapshot(stack) == before
    status, _, _ = await m.call("POST", f"{NORTH}/{STAFF1}/phone-methods",
                                {"phoneType": "alternateMobile", "phoneNumber": "2065550198"})
    assert status == 201
    audit.new()
    before = snapshot(stack)
    await expect(m, "DELETE", f"{NORTH}/{STAFF1}/phone-methods/mobile", None, 409, "conflict")
    assert audit.one()["reason"] == "conflict"
    assert snapshot(stack) == before


# -- rate_limited ------------------------------------------------------------------------------

LOW_LIMITS = (
    ("password_resets_per_manager_per_hour: 30", "password_resets_per_manager_per_hour: 2"),
    ("phone_changes_per_manager_per_hour: 60", "phone_changes_per_manager_per_hour: 2"),
)


async def test_rate_limited_counts_only_changes_sent_to_graph(
        e2e_fake: RunningFake, tmp_path: Path) -> None:
    template = policy_variant(tmp_path, *LOW_LIMITS)
    async with running_stack(e2e_fake, tmp_path, policy_template=template) as stack:
        m = await stack.manager("mgr.upn@e2e.example")
        ceo, south1 = uid("ceo@e2e.example"), uid("south1@e2e.example")
        # refused before Graph: none of these counts
        for _ in range(3):
            await expect(m, "POST", f"{NORTH}/{STAFF2}/password", ["x"], 400, "invalid_request")
            await expect(m, "POST", f"{NORTH}/{STAFF2}/password", {"password": "x"},
                         400, "password_rejected")
            await expect(m, "POST", f"{NORTH}/{ceo}/password", {}, 403, "protected_user")
            await expect(m, "POST", f"{NORTH}/{south1}/password", {}, 404, "not_found")
            await expect(m, "POST", f"{NORTH}/{STAFF2}/password", {}, 403, "csrf_failed",
                         csrf=False)
        for _ in range(2):
            status, _b, _h = await m.call("POST", f"{NORTH}/{STAFF2}/password", {})
            assert status == 200
        before = snapshot(stack)
        audit = AuditTail(stack)
        status, body, headers = await m.call("POST", f"{NORTH}/{STAFF2}/password", {})
        assert (status, error_code(body)) == (429, "rate_limited")
        status, body, headers = await m.call("POST", f"{NORTH}/{STAFF1}/password", {})
        assert (status, error_code(body)) == (429, "rate_limited")
        assert 1 <= int(headers["Retry-After"]) <= 3600
        records = audit.new()
        assert [r["reason"] for r in records] == ["rate_limited", "rate_limited"]
        assert records[1]["detail"]["retryAfter"] == int(headers["Retry-After"])
        # while limited, the earlier checks still answer first
        await expect(m, "POST", f"{NORTH}/{STAFF2}/password", ["x"], 400, "invalid_request")
        await expect(m, "POST", f"{NORTH}/{STAFF2}/password", {"password": "x"},
                     400, "password_rejected")
        await expect(m, "POST", f"{NORTH}/{ceo}/password", {}, 403, "protected_user")
        await expect(m, "POST", f"{NORTH}/{south1}/password", {}, 404, "not_found")
        assert snapshot(stack) == before
        # the limit is per manager and per kind of change
        other = await stack.manager("mgr.oid@e2e.example")
        status, _b, _h = await other.call("POST", f"{NORTH}/{STAFF2}/password", {})
        assert status == 200
        status, _b, _h = await m.call("POST", f"{NORTH}/{STAFF2}/phone-methods", PHONE)
        assert status == 201


async def test_rate_limit_counts_failed_changes_and_comes_before_conflict(
        e2e_fake: RunningFake, tmp_path: Path) -> None:
    template = policy_variant(tmp_path, *LOW_LIMITS)
    async with running_stack(e2e_fake, tmp_path, policy_template=template,
                             graph={"retry_budget_seconds": 0.1}) as stack:
        m = await stack.manager("mgr.upn@e2e.example")
        # phone changes refused before Graph do not count
        for _ in range(3):
            await expect(m, "POST", f"{NORTH}/{STAFF2}/phone-methods",
                         {"phoneType": "office", "phoneNumber": "12"}, 400, "invalid_phone_number")
            await expect(m, "POST", f"{NORTH}/{STAFF2}/phone-methods",
                         {"phoneType": "office", "junk": 1}, 400, "invalid_request")
        # a change Graph fails counts (it was sent)
        stack.fake.fake.faults.add(Fault(path=re.compile(r"/authentication/phoneMethods$"),
                                         method="POST", status=503, count=1))
        await expect(m, "POST", f"{NORTH}/{STAFF2}/phone-methods", PHONE, 503,
                     "upstream_unavailable")
        assert "office" not in state(stack, "staff2@e2e.example")[2]
        # so does one Graph refuses as a conflict (the second and last of this hour)
        await expect(m, "POST", f"{NORTH}/{STAFF1}/phone-methods",
                     {"phoneType": "mobile", "phoneNumber": "2065550100"}, 409, "conflict")
        before = snapshot(stack)
        await expect(m, "DELETE", f"{NORTH}/{STAFF1}/phone-methods/mobile", None, 429,
                     "rate_limited")
        # rate_limited comes before a conflict (docs/api.md's order)
        await expect(m, "POST", f"{NORTH}/{STAFF1}/phone-methods",
                     {"phoneType": "mobile", "phoneNumber": "2065550100"}, 429, "rate_limited")
        assert snapshot(stack) == before
