"""Bearer tokens for the JSON API: Entra access tokens issued for this app, checked locally.

Signature against the tenant's JWKS (keys cached, fetched again on an unknown ``kid`` at most
once a minute), RS256 only, issuer and tenant, audience (client id or ``api://client id``,
with or without a trailing ``/``), lifetime, the configured scope in ``scp``, and, when
``[app] allowed_client_ids`` is set, the client app that asked for the token.

Both token versions Entra issues for an API are accepted. v2.0 (the API's manifest asks for
v2): issuer ``{authority}/v2.0``, client app in ``azp``, ``preferred_username``. v1.0 (Entra's
default for a custom API): issuer and keys from the tenant's v1.0 metadata
(``{authority}/.well-known/openid-configuration``; ``https://sts.windows.net/{tid}/`` in the
public cloud), client app in ``appid``, ``upn`` / ``unique_name``. A token's ``ver`` must match
the issuer it names. ``auth_time``, when the token has it, is when the user entered their
credentials (reauth.py): refresh tokens and single sign-on keep it as it was.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from jwt.algorithms import RSAAlgorithm

from mystaff_proxy.auth.reauth import auth_time

_REFETCH_INTERVAL = 60.0
_LEEWAY = 60  # seconds of clock skew tolerated, as Microsoft's own libraries do


class BearerError(Exception):
    """The token is not acceptable; the message is for logs, never echoed to clients."""


class KeysUnavailable(BearerError):
    """The tenant's signing keys could not be fetched: the identity platform failing, not a
    bad token (a 401 would make a script drop a good token). ``timeout``: it did not answer."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass(frozen=True)
class BearerUser:
    oid: str
    upn: str
    name: str
    tid: str
    issued_at: float  # iat (required and checked by PyJWT)
    #: The token's auth_time (an optional claim of the API's registration): when the user
    #: entered their credentials; None without it (a re-authentication policy refuses).
    authenticated_at: float | None = None


async def _get_json(session: aiohttp.ClientSession, url: str, seconds: float,
                    what: str) -> Any:
    """GET a JSON document of the tenant's, or raise ``KeysUnavailable`` naming ``what``."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=seconds)) as resp:
            if resp.status != 200:
                raise KeysUnavailable(f"{what}: HTTP {resp.status}")
            return await resp.json(content_type=None)
    except TimeoutError:
        raise KeysUnavailable(f"{what}: no answer", timeout=True) from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise KeysUnavailable(f"{what}: {type(exc).__name__}") from None


class JwksCache:
    """The tenant's signing keys by ``kid``."""

    def __init__(self, jwks_uri: str, session: aiohttp.ClientSession, *,
                 timeout: float = 10.0) -> None:
        self._uri = jwks_uri
        self._session = session
        self._timeout = timeout
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._keys.get(kid)
            stale = not self._fetched or time.monotonic() - self._fetched >= _REFETCH_INTERVAL
            if key is None and stale:
                await self._refresh()
                key = self._keys.get(kid)
        if key is None:
            raise BearerError("unknown signing key")
        return key

    async def _refresh(self) -> None:
        # Only a successful fetch counts against the once-a-minute limit: after a failed one,
        # the next token is checked against a new fetch (the fault matrix found good tokens
        # refused for a minute after an outage).
        body = await _get_json(self._session, self._uri, self._timeout, "signing keys")
        if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            raise KeysUnavailable("signing keys: not a key set")
        keys: dict[str, Any] = {}
        for jwk in body["keys"]:
            if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and "kid" in jwk:
                keys[str(jwk["kid"])] = RSAAlgorithm.from_jwk(json.dumps(jwk))
        self._keys = keys
        self._fetched = time.monotonic()


class V1Metadata:
    """The tenant's v1.0 metadata: the issuer of v1.0 tokens and their keys. Read once, on
    the first v1.0-looking token (a failed read is tried again at the next one)."""

    def __init__(self, url: str, session: aiohttp.ClientSession, *,
                 timeout: float = 10.0) -> None:
        self._url = url
        self._session = session
        self._timeout = timeout
        self._found: tuple[str, JwksCache] | None = None
        self._lock = asyncio.Lock()

    async def issuer_and_keys(self) -> tuple[str, JwksCache]:
        async with self._lock:
            if self._found is None:
                self._found = await self._read()
        return self._found

    async def _read(self) -> tuple[str, JwksCache]:
        body = await _get_json(self._session, self._url, self._timeout, "v1.0 metadata")
        issuer = body.get("issuer") if isinstance(body, dict) else None
        jwks_uri = body.get("jwks_uri") if isinstance(body, dict) else None
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str) \
                or not jwks_uri.startswith("https://"):
            raise KeysUnavailable("v1.0 metadata: no issuer or jwks_uri")
        return issuer, JwksCache(jwks_uri, self._session, timeout=self._timeout)


class BearerValidator:
    def __init__(self, *, jwks: JwksCache, tenant_id: str, issuer: str, client_id: str,
                 scope: str, v1: V1Metadata | None = None,
                 allowed_client_ids: tuple[str, ...] = ()) -> None:
        self._jwks = jwks
        self._tenant_id = tenant_id.lower()
        self._issuer = issuer
        # The client id, and the identifier URI (api://client id) that v1.0 tokens carry as
        # the client wrote it: Entra keeps a trailing slash if it was asked with one.
        self._audiences = [client_id, f"api://{client_id}", f"api://{client_id}/"]
        self._scope = scope
        self._v1 = v1
        self._allowed_clients = frozenset(c.lower() for c in allowed_client_ids)

    async def validate(self, token: str) -> BearerUser:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise BearerError("malformed token") from None
        if header.get("alg") != "RS256":
            raise BearerError("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise BearerError("token without kid")
        try:
            # Only to choose the issuer (and its keys) to check it against; nothing here is
            # trusted before the signature and every claim are verified below.
            named_issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise BearerError("malformed token") from None
        if named_issuer == self._issuer:
            issuer, keys, version = self._issuer, self._jwks, "2.0"
        elif self._v1 is not None and isinstance(named_issuer, str):
            issuer, keys = await self._v1.issuer_and_keys()
            version = "1.0"
        else:
            raise BearerError("token from another issuer")
        key = await keys.key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["RS256"], audience=self._audiences,
                issuer=issuer, leeway=_LEEWAY,
                options={"require": ["exp", "nbf", "iat", "iss", "aud", "tid", "oid"]},
            )
        except jwt.PyJWTError as exc:
            raise BearerError(f"token refused: {type(exc).__name__}") from None
        if claims.get("ver") != version:
            raise BearerError(f"a version {claims.get('ver')!r} token from the v{version} issuer")
        if str(claims.get("tid", "")).lower() != self._tenant_id:
            raise BearerError("token from another tenant")
        scopes = str(claims.get("scp", "")).split()
        if self._scope not in scopes:
            raise BearerError("token lacks the API scope")
        client = claims.get("azp") if version == "2.0" else claims.get("appid")
        if self._allowed_clients and str(client or "").lower() not in self._allowed_clients:
            raise BearerError("token for a client app that is not allowed")
        if version == "2.0":
            upn = claims.get("preferred_username") or claims.get("upn")
        else:
            upn = claims.get("upn") or claims.get("unique_name")
        return BearerUser(
            oid=str(claims["oid"]).lower(),
            upn=str(upn or ""),
            name=str(claims.get("name", "")),
            tid=self._tenant_id,
            issued_at=float(claims["iat"]),
            authenticated_at=auth_time(claims),
        )
