"""Bearer tokens for the JSON API: real tokens from the fake tenant's token endpoint.

A token issued for this app's API (``api://client_id/access_as_user``) works without a session
and without CSRF; a token for Graph, an expired, tampered, foreign or scope-less token is 401.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from e2e_checks import (
    SCRIPT_CLIENT_ID,
    AuditTail,
    bearer_call,
    error_code,
    fetch_token,
    user_token,
)
from e2e_support import CLIENT_ID, Stack, running_stack, uid

from fake_graph.embedded import RunningFake

NORTH = "/api/v1/locations/north/staff"
STAFF2 = uid("staff2@e2e.example")
MGR = "mgr.oid@e2e.example"


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def sign(stack: Stack, claims: dict[str, Any], **header: Any) -> str:
    """A token signed with the fake tenant's own key (as Entra would sign it)."""
    tokens = stack.fake.fake.tokens
    return jwt.encode(claims, tokens.key.private_key, algorithm="RS256",
                      headers={"kid": tokens.key.kid, "typ": "JWT", **header})


async def test_a_real_token_works_without_csrf(stack: Stack) -> None:
    token = await user_token(stack, MGR)
    claims = claims_of(token)
    assert claims["aud"] == CLIENT_ID and "access_as_user" in claims["scp"].split()
    status, me, _ = await bearer_call(stack, token, "GET", "/api/v1/me")
    assert status == 200
    assert me["id"] == uid(MGR) and me["userPrincipalName"] == MGR
    assert "csrfToken" not in me  # for session callers only
    assert [loc["id"] for loc in me["locations"]] == ["north"]
    audit = AuditTail(stack)
    status, body, headers = await bearer_call(stack, token, "POST",
                                              f"{NORTH}/{STAFF2}/password", {})
    assert status == 200, body
    assert headers["Cache-Control"] == "no-store"
    assert stack.fake_user("staff2@e2e.example").password == body["temporaryPassword"]
    assert audit.one()["actor"]["id"] == uid(MGR)
    cases: list[tuple[str, str, Any, int]] = [
        ("GET", "/api/v1/locations", None, 200),
        ("GET", f"{NORTH}?top=2", None, 200),
        ("GET", f"{NORTH}/{STAFF2}", None, 200),
        ("POST", f"{NORTH}/{STAFF2}/phone-methods",
         {"phoneType": "mobile", "phoneNumber": "4255550100"}, 201),
        ("PATCH", f"{NORTH}/{STAFF2}/phone-methods/mobile", {"phoneNumber": "4255550101"}, 200),
        ("DELETE", f"{NORTH}/{STAFF2}/phone-methods/mobile", None, 204),
    ]
    for method, path, payload, want in cases:
        status, body, _ = await bearer_call(stack, token, method, path, payload)
        assert status == want, (method, path, body)


async def test_the_api_default_scope_and_a_non_manager(stack: Stack) -> None:
    token = await user_token(stack, "nobody@e2e.example", scope=f"api://{CLIENT_ID}/.default")
    status, me, _ = await bearer_call(stack, token, "GET", "/api/v1/me")
    assert status == 200 and me["locations"] == []
    status, body, _ = await bearer_call(stack, token, "GET", "/api/v1/locations")
    assert (status, error_code(body)) == (403, "insufficient_permissions")


async def refused(stack: Stack, token: str) -> None:
    before = stack.fake_user("staff2@e2e.example").password
    audit = AuditTail(stack)
    cases: list[tuple[str, str, Any]] = [("GET", "/api/v1/me", None),
                                         ("POST", f"{NORTH}/{STAFF2}/password", {})]
    for method, path, body in cases:
        status, data, _ = await bearer_call(stack, token, method, path, body)
        assert (status, error_code(data)) == (401, "unauthenticated"), data
    assert stack.fake_user("staff2@e2e.example").password == before
    assert audit.new() == []


async def test_a_graph_token_is_refused(stack: Stack) -> None:
    token = await user_token(stack, MGR, scope="https://graph.microsoft.com/User.Read")
    assert claims_of(token)["aud"] == "https://graph.microsoft.com"
    await refused(stack, token)


async def test_an_app_only_token_without_the_scope_is_refused(stack: Stack) -> None:
    body = await fetch_token(stack, {"grant_type": "client_credentials",
                                     "scope": f"api://{CLIENT_ID}/.default"})
    token = body["access_token"]
    assert claims_of(token)["aud"] == CLIENT_ID and "scp" not in claims_of(token)
    await refused(stack, token)


