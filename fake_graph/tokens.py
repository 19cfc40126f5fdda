"""Signing keys and tokens of the fake identity platform (RS256, served as JWKS with ``kid``).

Token shapes follow what Entra issues
(https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference,
https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference):
- Graph access tokens are v1.0 tokens: ``iss`` ``https://sts.windows.net/{tid}/``, ``aud``
  ``https://graph.microsoft.com``, ``appid``, and ``roles`` (app) or ``scp`` (delegated).
- ID tokens and access tokens for an app's own API are v2.0 tokens: ``iss``
  ``{base}/{tid}/v2.0`` (the fake's own URL, as its discovery document says), ``aud`` = client id.
- Unless the API's manifest accepts only v1.0 (``accessTokenAcceptedVersion`` 1 or null, the
  default for a custom API in Entra; tenant key ``access_token_version: 1``): then its access
  tokens are v1.0, as for Graph: ``iss`` ``https://sts.windows.net/{tid}/``, ``aud`` as the
  client asked for it (``api://client_id`` or the client id), ``appid``, ``upn``.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_AUDIENCES = (GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID)
ACCESS_TOKEN_LIFETIME = 3599


class InvalidToken(Exception):
    """A token that is malformed, badly signed, expired or not meant for the caller."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SigningKey:
    """One RSA key pair; ``kid`` is derived from the public key, as Entra's are stable ids."""

    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(private_key=key, kid=b64url(hashlib.sha256(der).digest()[:20]))

    def jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
                "n": b64url(n), "e": b64url(e), "alg": "RS256"}


