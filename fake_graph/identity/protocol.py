"""Protocol pieces every identity endpoint shares: errors, the ``{tenant}`` path segment, URLs.

Errors are Entra's (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow,
"Error response"): ``{"error", "error_description": "AADSTSnnnn: ...", "error_codes": [n], ...}``;
``OAuthError`` carries one until the handler turns it into a response with ``errors.entra_error``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from ..directory import Directory
from ..errors import entra_error
from ..state import FAKE, FakeGraph

# Tenant aliases Entra accepts in place of a tenant id or domain
# (https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc).
MULTI_TENANT = frozenset({"common", "organizations"})


class OAuthError(Exception):
    """An OAuth 2.0 error response (RFC 6749 §5.2) with Entra's AADSTS code."""

    def __init__(self, error: str, aadsts: int, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: AADSTS{aadsts}: {description}")
        self.error = error
        self.aadsts = aadsts
        self.description = description
        self.status = status

    def response(self) -> web.Response:
        return entra_error(self.status, self.error, self.aadsts, self.description)


@dataclass(frozen=True)
class TenantRef:
    """The ``{tenant}`` segment of a request, resolved against the fake's tenant."""

    segment: str  # as written in the URL
    tenant_id: str

    @property
    def multi_tenant(self) -> bool:
        return self.segment.lower() in MULTI_TENANT


def resolve_tenant(directory: Directory, segment: str) -> TenantRef | None:
    """The fake's tenant, if ``segment`` names it (id, domain, common, organizations)."""
    tenant = directory.tenant
    lowered = segment.lower()
    if lowered in (tenant.id.lower(), tenant.domain.lower()) or lowered in MULTI_TENANT:
        return TenantRef(segment, tenant.id)
    return None


def tenant_not_found(segment: str) -> OAuthError:
    return OAuthError(
        "invalid_tenant", 90002,
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, this "
        "may happen if there are no active subscriptions for the tenant.")


def request_tenant(request: web.Request) -> tuple[FakeGraph, TenantRef]:
    """The fake and the resolved ``{tenant}`` of this request, or OAuthError (AADSTS90002)."""
    fake = request.app[FAKE]
    segment = request.match_info["tenant"]
    ref = resolve_tenant(fake.directory, segment)
    if ref is None:
        raise tenant_not_found(segment)
    return fake, ref


def origin(request: web.Request) -> str:
    """``scheme://host[:port]`` the client used to reach the fake."""
    return f"{request.scheme}://{request.host}"


def endpoint_urls(fake: FakeGraph, segment: str) -> dict[str, str]:
    """The fake's own https endpoints for a tenant segment (discovery documents use these)."""
    base = f"{fake.base_url}/{segment}"
    return {
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
    }


def missing_parameter(name: str) -> OAuthError:
    return OAuthError("invalid_request", 900144,
                      f"The request body must contain the following parameter: '{name}'.")
