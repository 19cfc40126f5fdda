"""``grant_type=authorization_code`` (RFC 6749 §4.1.3, PKCE RFC 7636 §4.6).

The code is single-use: a second redemption is refused (AADSTS54005) and, as RFC 6749 §4.1.2
recommends, the refresh tokens issued from the first redemption are revoked (Entra keeps them;
revoking is stricter, so a client that works here works there). ``redirect_uri`` must equal the
authorize request's byte for byte, and the client must be the one the code was issued to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from ..issue import user_token_response
from ..protocol import OAuthError
from ..scopes import parse_scopes
from ..store import store
from ..token_request import TokenRequest
from ..users import active_user


def _invalid_code() -> OAuthError:
    return OAuthError("invalid_grant", 70000,
                      "The provided value for the 'code' parameter is not valid.")


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        computed = verifier
    return hmac.compare_digest(computed.encode(), challenge.encode())


async def grant(req: TokenRequest) -> dict[str, Any]:
    code_value = req.param("code")
    app = req.client()
    identity = store(req.fake)
    code = identity.take_code(code_value)
    if code is None:
        raise _invalid_code()
    if code.redeemed:
        identity.revoke(code.refresh_tokens)
        raise OAuthError("invalid_grant", 54005,
                         "OAuth2 Authorization code was already redeemed, please retry with a new "
                         "valid code or use an existing refresh token.")
    if code.expires_at < time.time():
        raise OAuthError("invalid_grant", 70008,
                         "The provided authorization code or refresh token has expired due to "
                         "inactivity. Send a new interactive authorization request for this user "
                         "and resource.")
    if code.client_id != app.client_id:
        raise OAuthError("invalid_grant", 70000, "The provided authorization code was issued "
                         "to a different client.")
    redirect_uri = req.form.get("redirect_uri", "")
    if redirect_uri != code.redirect_uri:
        raise OAuthError("invalid_grant", 500112,
                         f"The reply address '{redirect_uri}' does not match the reply address "
                         f"'{code.redirect_uri}' provided when requesting Authorization code.")
    if code.code_challenge is not None:
        verifier = req.form.get("code_verifier")
        if not verifier:
            raise OAuthError("invalid_grant", 50148, "The code_verifier is missing: the "
                             "authorization request carried a code_challenge (PKCE).")
        if not pkce_matches(verifier, code.code_challenge, code.code_challenge_method or "plain"):
            raise OAuthError("invalid_grant", 501481, "The Code_Verifier does not match the "
                             "code_challenge supplied in the authorization request.")
    # Single use from here on, even if issuing fails below.
    code.redeemed = True
    user = active_user(req.fake.directory, code.user_id)
    # The token request's scope picks the resource (Entra issues for it); OpenID behaviour
    # (id_token, refresh token) follows what the user consented to at /authorize.
    requested = parse_scopes(req.form.get("scope") or " ".join(code.scopes), req.fake.directory)
    consented = parse_scopes(" ".join(code.scopes), req.fake.directory)
    requested.oidc = (requested.oidc & consented.oidc) if requested.oidc else consented.oidc
    body, refresh = user_token_response(req.fake, app, user, requested, nonce=code.nonce,
                                        want_client_info=req.wants_client_info,
                                        consented=code.scopes, auth_time=code.auth_time)
    if refresh is not None:
        code.refresh_tokens.append(refresh)
    return body