class TokenService:
    """Mints and verifies the fake's tokens. One signing key per fake instance."""

    def __init__(self, tenant_id: str, base_url: str, key: SigningKey | None = None) -> None:
        self.tenant_id = tenant_id
        self.base_url = base_url.rstrip("/")
        self.key = key or SigningKey.generate()

    @property
    def issuer_v2(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/v2.0"

    @property
    def issuer_v1(self) -> str:
        return f"https://sts.windows.net/{self.tenant_id}/"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.jwk()]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key.private_key, algorithm="RS256",
                          headers={"kid": self.key.kid, "typ": "JWT"})

    def _base_claims(self, lifetime: int) -> dict[str, Any]:
        now = int(time.time())
        return {"iat": now, "nbf": now, "exp": now + lifetime, "tid": self.tenant_id,
                "uti": b64url(uuid.uuid4().bytes), "aio": b64url(uuid.uuid4().bytes)}

    def graph_app_token(self, client_id: str, sp_id: str, roles: list[str],
                        extra: dict[str, Any] | None = None) -> str:
        """An app-only Graph token (client credentials): permissions in ``roles``."""
        claims = self._base_claims(ACCESS_TOKEN_LIFETIME) | {
            "aud": GRAPH_RESOURCE, "iss": self.issuer_v1, "appid": client_id,
            "appidacr": "1", "idtyp": "app", "oid": sp_id, "sub": sp_id,
            "roles": sorted(roles), "ver": "1.0",
        }
        return self.sign(claims | (extra or {}))

    def graph_user_token(self, client_id: str, user_id: str, upn: str, name: str,
                         scopes: list[str], wids: list[str],
                         extra: dict[str, Any] | None = None) -> str:
        """A delegated Graph token: granted scopes in ``scp`` (space-separated)."""
        claims = self._base_claims(ACCESS_TOKEN_LIFETIME) | {
            "aud": GRAPH_RESOURCE, "iss": self.issuer_v1, "appid": client_id,
            "appidacr": "1", "idtyp": "user", "oid": user_id, "sub": _pairwise(user_id, client_id),
            "upn": upn, "unique_name": upn, "name": name, "scp": " ".join(scopes),
            "wids": wids, "ver": "1.0",
        }
        return self.sign(claims | (extra or {}))

    def api_user_token(self, audience_client_id: str, caller_client_id: str, user_id: str,
                       upn: str, name: str, scopes: list[str], wids: list[str], *,
                       version: int = 2, audience: str | None = None,
                       extra: dict[str, Any] | None = None) -> str:
        """An access token for an app's own API (``api://client_id/scope``): v2.0, or v1.0
        with ``version=1`` (``aud`` = ``audience``, as requested; default the client id).
        ``extra``: optional claims the API's registration asks for (``auth_time``)."""
        if version == 1:
            return self.sign(self._base_claims(ACCESS_TOKEN_LIFETIME) | {
                "aud": audience or audience_client_id, "iss": self.issuer_v1,
                "appid": caller_client_id, "appidacr": "1", "oid": user_id,
                "sub": _pairwise(user_id, audience_client_id), "upn": upn,
                "unique_name": upn, "name": name, "scp": " ".join(scopes), "wids": wids,
                "ver": "1.0",
            } | (extra or {}))
        claims = self._base_claims(ACCESS_TOKEN_LIFETIME) | {
            "aud": audience_client_id, "iss": self.issuer_v2, "azp": caller_client_id,
            "azpacr": "1", "oid": user_id, "sub": _pairwise(user_id, audience_client_id),
            "preferred_username": upn, "name": name, "scp": " ".join(scopes),
            "wids": wids, "ver": "2.0",
        }
        return self.sign(claims | (extra or {}))

    def api_app_token(self, audience_client_id: str, caller_client_id: str, caller_sp_id: str,
                      roles: list[str], *, version: int = 2, audience: str | None = None) -> str:
        """An app-only token for an app's own API (client credentials, ``api://x/.default``):
        v2.0, or v1.0 with ``version=1``."""
        if version == 1:
            return self.sign(self._base_claims(ACCESS_TOKEN_LIFETIME) | {
                "aud": audience or audience_client_id, "iss": self.issuer_v1,
                "appid": caller_client_id, "appidacr": "1", "idtyp": "app",
                "oid": caller_sp_id, "sub": caller_sp_id, "roles": sorted(roles), "ver": "1.0",
            })
        claims = self._base_claims(ACCESS_TOKEN_LIFETIME) | {
            "aud": audience_client_id, "iss": self.issuer_v2, "azp": caller_client_id,
            "azpacr": "1", "idtyp": "app", "oid": caller_sp_id, "sub": caller_sp_id,
            "roles": sorted(roles), "ver": "2.0",
        }
        return self.sign(claims)

    def id_token(self, client_id: str, user_id: str, upn: str, name: str,
                 nonce: str | None, lifetime: int = 3600,
                 extra: dict[str, Any] | None = None) -> str:
        claims = self._base_claims(lifetime) | {
            "aud": client_id, "iss": self.issuer_v2, "oid": user_id,
            "sub": _pairwise(user_id, client_id), "preferred_username": upn, "name": name,
            "ver": "2.0",
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return self.sign(claims | (extra or {}))

    def verify(self, token: str, audiences: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Signature (our key, RS256 only), lifetime and, if given, audience."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        if header.get("kid") != self.key.kid:
            raise InvalidToken("token signed by an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self.key.private_key.public_key(), algorithms=["RS256"],
                audience=list(audiences) if audiences else None,
                options={"verify_aud": audiences is not None, "require": ["exp", "iat"]},
                leeway=0,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if claims.get("tid") != self.tenant_id:
            raise InvalidToken("token from another tenant")
        return claims


def client_info(user_id: str, tenant_id: str) -> str:
    """The ``client_info`` token response field MSAL builds its account id from."""
    import json

    return b64url(json.dumps({"uid": user_id, "utid": tenant_id}).encode())


def _pairwise(user_id: str, client_id: str) -> str:
    """Entra's ``sub`` is pairwise: stable per user and app, different across apps."""
    return b64url(hashlib.sha256(f"{user_id}:{client_id}".encode()).digest())
