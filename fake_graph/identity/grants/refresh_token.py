"""``grant_type=refresh_token`` (RFC 6749 §6).

Entra's behaviour, followed here: every redemption returns a new refresh token, and the old one
stays usable until it expires or is revoked (Entra refresh tokens are not single-use). A refresh
token is revoked when the user's password changes or is reset (AADSTS50173), when the account is
disabled (AADSTS50057), when IT revokes the user's sign-in sessions (revokeSignInSessions), or
when the code it came from is redeemed twice. It is bound to its client, and can be exchanged
for any resource (Entra's refresh tokens are multi-resource).
"""

from __future__ import annotations

import time
from typing import Any

from ..issue import user_token_response
from ..protocol import OAuthError
from ..scopes import parse_scopes
from ..store import password_stamp, store
from ..token_request import TokenRequest
from ..users import active_user, revoked_grant


async def grant(req: TokenRequest) -> dict[str, Any]:
    token = req.param("refresh_token")
    app = req.client()
    stored = store(req.fake).refresh_tokens.get(token)
    if stored is None:
        raise OAuthError("invalid_grant", 9002313,
                         "Invalid request. Request is malformed or invalid: the refresh token "
                         "is not valid.")
    if stored.client_id != app.client_id:
        raise OAuthError("invalid_grant", 70000,
                         "The refresh token was issued to a different client.")
    if stored.expires_at < time.time():
        raise OAuthError("invalid_grant", 70008,
                         "The provided authorization code or refresh token has expired due to "
                         "inactivity.")
    if stored.revoked:
        raise revoked_grant()
    user = active_user(req.fake.directory, stored.user_id)
    if password_stamp(user) != stored.stamp:
        raise revoked_grant()  # the password changed or was reset
    valid_from = user.sign_in_sessions_valid_from
    if valid_from is not None and int(stored.issued_at) < valid_from:
        raise revoked_grant(stored.issued_at, valid_from)  # IT revoked the user's sessions
    requested = parse_scopes(req.form.get("scope") or " ".join(stored.scopes),
                             req.fake.directory)
    consented_oidc = parse_scopes(" ".join(stored.scopes), req.fake.directory).oidc
    # A refresh never widens the OpenID consent: no id token unless "openid" was consented.
    requested.oidc &= consented_oidc | {"offline_access"}
    requested.oidc.add("offline_access")  # a refresh always rotates the refresh token
    body, _ = user_token_response(req.fake, app, user, requested,
                                  want_client_info=req.wants_client_info,
                                  consented=stored.scopes, auth_time=stored.auth_time)
    return body
