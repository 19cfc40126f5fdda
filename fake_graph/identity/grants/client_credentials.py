"""``grant_type=client_credentials`` (RFC 6749 §4.4, Entra's rules).

The scope must be exactly one ``{resource}/.default`` (AADSTS1002012 otherwise). Microsoft Graph is
``https://graph.microsoft.com/.default``; the token's ``roles`` are the app's application
permissions. ``api://{client_id}/.default`` gives a v2.0 token for that app's API. msgraph-sdk
without ``scopes=`` asks for ``https://{host}/.default`` (kiota's Azure Identity provider derives it
from the request's host, port dropped): real Entra refuses that resource, and so does the fake —
pass ``scopes=["https://graph.microsoft.com/.default"]``.
"""

from __future__ import annotations

from typing import Any

from ..issue import app_token_response
from ..protocol import OAuthError
from ..scopes import parse_scopes
from ..token_request import TokenRequest


async def grant(req: TokenRequest) -> dict[str, Any]:
    scope = req.param("scope")
    app = req.client(require_credential=True)
    if req.tenant.multi_tenant:
        raise OAuthError("invalid_request", 50059,
                         "No tenant-identifying information found in either the request or "
                         "implied by any provided credentials.")
    parsed = parse_scopes(scope, req.fake.directory)
    if parsed.oidc or parsed.resource is None or not parsed.resource.is_default:
        raise OAuthError("invalid_scope", 1002012,
                         f"The provided value for scope {scope} is not valid. Client credential "
                         "flows must have a scope value with /.default suffixed to the resource "
                         "identifier (application ID URI).")
    return app_token_response(req.fake, app, parsed)
