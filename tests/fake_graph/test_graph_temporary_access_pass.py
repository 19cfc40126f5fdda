"""``/users/{id}/authentication/temporaryAccessPassMethods``: every documented rule, so that
dropping one fails a test.

Learn: https://learn.microsoft.com/graph/api/authentication-post-temporaryaccesspassmethods,
https://learn.microsoft.com/graph/api/authentication-list-temporaryaccesspassmethods,
https://learn.microsoft.com/graph/api/temporaryaccesspassauthenticationmethod-get,
https://learn.microsoft.com/graph/api/temporaryaccesspassauthenticationmethod-delete,
https://learn.microsoft.com/graph/api/resources/temporaryaccesspassauthenticationmethod.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graph_support import (
    READER_APP,
    Served,
    app_token,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    user_token,
)

from fake_graph.directory import ROLE_TEMPLATES, derive_id
from fake_graph.graph.temporary_access_pass import POLICY_REFUSAL
from fake_graph.methods_policy import MethodTarget

BOB = uid("bob@contoso.test")  # Seattle, direct member, no role
FRANK = uid("frank@contoso.test")
TAP_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
RW = ["UserAuthenticationMethod.ReadWrite.All"]


def taps(user: str) -> str:
    return f"/users/{user}/authentication/temporaryAccessPassMethods"


async def create(served: Served, user: str = BOB, body: Any = None,
                 token: str | None = None) -> tuple[int, Any, dict[str, str]]:
    return await served.call("POST", taps(user), token=token or app_token(served.fake),
                             json={} if body is None else body)


async def test_create_answers_201_with_the_pass_once(served: Served) -> None:
    status, body, headers = await create(served)
    assert status == 201, body
    assert body["@odata.type"] == TAP_TYPE
    assert body["@odata.context"].endswith(
        f"users('{BOB}')/authentication/temporaryAccessPassMethods/$entity")
    assert len(body["temporaryAccessPass"]) == 8  # the policy's default length
    assert (body["lifetimeInMinutes"], body["isUsableOnce"]) == (60, False)  # policy defaults
    assert (body["isUsable"], body["methodUsabilityReason"]) == (True, "EnabledByPolicy")
    assert body["startDateTime"] == body["createdDateTime"]
    assert body["createdDateTime"].endswith("Z")
    assert headers["Location"] == f"{served.graph}{taps(BOB)}/{body['id']}"
    tap = served.fake.directory.users[BOB].temporary_access_pass
    assert tap is not None and tap.value == body["temporaryAccessPass"]

    # reads never carry the pass
    _, listed, _ = await served.call("GET", taps(BOB), token=app_token(served.fake))
    assert [m["id"] for m in listed["value"]] == [body["id"]]
    assert listed["value"][0]["temporaryAccessPass"] is None
    _, one, _ = await served.call("GET", f"{taps(BOB)}/{body['id']}",
                                  token=app_token(served.fake))
    assert one["temporaryAccessPass"] is None
    assert {k: v for k, v in one.items() if k not in ("@odata.context", "temporaryAccessPass")} \
        == {k: v for k, v in body.items() if k not in ("@odata.context", "temporaryAccessPass")}


async def test_a_new_pass_replaces_the_old_one(served: Served) -> None:
    _, first, _ = await create(served)
    _, second, _ = await create(served, body={"lifetimeInMinutes": 120})
    assert second["id"] != first["id"]
    assert second["temporaryAccessPass"] != first["temporaryAccessPass"]
    _, listed, _ = await served.call("GET", taps(BOB), token=app_token(served.fake))
    assert [(m["id"], m["lifetimeInMinutes"]) for m in listed["value"]] == [(second["id"], 120)]
    status, err, _ = await served.call("GET", f"{taps(BOB)}/{first['id']}",
                                       token=app_token(served.fake))
    assert (status, err["error"]["code"]) == (404, "itemNotFound")


async def test_delete(served: Served) -> None:
    _, body, _ = await create(served)
    token = app_token(served.fake)
    assert (await served.call("DELETE", f"{taps(BOB)}/{body['id']}", token=token))[:2] == (
        204, None)
    assert served.fake.directory.users[BOB].temporary_access_pass is None
    _, listed, _ = await served.call("GET", taps(BOB), token=token)
    assert listed["value"] == []
    status, _, _ = await served.call("DELETE", f"{taps(BOB)}/{body['id']}", token=token)
    assert status == 404


@pytest.mark.parametrize("lifetime", [59, 481, 10, 43201, "60", True])
async def test_lifetime_outside_the_policy_is_graphs_400(served: Served, lifetime: Any) -> None:
    status, body, _ = await create(served, body={"lifetimeInMinutes": lifetime})
    assert status == 400
    assert body["error"]["code"] == "badRequest"
    assert body["error"]["message"] == ("Invalid LifetimeInMinutes specified. The valid range "
                                        "between 60 and 480.")
    assert served.fake.directory.users[BOB].temporary_access_pass is None


async def test_lifetime_bounds_come_from_the_policy(served: Served) -> None:
    policy = served.fake.directory.methods_policy.temporary_access_pass
    policy.minimum_lifetime, policy.default_lifetime, policy.maximum_lifetime = 10, 30, 43200
    policy.length = 20
    status, body, _ = await create(served)
    assert (status, body["lifetimeInMinutes"], len(body["temporaryAccessPass"])) == (201, 30, 20)
    for ok in (10, 43200):
        assert (await create(served, body={"lifetimeInMinutes": ok}))[0] == 201
    status, body, _ = await create(served, body={"lifetimeInMinutes": 9})
    assert "between 10 and 43200" in body["error"]["message"]


async def test_a_one_time_policy_makes_every_pass_one_time(served: Served) -> None:
    served.fake.directory.methods_policy.temporary_access_pass.is_usable_once = True
    status, body, _ = await create(served)
    assert (status, body["isUsableOnce"]) == (201, True)
    assert (await create(served, body={"isUsableOnce": True}))[1]["isUsableOnce"] is True
    status, body, _ = await create(served, body={"isUsableOnce": False})
    assert (status, body["error"]["code"]) == (400, "badRequest")
    # a multi-use policy lets the caller choose
    served.fake.directory.methods_policy.temporary_access_pass.is_usable_once = False
    assert (await create(served, body={"isUsableOnce": True}))[1]["isUsableOnce"] is True


async def test_start_date_time_and_usability(served: Served) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    status, body, _ = await create(served, body={"startDateTime": later.isoformat(),
                                                 "isUsableOnce": True})
    assert status == 201
    assert (body["isUsable"], body["methodUsabilityReason"]) == (False, "NotYetValid")
    assert datetime.fromisoformat(body["startDateTime"]) == later
    tap = served.fake.directory.users[BOB].temporary_access_pass
    assert tap is not None
    token = app_token(served.fake)

    async def reason() -> tuple[bool, str]:
        _, listed, _ = await served.call("GET", taps(BOB), token=token)
        return listed["value"][0]["isUsable"], listed["value"][0]["methodUsabilityReason"]

    tap.start = datetime.now(UTC) - timedelta(minutes=61)
    assert await reason() == (False, "Expired")
    tap.start = datetime.now(UTC) - timedelta(minutes=1)
    assert await reason() == (True, "EnabledByPolicy")
    tap.used = True
    assert await reason() == (False, "OneTimeUsed")
    served.fake.directory.methods_policy.temporary_access_pass.state = "disabled"
    assert await reason() == (False, "DisabledByPolicy")


@pytest.mark.parametrize("value", ["tomorrow", 12, "2026-13-01T00:00:00Z"])
async def test_bad_start_date_time(served: Served, value: Any) -> None:
    status, body, _ = await create(served, body={"startDateTime": value})
    assert (status, body["error"]["code"]) == (400, "badRequest")


@pytest.mark.parametrize("extra", [{"temporaryAccessPass": "MyOwnPass!"}, {"isUsable": True},
                                   {"lifetime": 60},
                                   {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod"}])
async def test_read_only_and_unknown_properties_are_refused(served: Served,
                                                            extra: dict[str, Any]) -> None:
    status, body, _ = await create(served, body=extra)
    assert (status, body["error"]["code"]) == (400, "invalidRequest")


async def test_the_policy_refuses_disabled_and_untargeted_users(served: Served) -> None:
    policy = served.fake.directory.methods_policy.temporary_access_pass
    policy.state = "disabled"
    status, body, _ = await create(served)
    assert (status, body["error"]["code"], body["error"]["message"]) == (
        400, "badRequest", POLICY_REFUSAL)
    policy.state = "enabled"
    # Managers: alice, and carol through Shift leads
    policy.include = [MethodTarget(derive_id("group", "Managers"))]
    assert (await create(served, BOB))[1]["error"]["message"] == POLICY_REFUSAL
    assert (await create(served, uid("carol@contoso.test")))[0] == 201  # nested group
    policy.exclude = [derive_id("group", "Shift leads")]
    assert (await create(served, uid("carol@contoso.test")))[1]["error"]["message"] == (
        POLICY_REFUSAL)
    assert (await create(served, uid("alice@contoso.test")))[0] == 201


async def test_methods_list_includes_the_pass(served: Served) -> None:
    _, body, _ = await create(served)
    token = app_token(served.fake)
    _, methods, _ = await served.call("GET", f"/users/{BOB}/authentication/methods",
                                      token=token)
    assert [m["@odata.type"] for m in methods["value"]][-1] == TAP_TYPE
    _, one, _ = await served.call("GET", f"/users/{BOB}/authentication/methods/{body['id']}",
                                  token=token)
    assert one["@odata.type"] == TAP_TYPE and one["temporaryAccessPass"] is None


async def test_app_permissions(served: Served) -> None:
    status, body, _ = await served.call("GET", taps(BOB), token=app_token(served.fake, READER_APP))
    assert (status, body["error"]["code"]) == (403, "Authorization_RequestDenied")
    for read in ("UserAuthenticationMethod.Read.All", "UserAuthMethod-TAP.Read.All"):
        token = app_token(served.fake, roles=[read])
        assert (await served.call("GET", taps(BOB), token=token))[0] == 200, read
        assert (await create(served, token=token))[0] == 403, read
    tap_only = app_token(served.fake, roles=["UserAuthMethod-TAP.ReadWrite.All"])
    status, body, _ = await create(served, token=tap_only)
    assert status == 201
    assert (await served.call("GET", taps(BOB), token=tap_only))[0] == 200
    assert (await served.call("DELETE", f"{taps(BOB)}/{body['id']}", token=tap_only))[0] == 204


async def test_delegated_callers_need_a_role_over_the_target(served: Served) -> None:
    # alice: Authentication Administrator scoped to Seattle (bob: direct, non-admin member).
    alice = user_token(served.fake, "alice@contoso.test", RW)
    status, body, _ = await create(served, BOB, token=alice)
    assert status == 201
    assert (await served.call("DELETE", f"{taps(BOB)}/{body['id']}", token=alice))[0] == 204
    for target in ("carol@contoso.test",  # in Seattle only through a group
                   "dave@contoso.test"):  # a direct member, but an admin
        assert (await create(served, uid(target), token=alice))[0] == 403, target
    frank = user_token(served.fake, "frank@contoso.test", RW)  # no role
    assert (await create(served, BOB, token=frank))[0] == 403
    assert (await served.call("GET", taps(BOB), token=frank))[0] == 403
    # a Global Reader reads (never the pass), and changes nothing
    served.fake.directory.assign_role(FRANK, ROLE_TEMPLATES["Global Reader"])
    reader = user_token(served.fake, "frank@contoso.test",
                        ["UserAuthenticationMethod.Read.All"])
    assert (await served.call("GET", taps(BOB), token=reader))[0] == 200
    assert (await create(served, BOB, token=reader))[0] == 403


async def test_own_pass_read_and_delete_but_never_create(served: Served) -> None:
    _, body, _ = await create(served, BOB)
    own = user_token(served.fake, "bob@contoso.test", ["UserAuthenticationMethod.ReadWrite"])
    assert (await create(served, BOB, token=own))[0] == 403
    assert (await served.call("GET", taps(BOB), token=own))[0] == 200
    assert (await served.call("DELETE", f"{taps(BOB)}/{body['id']}", token=own))[0] == 204
    # an administrator cannot give themselves one either
    hank = user_token(served.fake, "hank@contoso.test", RW)
    assert (await create(served, uid("hank@contoso.test"), token=hank))[0] == 403


async def test_fake_user_state_shows_the_pass_settings_never_the_pass(served: Served) -> None:
    async with served.session.get(f"{served.base_url}/_fake/users/{BOB}") as resp:
        assert (await resp.json())["temporaryAccessPass"] is None
    _, body, _ = await create(served, body={"lifetimeInMinutes": 90, "isUsableOnce": True})
    async with served.session.get(f"{served.base_url}/_fake/users/{BOB}") as resp:
        text = await resp.text()
    assert body["temporaryAccessPass"] not in text
    async with served.session.get(f"{served.base_url}/_fake/users/{BOB}") as resp:
        state = await resp.json()
    assert state["temporaryAccessPass"] == {"isUsableOnce": True, "lifetimeInMinutes": 90}


async def test_in_batch(served: Served) -> None:
    status, body, _ = await served.call("POST", "/$batch", token=app_token(served.fake), json={
        "requests": [
            {"id": "1", "method": "POST", "url": taps(BOB), "body": {"lifetimeInMinutes": 60},
             "headers": {"Content-Type": "application/json"}},
            {"id": "2", "method": "GET", "url": taps(BOB), "dependsOn": ["1"]},
            {"id": "3", "method": "POST", "url": taps(BOB), "dependsOn": ["2"],
             "body": {"lifetimeInMinutes": 5}, "headers": {"Content-Type": "application/json"}},
        ]})
    assert status == 200
    responses = {r["id"]: r for r in body["responses"]}
    assert responses["1"]["status"] == 201
    assert responses["1"]["body"]["temporaryAccessPass"]
    assert responses["2"]["body"]["value"][0]["temporaryAccessPass"] is None
    assert responses["3"]["status"] == 400
    assert responses["3"]["body"]["error"]["code"] == "badRequest"
