"""``/applications`` and ``/servicePrincipals``: list (paging, ``$filter``, ``$search``,
``$select``, ``$expand=owners``), get by object id, and ``/owners``.

Every app registration of the tenant file is both objects: the application (``id``: its
object id, ``appId``: the client id) and its service principal (the object app-only tokens'
``oid`` names). Owners are users, kept separately for each object. A caller holding only
Application.ReadWrite.OwnedBy sees only the objects its own service principal owns (none: a
tenant file's owners are users). Alternate keys (``/applications(appId='...')``) are not
implemented.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..directory import Application, Directory
from ..errors import bad_request, not_found
from . import object_lists, odata, owners, permissions, serialize
from .context import GraphRequest, GraphResponse
from .permissions import require

# A fixed creation time: the fake does not know when an app was registered.
_CREATED = "2024-01-02T09:00:00Z"

Getter = Callable[[Application, Directory], Any]


def _identifier_uris(app: Application) -> list[str]:
    return [f"api://{app.client_id}"] if app.api_scopes else []


APPLICATION_PROPERTIES: dict[str, Getter] = {
    "id": lambda a, d: a.object_id,
    "deletedDateTime": lambda a, d: None,
    "appId": lambda a, d: a.client_id,
    "createdDateTime": lambda a, d: _CREATED,
    "description": lambda a, d: None,
    "displayName": lambda a, d: a.display_name,
    "identifierUris": lambda a, d: _identifier_uris(a),
    "notes": lambda a, d: None,
    "publisherDomain": lambda a, d: d.tenant.domain,
    "signInAudience": lambda a, d: "AzureADMyOrg",
    "tags": lambda a, d: [],
    "web": lambda a, d: {"homePageUrl": None, "logoutUrl": None,
                         "redirectUris": list(a.redirect_uris),
                         "implicitGrantSettings": {"enableAccessTokenIssuance": False,
                                                   "enableIdTokenIssuance": False}},
}
SERVICE_PRINCIPAL_PROPERTIES: dict[str, Getter] = {
    "id": lambda a, d: a.service_principal_id,
    "deletedDateTime": lambda a, d: None,
    "accountEnabled": lambda a, d: True,
    "appDisplayName": lambda a, d: a.display_name,
    "appId": lambda a, d: a.client_id,
    "appOwnerOrganizationId": lambda a, d: d.tenant.id,
    "appRoleAssignmentRequired": lambda a, d: False,
    "description": lambda a, d: None,
    "displayName": lambda a, d: a.display_name,
    "servicePrincipalNames": lambda a, d: [a.client_id, *_identifier_uris(a)],
    "servicePrincipalType": lambda a, d: "Application",
    "signInAudience": lambda a, d: "AzureADMyOrg",
    "tags": lambda a, d: [],
}


@dataclass(frozen=True)
class Shape:
    """How one of the two objects of an app registration reads in Graph."""

    type_name: str  # "application" | "servicePrincipal"
    collection: str  # URL segment and @odata.context
    properties: dict[str, Getter]
    object_id: Callable[[Application], str]
    owners: Callable[[Application], list[str]]

    @property
    def odata_type(self) -> str:
        return f"#microsoft.graph.{self.type_name}"

    def render(self, req: GraphRequest, app: Application,
               select: Sequence[str] | None = None, *,
               strict: bool = True, limited: bool = False,
               q: odata.ODataQuery | None = None) -> dict[str, Any]:
        names = serialize.select_props(select, tuple(self.properties), self.properties,
                                       self.type_name, strict)
        out: dict[str, Any] = {"@odata.type": self.odata_type}
        for name in names:
            out[name] = (self.properties[name](app, req.directory)
                         if not limited or name == "id" else None)
        out.setdefault("id", self.object_id(app))
        expand = q.expanded("owners") if q is not None else None
        if expand is not None:
            out["owners"] = owners.expanded_owners(req, self.owners(app), expand)
        return out

    def find(self, req: GraphRequest, object_id: str) -> Application:
        """The app registration whose object of this kind has ``object_id``, as the caller
        may see it; 404 otherwise."""
        wanted = object_id.lower()
        for app in _visible(req, self):
            if self.object_id(app) == wanted:
                return app
        raise not_found(object_id)


APPLICATION = Shape("application", "applications", APPLICATION_PROPERTIES,
                    lambda a: a.object_id, lambda a: a.owners)
SERVICE_PRINCIPAL = Shape("servicePrincipal", "servicePrincipals", SERVICE_PRINCIPAL_PROPERTIES,
                          lambda a: a.service_principal_id,
                          lambda a: a.service_principal_owners)
_FILTERABLE = ("id", "appId", "displayName")
_SEARCHABLE = ("displayName",)


def _visible(req: GraphRequest, shape: Shape) -> list[Application]:
    apps = list(req.directory.applications.values())
    if permissions.READ_ALL_APPS.satisfied_by(req.caller):
        return apps
    # Application.ReadWrite.OwnedBy: the objects this app's service principal owns.
    return [a for a in apps if req.caller.object_id in shape.owners(a)]


async def _list(req: GraphRequest, shape: Shape) -> GraphResponse:
    require(req.caller, permissions.READ_APPS)
    q = req.expanding(shape.type_name, "owners")
    odata.check_properties(q, filterable=_FILTERABLE, searchable=_SEARCHABLE,
                           type_name=shape.type_name[0].upper() + shape.type_name[1:])
    odata.require_advanced(req)
    serialize.select_props(q.select, (), shape.properties, shape.type_name, strict=True)
    directory = req.directory

    def get(app: Application, name: str) -> Any:
        getter = shape.properties.get(name)
        return getter(app, directory) if getter is not None else None

    body = odata.paged(req, _visible(req, shape),
                       lambda app: shape.render(req, app, q.select, q=q),
                       owners.context_with_expand(shape.collection, q), odata.matcher(q, get))
    return GraphResponse(body=body)


async def _get(req: GraphRequest, shape: Shape, key: str) -> GraphResponse:
    require(req.caller, permissions.READ_APPS)
    q = req.expanding(shape.type_name, "owners")
    if q.filter or q.search or q.top or q.count or q.skiptoken:
        raise bad_request("Only $select and $expand apply to a single object.")
    app = shape.find(req, req.params[key])
    body = {"@odata.context": req.context_url(
        owners.context_with_expand(shape.collection, q) + "/$entity")}
    return GraphResponse(body=body | shape.render(req, app, q.select, q=q))


async def _owners(req: GraphRequest, shape: Shape, key: str) -> GraphResponse:
    require(req.caller, permissions.READ_APPS)
    app = shape.find(req, req.params[key])
    return object_lists.object_page(req, shape.owners(app), cast=req.params.get("cast"))


async def list_applications(req: GraphRequest) -> GraphResponse:
    """``GET /applications`` (https://learn.microsoft.com/graph/api/application-list)."""
    return await _list(req, APPLICATION)


async def get_application(req: GraphRequest) -> GraphResponse:
    """``GET /applications/{id}`` (https://learn.microsoft.com/graph/api/application-get)."""
    return await _get(req, APPLICATION, "application")


async def application_owners(req: GraphRequest) -> GraphResponse:
    """``GET /applications/{id}/owners``
    (https://learn.microsoft.com/graph/api/application-list-owners)."""
    return await _owners(req, APPLICATION, "application")


async def list_service_principals(req: GraphRequest) -> GraphResponse:
    """``GET /servicePrincipals`` (https://learn.microsoft.com/graph/api/serviceprincipal-list)."""
    return await _list(req, SERVICE_PRINCIPAL)


async def get_service_principal(req: GraphRequest) -> GraphResponse:
    """``GET /servicePrincipals/{id}``
    (https://learn.microsoft.com/graph/api/serviceprincipal-get)."""
    return await _get(req, SERVICE_PRINCIPAL, "sp")


async def service_principal_owners(req: GraphRequest) -> GraphResponse:
    """``GET /servicePrincipals/{id}/owners``
    (https://learn.microsoft.com/graph/api/serviceprincipal-list-owners)."""
    return await _owners(req, SERVICE_PRINCIPAL, "sp")
