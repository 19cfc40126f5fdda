"""``/users/{id}/ownedObjects``: the applications, service principals and groups a user owns.

Owners in a tenant file are users; each app registration is two objects (``applications``),
owned separately.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..directory import Application, Group
from ..errors import GraphErrorResult, access_denied, unsupported_query
from . import lookups, odata, permissions, serialize
from .applications import APPLICATION, SERVICE_PRINCIPAL
from .context import GraphRequest, GraphResponse
from .permissions import require

# kind: "application" | "servicePrincipal" | "group"
Owned = tuple[str, Application | Group]

_OWNED_CASTS: dict[str, str | None] = {
    "microsoft.graph.application": "application",
    "microsoft.graph.servicePrincipal": "servicePrincipal",
    "microsoft.graph.group": "group",
    # Types a tenant file never makes a user own: a valid cast, an empty answer.
    "microsoft.graph.user": None,
    "microsoft.graph.device": None,
    "microsoft.graph.orgContact": None,
    "microsoft.graph.administrativeUnit": None,
    "microsoft.graph.directoryRole": None,
}
_CAST_CONTEXT = {"application": "applications", "servicePrincipal": "servicePrincipals",
                 "group": "groups"}


def owned_by(req: GraphRequest, user_id: str) -> list[Owned]:
    directory = req.directory
    apps = list(directory.applications.values())
    out: list[Owned] = [("application", a) for a in apps if user_id in a.owners]
    out += [("servicePrincipal", a) for a in apps if user_id in a.service_principal_owners]
    out += [("group", g) for g in directory.groups.values() if user_id in g.owners]
    return out


def render_owned(req: GraphRequest, item: Owned, select: Sequence[str] | None) -> dict[str, Any]:
    kind, obj = item
    if isinstance(obj, Group):
        return serialize.render(obj, select, strict=False,
                                limited=not permissions.READ_GROUPS.satisfied_by(req.caller))
    shape = APPLICATION if kind == "application" else SERVICE_PRINCIPAL
    return shape.render(req, obj, select, strict=False,
                        limited=not permissions.READ_ALL_APPS.satisfied_by(req.caller))


async def user_owned_objects(req: GraphRequest) -> GraphResponse:
    """``GET /users/{id}/ownedObjects`` (https://learn.microsoft.com/graph/api/user-list-ownedobjects).

    Delegated only: "Application: Not supported", so an app-only token is refused (403
    ``Authorization_RequestDenied``, as the fake refuses other delegated-only calls). User.Read
    reads the signed-in user's own objects; User.Read.All, Directory.Read.All (or their
    ReadWrite forms) anyone's. Objects of a type the caller may not read come back with only
    ``@odata.type`` and ``id``. Casts: ``/ownedObjects/microsoft.graph.application`` etc.
    """
    caller = req.caller
    if caller.app_only:
        raise access_denied()
    user = lookups.user(req)
    if not (caller.object_id == user.id and permissions.READ_SELF.satisfied_by(caller)):
        require(caller, permissions.READ_OWNED_OBJECTS)
    q = req.odata
    if q.filter is not None or q.search is not None:
        raise unsupported_query("fake_graph does not implement $filter or $search on "
                                "ownedObjects.")
    odata.require_advanced(req)
    items = owned_by(req, user.id)
    context = "directoryObjects"
    cast = req.params.get("cast")
    accept: Callable[[Owned], bool] | None = None
    if cast is not None:
        found = next((v for k, v in _OWNED_CASTS.items() if k.lower() == cast.lower()), "?")
        if found == "?":
            raise GraphErrorResult(400, "BadRequest",
                                   f"Resource not found for the segment '{cast}'.")
        wanted = found
        context = _CAST_CONTEXT.get(wanted or "", cast.rsplit(".", 1)[1] + "s")

        def accept(item: Owned) -> bool:
            return item[0] == wanted

    if q.select and context != "directoryObjects":
        context = f"{context}({','.join(q.select)})"
    body = odata.paged(req, items, lambda item: render_owned(req, item, q.select), context,
                       accept)
    return GraphResponse(body=body)
