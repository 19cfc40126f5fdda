"""Graph acting as a manager: a delegated caller's own directory roles decide resetPassword,
phone methods, PATCH passwordProfile and reading the reset's operation
(docs/fake_graph_manager_mode.md).

The graph_test tenant: alice is Authentication Administrator scoped to the Seattle unit, whose
direct members are bob, frank, judy and dave (dave is an admin through a role-assignable
group); carol is in Seattle only through a group; ivy (User Administrator), erin (Global
Administrator) and hank (Authentication Administrator) hold tenant-wide roles; piper is only
*eligible* (PIM) for Global and User Administrator. The tests add a few callers of their own.
"""

from __future__ import annotations

from typing import Any

import pytest
from graph_support import (
    Served,
    app_token,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    unit_id,
    user_token,
)

from fake_graph.directory import PASSWORD_METHOD_ID, PHONE_METHOD_IDS, User

RW = ["UserAuthenticationMethod.ReadWrite.All"]
SEATTLE = f"/administrativeUnits/{unit_id('Seattle store')}"
TACOMA = f"/administrativeUnits/{unit_id('Tacoma store')}"
DENIED = {"code": "Authorization_RequestDenied",
          "message": "Insufficient privileges to complete the operation."}

# Callers the tests add: upn -> (role, scope)
EXTRA_CALLERS = {
    "hd-seattle@contoso.test": ("Helpdesk Administrator", SEATTLE),
    "hd-tenant@contoso.test": ("Helpdesk Administrator", "/"),
    "auth-tacoma@contoso.test": ("Authentication Administrator", TACOMA),
    "reader@contoso.test": ("Global Reader", "/"),
}


@pytest.fixture
def callers(served: Served) -> Served:
    directory = served.fake.directory
    for upn, (role, scope) in EXTRA_CALLERS.items():
        directory.add_user(User(id=uid(upn), user_principal_name=upn, display_name=upn,
                                password="Caller-Passw0rd!"))
        directory.assign_role(uid(upn), role, scope)
    return served


def reset_path(upn: str) -> str:
    return f"/users/{uid(upn)}/authentication/methods/{PASSWORD_METHOD_ID}/resetPassword"


async def reset(served: Served, actor: str, target: str,
                scopes: list[str] = RW) -> tuple[int, Any, dict[str, str]]:
    return await served.call("POST", reset_path(target),
                             token=user_token(served.fake, actor, scopes),
                             json={"newPassword": "Given-Passw0rd"})


def error(body: Any) -> dict[str, str]:
    return {k: body["error"][k] for k in ("code", "message")}


@pytest.mark.parametrize(("actor", "target", "status"), [
    # AU-scoped Authentication Administrator: direct, non-admin members of the unit only.
    ("alice@contoso.test", "bob@contoso.test", 202),
    ("alice@contoso.test", "carol@contoso.test", 403),  # in the unit through a group
    ("alice@contoso.test", "dave@contoso.test", 403),  # a direct member, but an admin
    ("alice@contoso.test", "ivy@contoso.test", 403),  # not in the unit
    # AU-scoped Helpdesk Administrator: the same targets.
    ("hd-seattle@contoso.test", "judy@contoso.test", 202),
    ("hd-seattle@contoso.test", "dave@contoso.test", 403),
    ("hd-seattle@contoso.test", "ivy@contoso.test", 403),
    # Tenant-wide roles follow the who-can-reset-whom matrix.
    ("hd-tenant@contoso.test", "ivy@contoso.test", 403),  # a User Administrator
    ("hank@contoso.test", "ivy@contoso.test", 403),
    ("hank@contoso.test", "bob@contoso.test", 202),
    ("erin@contoso.test", "hank@contoso.test", 202),
    # An eligible (PIM) role backs nothing; a Global Reader may not write.
    ("piper@contoso.test", "bob@contoso.test", 403),
    ("reader@contoso.test", "bob@contoso.test", 403),
])
async def test_reset_password_by_the_callers_own_roles(callers: Served, actor: str, target: str,
                                                       status: int) -> None:
    before = callers.fake.directory.users[uid(target)].password
    got, body, _ = await reset(callers, actor, target)
    assert got == status, body
    after = callers.fake.directory.users[uid(target)].password
    if status == 403:
        assert error(body) == DENIED and after == before
    else:
        assert after == "Given-Passw0rd"


@pytest.mark.parametrize("actor", ["alice@contoso.test", "erin@contoso.test",
                                   "hank@contoso.test"])
async def test_no_one_resets_their_own_password(callers: Served, actor: str) -> None:
    status, body, _ = await reset(callers, actor, actor)
    assert (status, error(body)) == (403, DENIED)


