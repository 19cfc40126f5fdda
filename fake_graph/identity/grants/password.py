"""``grant_type=password`` — ROPC (RFC 6749 §4.3), with Entra's refusals.

Wrong password: AADSTS50126; unknown user: AADSTS50034; disabled: AADSTS50057; a password that
must be changed first (forceChangePasswordNextSignIn): AADSTS50055 — ROPC cannot show the
change-password page, so the user must sign in interactively. Not on ``/common`` (Entra:
``invalid_request``). MSAL needs user-realm discovery on port 443 first (its
``Authority.user_realm_discovery`` drops the port): see ``discovery.user_realm``.
"""

from __future__ import annotations

import time
from typing import Any

from ..issue import user_token_response
from ..protocol import OAuthError
from ..scopes import parse_scopes
from ..token_request import TokenRequest
from ..users import (
    bad_password,
    disabled,
    must_change_password,
    password_matches,
    unknown_user,
)


async def grant(req: TokenRequest) -> dict[str, Any]:
    username = req.param("username")
    password = req.param("password")
    scope = req.param("scope")
    app = req.client()
    if req.tenant.segment.lower() == "common":
        raise OAuthError("invalid_request", 90002, "The ROPC grant is not supported on the "
                         "/common endpoint. Use a tenant-specific endpoint or /organizations.")
    parsed = parse_scopes(scope, req.fake.directory)
    directory = req.fake.directory
    user = directory.find_user(username)
    if user is None:
        raise unknown_user(username, directory)
    if not password_matches(user, password):
        raise bad_password()
    if not user.account_enabled:
        raise disabled()
    if user.force_change_password_next_sign_in:
        raise must_change_password()
    body, _ = user_token_response(req.fake, app, user, parsed,
                                  want_client_info=req.wants_client_info,
                                  auth_time=time.time())  # the password was just entered
    return body
