"""Bearer tokens for the JSON API: every way a token can be wrong is ``401 unauthenticated``.

Tokens are forged with the fake tenant's own signing key (``fake.tokens``), so each one is
wrong in exactly one way; a well-formed token of the same shape is accepted (the control).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from e2e_support import CLIENT_ID, Stack, uid

from fake_graph.tokens import SigningKey, TokenService, b64url

from .support import error_code

MGR = "mgr.upn@e2e.example"
SCRIPT_APP = "e2e0b000-0000-4000-8000-0000000000bb"
OTHER_TENANT = "b1b1b1b1-0000-4000-8000-000000000002"
TARGET = uid("staff2@e2e.example")


def _tokens(stack: Stack) -> TokenService:
    tokens: TokenService = stack.fake.fake.tokens
    return tokens


def _claims(stack: Stack, **changes: Any) -> dict[str, Any]:
    """The claims of a good v2.0 access token for this API (as Entra issues it)."""
    t = _tokens(stack)
    good = t.api_user_token(CLIENT_ID, SCRIPT_APP, uid(MGR), MGR, "Mona ByUpn",
                            ["access_as_user"], [])
    claims: dict[str, Any] = jwt.decode(good, options={"verify_signature": False})
    for key, value in changes.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                     b64url(signature)])


def _hs256_with_public_key(stack: Stack) -> str:
    """The classic key-confusion attack: HMAC keyed with the RSA public key."""
    t = _tokens(stack)
    pem = t.key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": t.key.kid}
    signing_input = ".".join([b64url(json.dumps(header).encode()),
                              b64url(json.dumps(_claims(stack)).encode())])
    sig = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def _tampered(stack: Stack) -> str:
    good = _tokens(stack).sign(_claims(stack))
    head, _, sig = good.split(".")
    payload = b64url(json.dumps(_claims(stack, oid=uid("mgr.oid@e2e.example"))).encode())
    return f"{head}.{payload}.{sig}"


def _other_key(stack: Stack, *, same_kid: bool) -> str:
    key = SigningKey.generate()
    kid = _tokens(stack).key.kid if same_kid else key.kid
    return jwt.encode(_claims(stack), key.private_key, algorithm="RS256",
                      headers={"kid": kid, "typ": "JWT"})


def _own_key_announced(stack: Stack, where: str) -> str:
    """Signed with the attacker's key, which the header offers (``jwk``) or points to
    (``jku``/``x5u``): keys come only from the tenant's configured JWKS."""
    key = SigningKey.generate()
    header: dict[str, Any] = {"kid": key.kid, "typ": "JWT"}
    if where == "jwk":
        header["jwk"] = key.jwk()
    else:
        header[where] = "https://evil.example/keys"
    return jwt.encode(_claims(stack), key.private_key, algorithm="RS256", headers=header)


def _signed(**changes: Any) -> Callable[[Stack], str]:
    return lambda stack: _tokens(stack).sign(_claims(stack, **changes))


def _timed(**offsets: int) -> Callable[[Stack], str]:
    """Signed with time claims relative to the moment the test runs."""
    def make(stack: Stack) -> str:
        now = int(time.time())
        return _tokens(stack).sign(_claims(stack, **{k: now + v for k, v in offsets.items()}))
    return make


BAD_TOKENS: dict[str, Callable[[Stack], str]] = {
    "wrong audience (Graph)": _signed(aud="https://graph.microsoft.com"),
    "wrong audience (another app)": _signed(aud=SCRIPT_APP),
    "wrong audience (api:// of another app)": _signed(aud=f"api://{SCRIPT_APP}"),
    "no audience": _signed(aud=None),
    "a v2.0 token under the v1.0 issuer (sts)": lambda s: _tokens(s).sign(_claims(
        s, iss=f"https://sts.windows.net/{s.settings.tenant.id}/")),
    "a v1.0 token under the v2.0 issuer": _signed(ver="1.0"),
    "wrong issuer (another host)": lambda s: _tokens(s).sign(_claims(
        s, iss=f"https://login.microsoftonline.com/{s.settings.tenant.id}/v2.0")),
    "no issuer": _signed(iss=None),
    "other tenant (tid and iss)": lambda s: _tokens(s).sign(_claims(
        s, tid=OTHER_TENANT, iss=_claims(s)["iss"].replace(s.settings.tenant.id,
                                                            OTHER_TENANT))),
    "other tenant (tid only)": _signed(tid=OTHER_TENANT),
    "no tenant": _signed(tid=None),
    "alg none": lambda s: _unsigned({"alg": "none", "typ": "JWT", "kid": _tokens(s).key.kid},
                                    _claims(s)),
    "alg none, no signature part": lambda s: _unsigned(
        {"alg": "none", "typ": "JWT"}, _claims(s)).rsplit(".", 1)[0] + ".",
    "alg NONE": lambda s: _unsigned({"alg": "NONE", "kid": _tokens(s).key.kid}, _claims(s)),
    "HS256 keyed with the public key": _hs256_with_public_key,
    "RS512 with the real key": lambda s: jwt.encode(
        _claims(s), _tokens(s).key.private_key, algorithm="RS512",
        headers={"kid": _tokens(s).key.kid}),
    "PS256 with the real key": lambda s: jwt.encode(
        _claims(s), _tokens(s).key.private_key, algorithm="PS256",
        headers={"kid": _tokens(s).key.kid}),
    "expired": _timed(exp=-3600, nbf=-7200, iat=-7200),
    "expired beyond the leeway": _timed(exp=-120),
    "no expiry": _signed(exp=None),
    "not yet valid": _timed(nbf=3600, iat=0),
    "not yet valid beyond the leeway": _timed(nbf=180),
    "missing scope": _signed(scp=None),
    "other scope only": _signed(scp="User.Read"),
    "scope as a prefix": _signed(scp="access_as_user_admin"),
    "app-only token (roles, no scp)": lambda s: _tokens(s).api_app_token(
        CLIENT_ID, SCRIPT_APP, str(uuid.uuid4()), ["access_as_user"]),
    "Graph token of the user": lambda s: _tokens(s).graph_user_token(
        CLIENT_ID, uid(MGR), MGR, "Mona", ["access_as_user"], []),
    "ID token of the user (right aud, iss, tid; not an access token)": lambda s: _tokens(
        s).id_token(CLIENT_ID, uid(MGR), MGR, "Mona", nonce="n"),
    "no oid": _signed(oid=None),
    "tampered payload": _tampered,
    "unknown kid": lambda s: _other_key(s, same_kid=False),
    "another key under the real kid": lambda s: _other_key(s, same_kid=True),
    "attacker's key embedded (jwk header)": lambda s: _own_key_announced(s, "jwk"),
    "attacker's key by URL (jku header)": lambda s: _own_key_announced(s, "jku"),
    "attacker's key by URL (x5u header)": lambda s: _own_key_announced(s, "x5u"),
    "no kid": lambda s: jwt.encode(_claims(s), _tokens(s).key.private_key, algorithm="RS256"),
    "signature stripped": lambda s: _tokens(s).sign(_claims(s)).rsplit(".", 1)[0] + ".",
    "not a JWT": lambda s: "not-a-token",
    "JSON garbage": lambda s: ".".join(
        base64.urlsafe_b64encode(b"{").decode() for _ in range(3)),
}