async def test_reset_password_needs_the_delegated_scope(callers: Served) -> None:
    status, body, _ = await reset(callers, "alice@contoso.test", "bob@contoso.test",
                                  ["User.Read", "UserAuthenticationMethod.Read.All"])
    assert (status, error(body)) == (403, DENIED)


async def test_an_activated_role_counts_an_eligible_one_does_not(callers: Served) -> None:
    assert (await reset(callers, "piper@contoso.test", "bob@contoso.test"))[0] == 403
    callers.fake.directory.assign_role(uid("piper@contoso.test"), "Helpdesk Administrator",
                                       SEATTLE)
    assert (await reset(callers, "piper@contoso.test", "bob@contoso.test"))[0] == 202


def phones(upn: str) -> str:
    return f"/users/{uid(upn)}/authentication/phoneMethods"


async def test_phone_methods_need_an_authentication_role_over_the_target(callers: Served
                                                                         ) -> None:
    office = {"phoneNumber": "+1 2065550177", "phoneType": "office"}
    mobile = f"{phones('bob@contoso.test')}/{PHONE_METHOD_IDS['mobile']}"

    def token(upn: str) -> str:
        return user_token(callers.fake, upn, RW)

    for upn in ("hd-seattle@contoso.test", "hd-tenant@contoso.test", "piper@contoso.test",
                "auth-tacoma@contoso.test", "reader@contoso.test"):
        for method, path, body in (("POST", phones("bob@contoso.test"), office),
                                   ("PATCH", mobile, {"phoneNumber": "+1 2065550178"}),
                                   ("DELETE", mobile, None)):
            status, answer, _ = await callers.call(method, path, token=token(upn), json=body)
            assert (status, error(answer)) == (403, DENIED), (upn, method)
    assert callers.fake.directory.users[uid("bob@contoso.test")].phones["mobile"].number \
        == "+1 2065550100"
    alice = token("alice@contoso.test")
    assert (await callers.call("POST", phones("bob@contoso.test"), token=alice,
                               json=office))[0] == 201
    assert (await callers.call("PATCH", mobile, token=alice,
                               json={"phoneNumber": "+1 2065550178"}))[0] == 204
    assert (await callers.call("POST", phones("dave@contoso.test"), token=alice,
                               json=office))[0] == 403
    # Not one's own phones either ("self-service operations aren't supported").
    assert (await callers.call("POST", phones("alice@contoso.test"), token=alice,
                               json=office))[0] == 403


@pytest.mark.parametrize(("actor", "target", "status"), [
    ("hd-seattle@contoso.test", "bob@contoso.test", 204),
    ("hd-seattle@contoso.test", "dave@contoso.test", 403),
    ("hd-seattle@contoso.test", "hd-seattle@contoso.test", 403),  # one's own
    ("piper@contoso.test", "bob@contoso.test", 403),
    ("auth-tacoma@contoso.test", "bob@contoso.test", 403),
])
async def test_delegated_password_profile_follows_the_same_roles(callers: Served, actor: str,
                                                                 target: str, status: int
                                                                 ) -> None:
    token = user_token(callers.fake, actor, ["User-PasswordProfile.ReadWrite.All"])
    got, body, _ = await callers.call(
        "PATCH", f"/users/{uid(target)}", token=token,
        json={"passwordProfile": {"password": "Profile-Passw0rd",
                                  "forceChangePasswordNextSignIn": True}})
    assert got == status, body


# -- the reset's long-running operation ------------------------------------------------------


async def started(served: Served, actor: str, target: str = "bob@contoso.test") -> str:
    status, body, headers = await reset(served, actor, target)
    assert status == 202, body
    return headers["Location"]


@pytest.mark.parametrize("reader", [
    "alice@contoso.test",  # Authentication Administrator scoped to the target's unit
    "hank@contoso.test",  # Authentication Administrator, tenant-wide
    "erin@contoso.test",  # Global Administrator
    "reader@contoso.test",  # Global Reader
])
async def test_operation_readable_by_the_documented_roles(callers: Served, reader: str) -> None:
    location = await started(callers, "hd-seattle@contoso.test")
    token = user_token(callers.fake, reader, ["UserAuthenticationMethod.Read.All"])
    statuses = []
    for _ in range(3):
        status, body, _ = await callers.call("GET", location, token=token)
        assert status == 200, body
        statuses.append(body["status"])
    assert statuses == ["running", "succeeded", "succeeded"]
    assert body["statusDetail"] is None and body["id"] == location.rsplit("/", 1)[1]


