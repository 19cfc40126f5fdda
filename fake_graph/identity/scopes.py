"""The ``scope`` parameter: OpenID scopes plus the scopes of exactly one resource.

Entra's rules (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow,
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow and
https://learn.microsoft.com/entra/identity-platform/scopes-oidc): a bare scope name (``User.Read``)
means Microsoft Graph; ``https://graph.microsoft.com/X`` is Graph too; ``api://{client_id}/X`` and
``{client_id}/X`` are an app's own API; scopes of two resources in one request are refused
(AADSTS28000); ``.default`` stands for everything granted and is not combined with other scopes of
the same resource.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ..directory import Directory
from ..tokens import GRAPH_APP_ID, GRAPH_RESOURCE
from .protocol import OAuthError

OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
GRAPH = "graph"
API = "api"
# What a delegated Graph token carries when no Graph scope was named, or for ``.default``
# (the fake has no consent model: User.Read is what every Entra app is granted by default).
DEFAULT_GRAPH_SCOPES = ("User.Read",)


@dataclass
class Resource:
    kind: str  # GRAPH or API
    audience: str  # GRAPH_RESOURCE, or the API's client id
    names: list[str] = field(default_factory=list)  # short scope names, e.g. "User.Read"
    written: list[str] = field(default_factory=list)  # as the client wrote them

    @property
    def is_default(self) -> bool:
        return self.names == [".default"]


@dataclass
class ScopeRequest:
    raw: str
    oidc: set[str]
    resource: Resource | None

    @property
    def wants_id_token(self) -> bool:
        return "openid" in self.oidc

    @property
    def wants_refresh_token(self) -> bool:
        return "offline_access" in self.oidc

    def response_scope(self, granted: list[str]) -> str:
        """The ``scope`` field of a token response: granted resource scopes + OIDC ones."""
        oidc = [s for s in ("openid", "profile", "email") if s in self.oidc]
        if self.resource is not None and self.resource.kind == API:
            granted = [f"api://{self.resource.audience}/{s}" for s in granted]
        return " ".join([*granted, *oidc])


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _split(scope: str, directory: Directory) -> tuple[str, str, str]:
    """(kind, audience, short name) of one non-OIDC scope."""
    lowered = scope.lower()
    for prefix in (GRAPH_RESOURCE + "/", GRAPH_APP_ID + "/"):
        if lowered.startswith(prefix):
            return GRAPH, GRAPH_RESOURCE, scope[len(prefix):]
    resource, _, name = scope.rpartition("/")
    if not resource:
        return GRAPH, GRAPH_RESOURCE, scope  # a bare name is a Graph scope
    app_id = resource[len("api://"):] if lowered.startswith("api://") else resource
    app = directory.applications.get(app_id.lower()) if _is_guid(app_id) else None
    if app is None:
        raise OAuthError(
            "invalid_resource", 500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{directory.tenant.name}. This can happen if the application has not been installed "
            "by the administrator of the tenant or consented to by any user in the tenant. You "
            "might have sent your authentication request to the wrong tenant.")
    if name != ".default" and name not in app.api_scopes:
        raise OAuthError(
            "invalid_scope", 650053,
            f"The application asked for scope '{name}' that doesn't exist on the resource "
            f"'{app.client_id}'. Contact the app vendor.")
    return API, app.client_id, name


def parse_scopes(raw: str, directory: Directory) -> ScopeRequest:
    """Parse a space-separated ``scope``; raises OAuthError as Entra would refuse it."""
    oidc: set[str] = set()
    resource: Resource | None = None
    for scope in raw.split():
        if scope.lower() in OIDC_SCOPES:
            oidc.add(scope.lower())
            continue
        kind, audience, name = _split(scope, directory)
        if resource is None:
            resource = Resource(kind, audience)
        elif (resource.kind, resource.audience) != (kind, audience):
            raise OAuthError(
                "invalid_scope", 28000,
                "Provided value for the input parameter scope is not valid because it contains "
                f"more than one resource. Scope {raw} is not valid.")
        if name not in resource.names:
            resource.names.append(name)
            resource.written.append(scope)
    if resource is not None and ".default" in resource.names and len(resource.names) > 1:
        raise OAuthError(
            "invalid_scope", 70011,
            f"The provided value for the input parameter 'scope' is not valid. The scope {raw} "
            "is not valid. .default scope can't be combined with resource-specific scopes.")
    return ScopeRequest(raw=raw, oidc=oidc, resource=resource)


def delegated_grant(request: ScopeRequest, directory: Directory) -> tuple[Resource, list[str]]:
    """The resource a delegated token is for and the scope names it carries (``scp``)."""
    resource = request.resource or Resource(GRAPH, GRAPH_RESOURCE)
    if resource.kind == API:
        app = directory.applications[resource.audience]
        names = list(app.api_scopes) if resource.is_default else list(resource.names)
        return resource, names
    if not resource.names or resource.is_default:
        return resource, list(DEFAULT_GRAPH_SCOPES)
    return resource, list(resource.names)
