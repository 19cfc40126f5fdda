"""On-behalf-of (``urn:ietf:params:oauth:grant-type:jwt-bearer``, Entra's OBO flow).

A middle-tier API that received a user's access token for itself (``aud`` = its client id or
``api://{client_id}``, issued by this tenant) exchanges it, authenticating as itself, for a
delegated token to a downstream resource (Graph, or another app's API).

Refusals, as Entra words them: an app-only assertion (a client-credentials token: no user to
act for) is ``unauthorized_client`` AADSTS7000114; an expired one ``invalid_grant``
AADSTS500133; a badly signed one, or one for another audience, AADSTS50013. A user assertion
issued before the user's sessions were revoked (``revokeSignInSessions``) is ``invalid_grant``
AADSTS50173, like a refresh token of that time; a disabled or deleted user as for refresh. That
last rule is stricter than Entra documents (it says revocation ends refresh tokens and
sessions), so a client that copes here copes there (docs/fake_graph_manager_mode.md).
"""

from __future__ import annotations

from typing import Any

from ...tokens import InvalidToken
from ..issue import user_token_response
from ..protocol import OAuthError
from ..scopes import parse_scopes
from ..token_request import TokenRequest
from ..users import active_user, revoked_grant

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"


async def grant(req: TokenRequest) -> dict[str, Any]:
    assertion = req.param("assertion")
    scope = req.param("scope")
    if req.form.get("requested_token_use") != "on_behalf_of":
        raise OAuthError("invalid_request", 900144, "The request body must contain the "
                         "following parameter: 'requested_token_use' (on_behalf_of).")
    app = req.client(require_credential=True)
    try:
        claims = req.fake.tokens.verify(assertion, (app.client_id, f"api://{app.client_id}"))
    except InvalidToken as exc:
        text = str(exc)
        if "expired" in text.lower():
            raise OAuthError("invalid_grant", 500133, "Assertion is not within its valid time "
                             "range.") from None
        raise OAuthError("invalid_grant", 50013, f"Assertion failed signature validation. "
                         f"[Reason - {text}]") from None
    if claims.get("idtyp") == "app" or "scp" not in claims or "oid" not in claims:
        raise OAuthError("unauthorized_client", 7000114,
                         f"Application '{app.client_id}' is not allowed to make application "
                         "on-behalf-of calls.")
    user = active_user(req.fake.directory, str(claims["oid"]))
    valid_from = user.sign_in_sessions_valid_from
    if valid_from is not None and int(claims["iat"]) < valid_from:
        raise revoked_grant(float(claims["iat"]), valid_from)
    parsed = parse_scopes(scope, req.fake.directory)
    parsed.oidc.discard("openid")  # OBO returns access (and refresh) tokens, no id token
    # The user's sign-in carries over: the assertion's auth_time, when it has one.
    auth_time = claims.get("auth_time")
    body, _ = user_token_response(
        req.fake, app, user, parsed,
        auth_time=float(auth_time) if isinstance(auth_time, int) and
        not isinstance(auth_time, bool) else None)
    return body