@pytest.mark.parametrize("reader", [
    "hd-seattle@contoso.test",  # started the reset, may not read its outcome
    "hd-tenant@contoso.test",
    "ivy@contoso.test",  # User Administrator
    "auth-tacoma@contoso.test",  # Authentication Administrator of another unit
    "piper@contoso.test",  # eligible only
])
async def test_operation_refused_to_other_roles(callers: Served, reader: str) -> None:
    location = await started(callers, "hd-seattle@contoso.test")
    token = user_token(callers.fake, reader, RW)
    status, body, _ = await callers.call("GET", location, token=token)
    assert (status, error(body)) == (403, DENIED)
    assert set(body["error"]["innerError"]) == {"date", "request-id", "client-request-id"}


async def test_operation_is_delegated_only_and_the_target_may_read_their_own(callers: Served
                                                                            ) -> None:
    location = await started(callers, "alice@contoso.test")
    app = app_token(callers.fake, roles=["UserAuthenticationMethod.ReadWrite.All"])
    status, body, _ = await callers.call("GET", location, token=app)
    assert (status, error(body)) == (403, DENIED)
    bob = user_token(callers.fake, "bob@contoso.test", ["UserAuthenticationMethod.Read"])
    assert (await callers.call("GET", location, token=bob))[0] == 200
    no_scope = user_token(callers.fake, "alice@contoso.test", ["User.Read"])
    assert (await callers.call("GET", location, token=no_scope))[0] == 403
    alice = user_token(callers.fake, "alice@contoso.test", RW)
    other = location.replace("/users/" + uid("bob@contoso.test"),
                             "/users/" + uid("frank@contoso.test"))
    status, body, _ = await callers.call("GET", other, token=alice)
    assert (status, body["error"]["code"]) == (404, "itemNotFound")


async def test_a_failing_reset_is_accepted_then_fails(callers: Served) -> None:
    bob = callers.fake.directory.users[uid("bob@contoso.test")]
    before = bob.password
    status, body, _ = await callers.call(
        "POST", callers.base_url + "/_fake/password-reset-failures",
        json={"user": "bob@contoso.test", "count": 1, "statusDetail": "On-premises refused it."})
    assert (status, body) == (201, {"user": bob.id, "count": 1,
                                    "statusDetail": "On-premises refused it."})
    alice = user_token(callers.fake, "alice@contoso.test", RW)
    status, body, headers = await callers.call("POST", reset_path("bob@contoso.test"),
                                               token=alice, json={})
    assert status == 202 and body["newPassword"] != before
    assert (bob.password, bob.force_change_password_next_sign_in) == (before, False)
    first = (await callers.call("GET", headers["Location"], token=alice))[1]
    second = (await callers.call("GET", headers["Location"], token=alice))[1]
    assert (first["status"], first["statusDetail"]) == ("running", None)
    assert (second["status"], second["statusDetail"]) == ("failed", "On-premises refused it.")
    # count 1: the next reset succeeds.
    location = await started(callers, "alice@contoso.test")
    await callers.call("GET", location, token=alice)
    assert (await callers.call("GET", location, token=alice))[1]["status"] == "succeeded"
    assert bob.password == "Given-Passw0rd"


async def test_failure_rules_match_their_user_and_are_cleared(callers: Served) -> None:
    url = callers.base_url + "/_fake/password-reset-failures"
    alice = user_token(callers.fake, "alice@contoso.test", RW)

    async def outcome(target: str) -> str:
        location = await started(callers, "alice@contoso.test", target)
        await callers.call("GET", location, token=alice)
        return str((await callers.call("GET", location, token=alice))[1]["status"])

    assert (await callers.call("POST", url, json={"user": "frank@contoso.test"}))[0] == 201
    assert await outcome("bob@contoso.test") == "succeeded"
    assert [await outcome("frank@contoso.test") for _ in range(2)] == ["failed", "failed"]
    assert (await callers.call("DELETE", url))[0] == 204
    assert await outcome("frank@contoso.test") == "succeeded"
    assert (await callers.call("POST", url, json={}))[0] == 201  # anyone, until cleared
    assert await outcome("judy@contoso.test") == "failed"
    assert (await callers.call("POST", callers.base_url + "/_fake/reset"))[0] == 204
    assert await outcome("bob@contoso.test") == "succeeded"


@pytest.mark.parametrize("body", [
    [], {"user": "nobody@contoso.test"}, {"count": 0}, {"count": "1"},
    {"statusDetail": ""}, {"when": "now"},
])
async def test_failure_rule_bodies_are_checked(served: Served, body: Any) -> None:
    status, answer, _ = await served.call(
        "POST", served.base_url + "/_fake/password-reset-failures", json=body)
    assert (status, answer["error"]["code"]) == (400, "invalid_request")
