"""Client authentication at the token endpoint: secret (body or Basic) or certificate assertion.

Assertions (RFC 7523 + Entra's rules,
https://learn.microsoft.com/entra/identity-platform/certificate-credentials):
RS256 with ``x5t`` (SHA-1 thumbprint; MSAL and sync azure-identity) or PS256 with ``x5t#S256``
(aio azure-identity, MSAL given a SHA-256 thumbprint); ``aud`` = the token endpoint URL;
``iss`` = ``sub`` = client id; ``exp`` required and checked.

``jti`` is required but *not* single-use: MSAL caches one assertion and re-sends it for up to
9 minutes (``msal/oauth2cli/assertion.py`` ``AutoRefresher``), so real Entra must accept a
repeated ``jti``, and a fake that refused it would break the real library.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Mapping
from urllib.parse import unquote_plus

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..directory import Application, Directory
from .protocol import OAuthError, missing_parameter

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_CLOCK_SKEW = 300  # Entra tolerates five minutes of clock difference


def unknown_client(client_id: str, directory: Directory) -> OAuthError:
    return OAuthError(
        "unauthorized_client", 700016,
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{directory.tenant.name}'. This can happen if the application has not been installed "
        "by the administrator of the tenant or consented to by any user in the tenant. You may "
        "have sent your authentication request to the wrong tenant.")


def find_client(directory: Directory, client_id: str | None) -> Application:
    if not client_id:
        raise missing_parameter("client_id")
    app = directory.applications.get(client_id.strip().lower())
    if app is None:
        raise unknown_client(client_id, directory)
    return app


def is_confidential(app: Application) -> bool:
    """An app with a secret or certificate must authenticate; one without is a public client."""
    return bool(app.client_secrets or app.certificates)


def _basic(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = headers.get("Authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
    return unquote_plus(user), unquote_plus(password)


def authenticate_client(directory: Directory, form: Mapping[str, str],
                        headers: Mapping[str, str], token_urls: set[str],
                        *, require_credential: bool = False) -> Application:
    """The authenticated client of a token request, or OAuthError as Entra answers.

    ``token_urls`` are the accepted ``aud`` values of a client assertion.
    ``require_credential``: the grant needs a confidential client (client credentials, OBO).
    """
    basic = _basic(headers)
    client_id = form.get("client_id") or (basic[0] if basic else None)
    app = find_client(directory, client_id)
    secret = form.get("client_secret") or (basic[1] if basic else None)
    assertion_type = form.get("client_assertion_type")
    if assertion_type is not None or form.get("client_assertion") is not None:
        if assertion_type != ASSERTION_TYPE:
            raise OAuthError("invalid_request", 700002 if assertion_type else 900144,
                             "client_assertion_type must be "
                             f"'{ASSERTION_TYPE}'." if assertion_type else
                             "The request body must contain the following parameter: "
                             "'client_assertion_type'.")
        _verify_assertion(app, form.get("client_assertion") or "", token_urls)
        return app
    if secret is not None:
        if not any(hmac.compare_digest(secret.encode(), s.encode()) for s in app.client_secrets):
            raise OAuthError(
                "invalid_client", 7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.", status=401)
        return app
    if require_credential or is_confidential(app):
        raise OAuthError(
            "invalid_client", 7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.", status=401)
    return app


def _thumbprint_bytes(value: object) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def _invalid(aadsts: int, description: str) -> OAuthError:
    return OAuthError("invalid_client", aadsts, description, status=401)


def _verify_assertion(app: Application, assertion: str, token_urls: set[str]) -> None:
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise _invalid(50027, "JWT token is invalid or malformed.") from None
    alg = header.get("alg")
    if alg not in ("RS256", "PS256"):
        raise _invalid(5002738, f"Invalid JWT token. '{alg}' is not a supported signature "
                       "algorithm.")
    sha256 = _thumbprint_bytes(header.get("x5t#S256"))
    sha1 = _thumbprint_bytes(header.get("x5t"))
    if sha256 is None and sha1 is None:
        raise _invalid(700027, "Client assertion contains an invalid signature. [Reason - The "
                       "key was not found., x5t or x5t#S256 header missing.]")
    cert = None
    for pem in app.certificates:
        candidate = x509.load_pem_x509_certificate(pem.encode())
        if (sha256 is not None and candidate.fingerprint(hashes.SHA256()) == sha256) or (
                sha1 is not None and candidate.fingerprint(hashes.SHA1()) == sha1):  # noqa: S303
            cert = candidate
            break
    if cert is None:
        shown = (sha256 or sha1 or b"").hex().upper()
        raise _invalid(700027, "The certificate with identifier used to sign the client "
                       "assertion is not registered on application. [Reason - The key was not "
                       f"found., Thumbprint of key used by client: '{shown}']")
    try:
        claims = jwt.decode(assertion, cert.public_key(), algorithms=[alg],  # type: ignore[arg-type]
                            options={"verify_aud": False, "verify_exp": False,
                                     "verify_nbf": False, "verify_iat": False})
    except jwt.PyJWTError:
        raise _invalid(700027, "Client assertion failed signature validation.") from None
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise _invalid(700021, "Client assertion application identifier doesn't match "
                       "'client_id' parameter.")
    audiences = claims.get("aud")
    audience_list = audiences if isinstance(audiences, list) else [audiences]
    if not any(isinstance(a, str) and a in token_urls for a in audience_list):
        raise _invalid(50027, "Invalid JWT token. The client assertion audience ('aud') must "
                       "be the token endpoint URL.")
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or exp + _CLOCK_SKEW < now or (
            isinstance(nbf, int | float) and nbf - _CLOCK_SKEW > now):
        raise _invalid(700024, "Client assertion is not within its valid time range. Ensure "
                       "that the assertion's 'exp' is in the future and 'nbf' in the past.")
    if not claims.get("jti"):
        raise _invalid(50027, "JWT token is invalid or malformed: 'jti' claim is required.")