async def _me(stack: Stack, authorization: str) -> tuple[int, Any]:
    m = await stack.manager()
    status, body, _ = await m.call("GET", "/api/v1/me", headers={"Authorization": authorization})
    return status, body


async def test_a_good_token_is_accepted(stack: Stack) -> None:
    """The control: without it every refusal below could be a broken token factory."""
    for aud in (CLIENT_ID, f"api://{CLIENT_ID}"):
        status, body = await _me(stack, "Bearer " + _tokens(stack).sign(_claims(stack, aud=aud)))
        assert status == 200, body
        assert body["id"] == uid(MGR) and "csrfToken" not in body
    # Within the 60 s clock-skew leeway (as Microsoft's own libraries allow).
    status, _ = await _me(stack, "Bearer " + _tokens(stack).sign(_claims(
        stack, exp=int(time.time()) - 30)))
    assert status == 200


@pytest.mark.parametrize("name", list(BAD_TOKENS))
async def test_bad_token_is_unauthenticated(stack: Stack, name: str) -> None:
    token = BAD_TOKENS[name](stack)
    status, body = await _me(stack, "Bearer " + token)
    assert (status, error_code(body)) == (401, "unauthenticated"), (name, body)
    # And it changes nothing either (no CSRF needed with a bearer token: only the token).
    before = stack.fake_user("staff2@e2e.example").password
    m = await stack.manager()
    status, body, _ = await m.call("POST", f"/api/v1/locations/north/staff/{TARGET}/password",
                                   {}, csrf=False, headers={"Authorization": "Bearer " + token})
    assert (status, error_code(body)) == (401, "unauthenticated")
    assert stack.fake_user("staff2@e2e.example").password == before


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic bWdyOnB3", "bearer",
                                    "Token abc", "Bearer a b", "Negotiate YII="])
async def test_malformed_authorization_headers(stack: Stack, header: str) -> None:
    status, body = await _me(stack, header)
    assert (status, error_code(body)) == (401, "unauthenticated")


async def test_a_valid_token_can_act_without_csrf(stack: Stack) -> None:
    token = _tokens(stack).sign(_claims(stack))
    m = await stack.manager()
    status, body, _ = await m.call("POST", f"/api/v1/locations/north/staff/{TARGET}/password",
                                   {}, csrf=False, headers={"Authorization": "Bearer " + token})
    assert status == 200, body
    assert stack.fake_user("staff2@e2e.example").password == body["temporaryPassword"]
    record = [r for r in stack.audit() if r["event"] == "password_reset"][-1]
    assert record["actor"]["id"] == uid(MGR) and record["outcome"] == "success"


async def test_unknown_kids_do_not_hammer_the_tenants_key_endpoint(stack: Stack) -> None:
    """Keys are fetched again on an unknown kid at most once a minute."""
    m = await stack.manager()
    async with m.session.get(stack.fake_url + "/_fake/requests") as resp:
        since = (await resp.json())["next"]
    for _ in range(20):
        status, _, _ = await m.call("GET", "/api/v1/me", headers={
            "Authorization": "Bearer " + _other_key(stack, same_kid=False)})
        assert status == 401
    async with m.session.get(stack.fake_url + f"/_fake/requests?since={since}") as resp:
        log = (await resp.json())["value"]
    fetches = [r for r in log if r["path"].endswith("/discovery/v2.0/keys")]
    assert len(fetches) == 1, fetches  # the first unknown kid's fetch; no more in a minute