async def test_a_tampered_token_is_refused(stack: Stack) -> None:
    token = await user_token(stack, MGR)
    header, payload, signature = token.split(".")
    claims = claims_of(token)
    claims["oid"] = uid("mgr.upn@e2e.example")
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    await refused(stack, f"{header}.{forged}.{signature}")
    await refused(stack, f"{header}.{payload}.{signature[:-6]}AAAAAA")
    await refused(stack, f"{header}.{payload}.")
    # "alg": "none" and a symmetric algorithm keyed with the public key are refused
    none = jwt.encode(claims_of(token), key=None, algorithm="none")  # type: ignore[arg-type]
    await refused(stack, none)
    hs = jwt.encode(claims_of(token), "a-shared-secret-of-32-bytes-or-more", algorithm="HS256",
                    headers={"kid": stack.fake.fake.tokens.key.kid})
    await refused(stack, hs)


def _api_claims(stack: Stack, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"aud": CLIENT_ID, "iss": f"{stack.fake_url}/{stack.fake.tenant_id}/v2.0",
              "iat": now, "nbf": now, "exp": now + 3600, "tid": stack.fake.tenant_id,
              "azp": SCRIPT_CLIENT_ID, "oid": uid(MGR), "sub": "x",
              "preferred_username": MGR, "name": "Omar ByOid", "scp": "access_as_user",
              "ver": "2.0"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_a_well_formed_token_signed_by_the_tenant_works(stack: Stack) -> None:
    """The control for the cases below: the hand-made claims are accepted as they are."""
    status, me, _ = await bearer_call(stack, sign(stack, _api_claims(stack)), "GET", "/api/v1/me")
    assert status == 200 and me["id"] == uid(MGR)
    status, _, _ = await bearer_call(stack, sign(stack, _api_claims(
        stack, aud=f"api://{CLIENT_ID}")), "GET", "/api/v1/me")
    assert status == 200


@pytest.mark.parametrize("changes", [
    pytest.param({"exp": int(time.time()) - 600, "iat": int(time.time()) - 4200,
                  "nbf": int(time.time()) - 4200}, id="expired"),
    pytest.param({"nbf": int(time.time()) + 3600}, id="not-yet-valid"),
    pytest.param({"scp": "User.Read"}, id="other-scope"),
    pytest.param({"scp": None}, id="no-scope"),
    pytest.param({"aud": "https://graph.microsoft.com"}, id="graph-audience"),
    pytest.param({"aud": SCRIPT_CLIENT_ID}, id="other-app"),
    pytest.param({"tid": str(uuid.uuid4())}, id="other-tenant"),
    pytest.param({"iss": "https://sts.windows.net/x/"}, id="other-issuer"),
    pytest.param({"oid": None}, id="no-oid"),
    pytest.param({"exp": None}, id="no-expiry"),
])
async def test_a_token_that_breaks_one_rule_is_refused(stack: Stack,
                                                       changes: dict[str, Any]) -> None:
    await refused(stack, sign(stack, _api_claims(stack, **changes)))


async def test_a_token_signed_by_another_key_is_refused(stack: Stack) -> None:
    from fake_graph.tokens import SigningKey

    other = SigningKey.generate()
    token = jwt.encode(_api_claims(stack), other.private_key, algorithm="RS256",
                       headers={"kid": stack.fake.fake.tokens.key.kid})
    await refused(stack, token)
    token = jwt.encode(_api_claims(stack), other.private_key, algorithm="RS256",
                       headers={"kid": other.kid})
    await refused(stack, token)


# -- v1.0 tokens (an API whose manifest accepts v1.0, Entra's default for a custom API) ---------

V1_ISSUER = "https://sts.windows.net/{tid}/"


def accepts_v1(stack: Stack) -> None:
    """The proxy's app registration as Entra creates it: its API gets v1.0 access tokens."""
    stack.fake.fake.directory.applications[CLIENT_ID].access_token_version = 1


async def test_a_real_v1_token_works(stack: Stack) -> None:
    """The proxy refused every v1.0 token (pen test #13): a script of a tenant whose API
    registration kept Entra's default could not use the API at all."""
    accepts_v1(stack)
    for scope, aud in ((f"api://{CLIENT_ID}/access_as_user", f"api://{CLIENT_ID}"),
                       (f"{CLIENT_ID}/access_as_user", CLIENT_ID)):
        token = await user_token(stack, MGR, scope=scope)
        claims = claims_of(token)
        assert (claims["ver"], claims["aud"], claims["appid"]) == ("1.0", aud, SCRIPT_CLIENT_ID)
        assert claims["iss"] == V1_ISSUER.format(tid=stack.fake.tenant_id)
        status, me, _ = await bearer_call(stack, token, "GET", "/api/v1/me")
        assert status == 200, me
        assert me["id"] == uid(MGR) and me["userPrincipalName"] == MGR
    status, body, _ = await bearer_call(stack, token, "POST", f"{NORTH}/{STAFF2}/password", {})
    assert status == 200, body
    assert stack.fake_user("staff2@e2e.example").password == body["temporaryPassword"]


def _v1_claims(stack: Stack, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"aud": f"api://{CLIENT_ID}", "iss": V1_ISSUER.format(tid=stack.fake.tenant_id),
              "iat": now, "nbf": now, "exp": now + 3600, "tid": stack.fake.tenant_id,
              "appid": SCRIPT_CLIENT_ID, "appidacr": "1", "oid": uid(MGR), "sub": "x",
              "upn": MGR, "unique_name": MGR, "name": "Omar ByOid", "scp": "access_as_user",
              "ver": "1.0"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_a_well_formed_v1_token_works_with_each_audience(stack: Stack) -> None:
    """The control for the cases below; the v1.0 metadata is read once, not per token."""
    seq = stack.fake.fake.recorder.last_seq
    for aud in (CLIENT_ID, f"api://{CLIENT_ID}", f"api://{CLIENT_ID}/"):
        token = sign(stack, _v1_claims(stack, aud=aud))
        status, me, _ = await bearer_call(stack, token, "GET", "/api/v1/me")
        assert (status, me["userPrincipalName"]) == (200, MGR)
    token = sign(stack, _v1_claims(stack, upn=None))  # unique_name when there is no upn
    assert (await bearer_call(stack, token, "GET", "/api/v1/me"))[1]["userPrincipalName"] == MGR
    paths = [r.path for r in stack.fake.fake.recorder.since(seq)[0]]
    tid = stack.fake.tenant_id
    assert paths.count(f"/{tid}/.well-known/openid-configuration") == 1
    assert paths.count(f"/{tid}/discovery/keys") == 1


@pytest.mark.parametrize("changes", [
    pytest.param({"iss": "https://sts.windows.net/00000000-0000-4000-8000-000000000000/"},
                 id="another-tenant's-v1-issuer"),
    pytest.param({"iss": "https://sts.windows.net/x/"}, id="other-issuer"),
    pytest.param({"iss": "https://login.microsoftonline.com/{tid}/"}, id="v1-path-other-host"),
    pytest.param({"aud": f"api://{SCRIPT_CLIENT_ID}"}, id="another-app's-uri"),
    pytest.param({"aud": f"api://{CLIENT_ID}/access_as_user"}, id="uri-with-a-path"),
    pytest.param({"aud": "https://graph.microsoft.com"}, id="graph-audience"),
    pytest.param({"ver": "2.0"}, id="v2-claims-under-the-v1-issuer"),
    pytest.param({"ver": None}, id="no-version"),
    pytest.param({"scp": None}, id="no-scope"),
    pytest.param({"tid": str(uuid.uuid4())}, id="other-tenant"),
    pytest.param({"oid": None}, id="no-oid"),
])
async def test_a_v1_token_that_breaks_one_rule_is_refused(stack: Stack,
                                                          changes: dict[str, Any]) -> None:
    if isinstance(changes.get("iss"), str):
        changes = {**changes, "iss": changes["iss"].format(tid=stack.fake.tenant_id)}
    await refused(stack, sign(stack, _v1_claims(stack, **changes)))


async def test_a_v2_token_under_the_v1_issuer_is_refused(stack: Stack) -> None:
    await refused(stack, sign(stack, _api_claims(
        stack, iss=V1_ISSUER.format(tid=stack.fake.tenant_id))))


# -- [app] allowed_client_ids ---------------------------------------------------------------

OTHER_APP = "e2e0c000-0000-4000-8000-0000000000cc"


async def test_only_the_allowed_client_apps_tokens_are_accepted(
        e2e_fake: RunningFake, tmp_path: Any) -> None:
    """Any app of the tenant could call the API with a user's token (pen test #13); with
    allowed_client_ids only the listed ones can, by azp (v2.0) or appid (v1.0)."""
    async with running_stack(e2e_fake, tmp_path,
                             app={"allowed_client_ids": [SCRIPT_CLIENT_ID.upper()]}) as stack:
        token = await user_token(stack, MGR)  # a real token of the allowed script app
        assert claims_of(token)["azp"] == SCRIPT_CLIENT_ID
        assert (await bearer_call(stack, token, "GET", "/api/v1/me"))[0] == 200
        for claims in (_api_claims(stack, azp=OTHER_APP), _api_claims(stack, azp=None),
                       _v1_claims(stack, appid=OTHER_APP), _v1_claims(stack, appid=None)):
            await refused(stack, sign(stack, claims))
        assert (await bearer_call(stack, sign(stack, _v1_claims(stack)), "GET",
                                  "/api/v1/me"))[0] == 200
        # A real token the proxy's own app asked for itself (azp = the proxy): not listed.
        own = await user_token_as(stack, CLIENT_ID, "e2e-proxy-secret", MGR)
        assert claims_of(own)["azp"] == CLIENT_ID
        await refused(stack, own)


async def user_token_as(stack: Stack, client_id: str, secret: str, upn: str) -> str:
    from e2e_support import PASSWORDS

    body = await fetch_token(stack, {"client_id": client_id, "client_secret": secret,
                                     "grant_type": "password", "username": upn,
                                     "password": PASSWORDS[upn],
                                     "scope": f"api://{CLIENT_ID}/access_as_user"})
    return str(body["access_token"])
