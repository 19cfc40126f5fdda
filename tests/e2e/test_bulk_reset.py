"""Bulk password reset over HTTP, in both identity modes (docs/bulk-reset.md).

``POST /api/v1/locations/{loc}/password-resets`` with north's 20 user members and two
strangers: each person is checked, limited and audited on their own, as a single reset would
be; the fake holds every password shown, to be changed at the next sign-in; what is refused
changes nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from e2e_checks import AuditTail, error_code, policy_variant, raw_call, state
from e2e_support import CLIENT_ID, Stack, running_stack, uid

from fake_graph import derive_id
from fake_graph.directory import User
from fake_graph.embedded import RunningFake
from fake_graph.faults import Fault
from fake_graph.graph.mail import outbox
from mystaff_proxy.policy.passwords import word_list
from mystaff_proxy.web.services import SERVICES

URL = "/api/v1/locations/north/password-resets"
MANAGER = "mgr.upn@e2e.example"  # north: reset_password and manage_phone
#: north's resettable people for MANAGER: staff, and a lead whom MANAGER outranks.
RESETTABLE = ["staff1@e2e.example", "staff2@e2e.example", "staff3@e2e.example",
              "lead@e2e.example"]
#: north's other user members, and why MANAGER may not reset them (docs/authorization.md).
PROTECTED = {
    "mgr.upn@e2e.example": "self", "mgr.oid@e2e.example": "equal manager",
    "mgr.group@e2e.example": "equal manager", "admin.tenant@e2e.example": "directory role",
    "admin.scoped@e2e.example": "AU-scoped role", "admin.group@e2e.example": "role group",
    "ceo@e2e.example": "protected user", "vip@e2e.example": "protected group",
    "peer@e2e.example": "equal manager", "boss@e2e.example": "outranks",
    "other.store@e2e.example": "manages south", "grouplead@e2e.example": "manages south",
    "eligible@e2e.example": "PIM eligible", "pimgroup@e2e.example": "PIM group",
    "owner.app@e2e.example": "owns the app", "owner.group@e2e.example": "owns a role group",
}
STRANGERS = ["south1@e2e.example"]  # a member of south, not of north
UNKNOWN = str(uuid.UUID(int=0x5EED, version=4))  # nobody


def _north() -> list[str]:
    members = [*RESETTABLE, *PROTECTED]
    assert len(members) == 20
    return members


def _ids(upns: list[str]) -> list[str]:
    return [uid(u) for u in upns]


def _is_words(password: str) -> bool:
    *words, digits = password.split("-")
    return len(words) == 4 and len(digits) == 2 and digits.isdigit() \
        and {w.lower() for w in words} <= set(word_list()) \
        and sum(w[0].isupper() for w in words) == 1


async def test_each_person_is_checked_reset_and_audited_on_their_own(stack: Stack) -> None:
    m = await stack.manager(MANAGER)
    people = [*_north(), *STRANGERS]
    asked = _ids(people)
    asked.insert(7, UNKNOWN)
    asked[3] = asked[3].upper()  # an id in upper case names the same person
    before = {u: state(stack, u) for u in people}
    tail = AuditTail(stack)
    status, body, headers = await m.call("POST", URL, {"userIds": asked})
    assert status == 200, body
    assert headers["Cache-Control"] == "no-store"
    entries = body["value"]
    assert [e["id"] for e in entries] == [i.lower() for i in asked]  # in the order asked
    by_id = {e["id"]: e for e in entries}
    for upn in RESETTABLE:
        entry = by_id[uid(upn)]
        user = stack.fake_user(upn)
        assert entry["error"] is None, entry
        assert (entry["displayName"], entry["userPrincipalName"]) == (user.display_name, upn)
        assert _is_words(entry["temporaryPassword"]), entry
        # The fake holds the very password shown, to be changed at the next sign-in.
        assert state(stack, upn)[:2] == (entry["temporaryPassword"], True)
        assert "confirmed" not in entry
    assert len({by_id[uid(u)]["temporaryPassword"] for u in RESETTABLE}) == len(RESETTABLE)
    for upn in PROTECTED:
        entry = by_id[uid(upn)]
        assert entry["temporaryPassword"] is None, upn
        assert entry["error"]["code"] == "protected_user", (upn, entry)
        assert entry["userPrincipalName"] == upn  # a member: the manager may see who
        assert state(stack, upn) == before[upn]
    for missing in (uid(STRANGERS[0]), UNKNOWN):
        entry = by_id[missing]
        # Not a member here: refused without a name, exactly like someone who does not exist.
        assert entry == {"id": missing, "displayName": None, "userPrincipalName": None,
                         "temporaryPassword": None,
                         "error": {"code": "not_found", "message": entry["error"]["message"]}}
    assert state(stack, STRANGERS[0]) == before[STRANGERS[0]]

    records = tail.new()
    assert [r["event"] for r in records] == ["password_reset"] * len(asked)
    by_target = {r["target"]["id"]: r for r in records if "target" in r}
    for upn in RESETTABLE:
        record = by_target[uid(upn)]
        assert (record["outcome"], record["location"], record["detail"]) == (
            "success", "north", {"method": "generated"})
        assert record["actor"]["userPrincipalName"] == MANAGER
    for upn in PROTECTED:
        assert (by_target[uid(upn)]["outcome"], by_target[uid(upn)]["reason"]) == (
            "denied", "protected_user")
    unnamed = [r for r in records if "target" not in r]
    assert [(r["outcome"], r["reason"]) for r in unnamed] == [("denied", "not_found")] * 2
    text = stack.audit_path.read_text()
    assert not any(e["temporaryPassword"] and e["temporaryPassword"] in text for e in entries)


def _one_body(ids: list[str]) -> dict[str, Any]:
    return {"userIds": ids}


async def test_invalid_bodies_change_nothing(stack: Stack) -> None:
    m = await stack.manager(MANAGER)
    staff = uid(RESETTABLE[0])
    fifty_one = [str(uuid.UUID(int=i + 1, version=4)) for i in range(51)]
    before = {u: state(stack, u) for u in RESETTABLE}
    for body in ([staff], {"userIds": []}, {"userIds": staff}, _one_body(fifty_one),
                 _one_body([staff, staff]), _one_body([staff, staff.upper()]),
                 _one_body([staff, "not-a-guid"]), _one_body([staff, f"{staff}\n"]),
                 _one_body([staff, 42]), {"userIds": [staff], "password": "Mine-1234!x"},
                 {}, None):
        tail = AuditTail(stack)
        status, answer, _ = await m.call("POST", URL, body)
        assert (status, error_code(answer)) == (400, "invalid_request"), (body, answer)
        record = tail.one()
        assert (record["event"], record["outcome"], record["reason"], record["location"]) == (
            "password_reset", "denied", "invalid_request", "north")
    status, raw, _ = await raw_call(m, "POST", URL, b'{"userIds": [',
                                    headers={"Content-Type": "application/json"})
    assert status == 400 and json.loads(raw)["error"]["code"] == "invalid_request"
    assert {u: state(stack, u) for u in RESETTABLE} == before


async def test_the_request_as_a_whole_is_refused_for_the_location(stack: Stack) -> None:
    staff = [uid(RESETTABLE[0])]
    before = state(stack, RESETTABLE[0])
    m = await stack.manager(MANAGER)
    for url in ("/api/v1/locations/south/password-resets",  # not MANAGER's
                "/api/v1/locations/nowhere/password-resets"):
        status, body, _ = await m.call("POST", url, _one_body(staff))
        assert (status, error_code(body)) == (404, "not_found")
    viewer = await stack.manager("viewer@e2e.example")  # sees north, may not reset there
    tail = AuditTail(stack)
    status, body, _ = await viewer.call("POST", URL, _one_body(staff))
    assert (status, error_code(body)) == (403, "forbidden")
    assert tail.one()["reason"] == "forbidden"
    # A location's refusal comes before the body's: nothing about the body is said.
    status, body, _ = await viewer.call("POST", URL, {"userIds": "x"})
    assert (status, error_code(body)) == (403, "forbidden")
    nobody = await stack.manager("nobody@e2e.example")
    status, body, _ = await nobody.call("POST", URL, _one_body(staff))
    assert (status, error_code(body)) == (403, "insufficient_permissions")
    status, body, _ = await m.call("POST", URL, _one_body(staff), csrf=False)
    assert (status, error_code(body)) == (403, "csrf_failed")
    assert state(stack, RESETTABLE[0]) == before


@pytest.fixture(params=["app", "manager"])
async def limited_stack(request: pytest.FixtureRequest, e2e_fake: RunningFake,
                        tmp_path: Path) -> AsyncIterator[Stack]:
    template = policy_variant(tmp_path, ("password_resets_per_manager_per_hour: 30",
                                         "password_resets_per_manager_per_hour: 3"))
    async with running_stack(e2e_fake, tmp_path, policy_template=template,
                             identity=request.param) as s:
        yield s


async def test_the_hourly_limit_runs_out_mid_way(limited_stack: Stack) -> None:
    stack = limited_stack
    m = await stack.manager(MANAGER)
    status, body, _ = await m.call("POST", f"/api/v1/locations/north/staff/"
                                   f"{uid(RESETTABLE[0])}/password", {})
    assert status == 200, body  # one of the three spent
    before = {u: state(stack, u) for u in RESETTABLE}
    tail = AuditTail(stack)
    # Refusals before the limit (protected, not a member) take nothing from it.
    asked = _ids(["ceo@e2e.example", *RESETTABLE[1:], RESETTABLE[0], *STRANGERS])
    status, body, _ = await m.call("POST", URL, _one_body(asked))
    assert status == 200, body
    codes = [e["error"]["code"] if e["error"] else "ok" for e in body["value"]]
    assert codes == ["protected_user", "ok", "ok", "rate_limited", "rate_limited", "not_found"]
    for entry, upn in zip(body["value"][1:3], RESETTABLE[1:3], strict=True):
        assert state(stack, upn)[:2] == (entry["temporaryPassword"], True)
    for upn in (RESETTABLE[3], RESETTABLE[0]):
        assert state(stack, upn) == before[upn]
    # One record each (written as each step decides: refusals, the limit, then changes).
    records = {r.get("target", {}).get("id"): r for r in tail.new()}
    assert {k: (r["outcome"], r.get("reason")) for k, r in records.items()} == {
        uid("ceo@e2e.example"): ("denied", "protected_user"),
        uid(RESETTABLE[1]): ("success", None), uid(RESETTABLE[2]): ("success", None),
        uid(RESETTABLE[3]): ("denied", "rate_limited"),
        uid(RESETTABLE[0]): ("denied", "rate_limited"), None: ("denied", "not_found")}
    assert records[uid(RESETTABLE[3])]["detail"]["retryAfter"] > 0


async def test_one_failed_change_fails_that_person_only(stack: Stack) -> None:
    """A sub-request Graph fails is that person's error; the others in the same $batch are
    reset. The change to the failed one is audited failed, and nothing was changed there."""
    m = await stack.manager(MANAGER)
    failing = uid(RESETTABLE[1])
    manager_mode = stack.settings.graph.identity == "manager"
    path = rf"^/v1\.0/users/{failing}/authentication/methods/.*/resetPassword$" \
        if manager_mode else rf"^/v1\.0/users/{failing}$"
    stack.fake.fake.faults.add(Fault(path=re.compile(path),
                                     method="POST" if manager_mode else "PATCH", status=403))
    before = state(stack, RESETTABLE[1])
    tail = AuditTail(stack)
    status, body, _ = await m.call("POST", URL, _one_body(_ids(RESETTABLE)))
    assert status == 200, body
    entries = body["value"]
    assert entries[1]["temporaryPassword"] is None
    assert entries[1]["error"]["code"] == ("forbidden" if manager_mode
                                           else "upstream_unavailable")
    assert state(stack, RESETTABLE[1]) == before
    for i in (0, 2, 3):
        assert state(stack, RESETTABLE[i])[:2] == (entries[i]["temporaryPassword"], True)
    records = {r["target"]["id"]: r for r in tail.new()}
    assert {k: r["outcome"] for k, r in records.items()} == {
        uid(RESETTABLE[0]): "success", failing: "denied" if manager_mode else "failed",
        uid(RESETTABLE[2]): "success", uid(RESETTABLE[3]): "success"}
    assert records[failing]["reason"] == ("graph_denied" if manager_mode
                                          else "upstream_unavailable")


async def test_a_failed_check_fails_those_people_closed(stack: Stack) -> None:
    """Graph failing one person's live check refuses that person (upstream_unavailable,
    unnamed), however the checks were packed; the others go on."""
    m = await stack.manager(MANAGER)
    failing = uid(RESETTABLE[2])
    stack.fake.fake.faults.add(Fault(path=re.compile(rf"/members/{failing}$"), method="GET",
                                     status=500))
    before = state(stack, RESETTABLE[2])
    status, body, _ = await m.call("POST", URL, _one_body(_ids(RESETTABLE)))
    assert status == 200, body
    entry = body["value"][2]
    assert (entry["error"]["code"], entry["displayName"], entry["temporaryPassword"]) == (
        "upstream_unavailable", None, None)
    assert state(stack, RESETTABLE[2]) == before
    assert all(e["error"] is None for i, e in enumerate(body["value"]) if i != 2)


def _graph_calls(stack: Stack, since: int) -> list[str]:
    records, _ = stack.fake.fake.recorder.since(since)
    return [f"{r.method} {r.path}" for r in records
            if r.path.startswith("/v1.0/") and not r.batch]


async def test_twenty_people_take_a_few_batches(app_stack: Stack) -> None:
    """20 checks (6 sub-requests each: 120) in 6 batches of 20 sent at once, and the 4
    resets in one more: 7 requests, 2 round trips (bench/round_trips.py measures them)."""
    stack = app_stack
    m = await stack.manager(MANAGER)
    await m.call("GET", "/api/v1/locations/north/staff")  # the manager's groups, cached
    since = stack.fake.fake.recorder.last_seq
    status, body, _ = await m.call("POST", URL, _one_body(_ids(_north())))
    assert status == 200, body
    assert _graph_calls(stack, since) == ["POST /v1.0/$batch"] * 7
    records, _ = stack.fake.fake.recorder.since(since)
    patches = [r.path for r in records if r.batch and r.method == "PATCH"]
    assert sorted(patches) == sorted(f"/v1.0/users/{uid(u)}" for u in RESETTABLE)



SENDER = "mystaff@e2e.example"


@pytest.fixture(params=["app", "manager"])
async def notifying_stack(request: pytest.FixtureRequest, e2e_fake: RunningFake,
                          tmp_path: Path) -> AsyncIterator[Stack]:
    """``[notify] sender`` set: the sender's mailbox, Mail.Send for the app, and a mailbox
    for each of RESETTABLE (tests/e2e/test_notifications.py has the mail itself)."""
    e2e_fake.fake.reset()
    directory = e2e_fake.fake.directory
    directory.add_user(User(id=derive_id("user", SENDER), user_principal_name=SENDER,
                            display_name="My Staff", password="Mailbox-Only-1!", mail=SENDER))
    directory.applications[CLIENT_ID].application_permissions.append("Mail.Send")
    for upn in RESETTABLE:
        person = directory.find_user(upn)
        assert person is not None
        person.mail = upn
    async with running_stack(e2e_fake, tmp_path, reset=False, identity=request.param,
                             notify={"sender": SENDER}) as s:
        yield s


async def test_each_person_reset_gets_their_own_mail(notifying_stack: Stack) -> None:
    stack = notifying_stack
    m = await stack.manager(MANAGER)
    seen = len(outbox(stack.fake.fake))
    status, body, _ = await m.call("POST", URL, _one_body(_ids([*RESETTABLE,
                                                               "ceo@e2e.example"])))
    assert status == 200, body
    notifier = stack.app[SERVICES].staff.notifier
    assert notifier is not None
    await notifier.drain()
    mails = outbox(stack.fake.fake)[seen:]
    # One each for the four reset, none for the refused one; never a password.
    assert sorted(tuple(mail["to"]) for mail in mails) == sorted((u,) for u in RESETTABLE)
    text = json.dumps(mails)
    assert not any(e["temporaryPassword"] and e["temporaryPassword"] in text
                   for e in body["value"])
