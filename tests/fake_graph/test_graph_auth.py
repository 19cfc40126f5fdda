"""Bearer tokens (401 InvalidAuthenticationToken), permissions (403), Graph error shapes."""

from __future__ import annotations

import time

import jwt
from graph_support import (
    PROXY_APP,
    READER_APP,
    Served,
    app_token,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    unit_id,
)

from fake_graph.tokens import b64url

BOB = uid("bob@contoso.test")


def assert_graph_error(body: dict[str, object], code: str) -> None:
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


async def test_missing_token_is_401_with_challenge(served: Served) -> None:
    status, body, headers = await served.call("GET", f"/users/{BOB}",
                                              headers={"client-request-id": "abc-123"})
    assert status == 401
    assert_graph_error(body, "InvalidAuthenticationToken")
    assert body["error"]["message"] == "Access token is empty."
    assert body["error"]["innerError"]["client-request-id"] == "abc-123"
    assert headers["client-request-id"] == "abc-123"
    assert headers["request-id"] == body["error"]["innerError"]["request-id"]
    assert headers["WWW-Authenticate"].startswith("Bearer ")


async def test_garbage_token_is_401(served: Served) -> None:
    status, body, _ = await served.call("GET", f"/users/{BOB}", token="not-a-jwt")
    assert status == 401
    assert_graph_error(body, "InvalidAuthenticationToken")


async def test_expired_token_is_401(served: Served) -> None:
    token = app_token(served.fake, exp=int(time.time()) - 10)
    status, body, _ = await served.call("GET", f"/users/{BOB}", token=token)
    assert status == 401
    assert body["error"]["message"] == "Lifetime validation failed, the token is expired."


async def test_other_tenant_token_is_401(served: Served) -> None:
    token = app_token(served.fake, tid="11111111-2222-3333-4444-555555555555")
    status, body, _ = await served.call("GET", f"/users/{BOB}", token=token)
    assert status == 401
    assert_graph_error(body, "InvalidAuthenticationToken")


async def test_unsigned_token_is_401(served: Served) -> None:
    claims = jwt.decode(app_token(served.fake), options={"verify_signature": False})
    header = b64url(b'{"alg":"none","typ":"JWT"}')
    unsigned = f"{header}.{b64url(jwt.utils.force_bytes(jwt.api_jws.json.dumps(claims)))}."
    status, _, _ = await served.call("GET", f"/users/{BOB}", token=unsigned)
    assert status == 401


async def test_token_for_another_audience_is_401(served: Served) -> None:
    token = app_token(served.fake, aud="api://someone-else")
    status, body, _ = await served.call("GET", f"/users/{BOB}", token=token)
    assert status == 401
    assert "Invalid audience" in body["error"]["message"]


async def test_token_without_permissions_is_401(served: Served) -> None:
    token = app_token(served.fake, roles=[])
    status, body, _ = await served.call("GET", f"/users/{BOB}", token=token)
    assert status == 401
    assert body["error"]["message"] == ("Either scp or roles claim need to be present in the "
                                        "token.")


async def test_missing_permission_is_403(served: Served) -> None:
    token = app_token(served.fake, READER_APP)  # User.Read.All only
    status, body, _ = await served.call("GET", "/directory/administrativeUnits", token=token)
    assert status == 403
    assert_graph_error(body, "Authorization_RequestDenied")
    assert body["error"]["message"] == "Insufficient privileges to complete the operation."
    status, _, _ = await served.call("GET", f"/users/{BOB}", token=token)
    assert status == 200


async def test_broader_permission_satisfies_a_read(served: Served) -> None:
    token = app_token(served.fake, roles=["Directory.Read.All"])
    status, _, _ = await served.call("GET", f"/users/{BOB}", token=token)
    assert status == 200
    token = app_token(served.fake, roles=["AdministrativeUnit.ReadWrite.All"])
    status, _, _ = await served.call(
        "GET", f"/directory/administrativeUnits/{unit_id('Seattle store')}", token=token)
    assert status == 200


async def test_type_the_caller_cannot_read_comes_back_limited(served: Served) -> None:
    token = app_token(served.fake, roles=["AdministrativeUnit.Read.All"])
    status, body, _ = await served.call(
        "GET", f"/directory/administrativeUnits/{unit_id('Seattle store')}/members",
        token=token)
    assert status == 200
    bob = next(m for m in body["value"] if m["id"] == BOB)
    assert bob["@odata.type"] == "#microsoft.graph.user"
    assert bob["displayName"] is None and bob["userPrincipalName"] is None


async def test_requests_are_recorded_with_client_id(served: Served) -> None:
    since = served.fake.recorder.last_seq
    await served.call("GET", f"/users/{BOB}", token=app_token(served.fake),
                      params={"$select": "id"})
    records, _ = served.fake.recorder.since(since)
    assert [(r.method, r.path, r.query, r.status, r.client_id, r.batch) for r in records] == [
        ("GET", f"/v1.0/users/{BOB}", "$select=id", 200, PROXY_APP, False)]
