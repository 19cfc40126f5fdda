"""Directory roles: ``/roleManagement/directory/roleAssignments`` and ``roleDefinitions``,
``/directoryRoles`` (https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments,
https://learn.microsoft.com/graph/api/resources/directoryrole).

roleAssignments lists direct assignments only (a user's roles through a role-assignable group
are assignments of the group; the transitive variant is beta-only). ``$filter`` supports ``eq``
and ``in`` on principalId / roleDefinitionId / directoryScopeId / id, joined by ``and``; ``or``
is refused with ``Request_UnsupportedQuery`` as real Graph does on role definitions (ERR-OR).
Without a filter the whole list is returned, paged.
"""

from __future__ import annotations

from typing import Any

from ..directory import ROLE_NAMES, ROLE_TEMPLATES, RoleAssignment, directory_role_id
from ..errors import not_found
from . import odata, permissions, serialize
from .context import GraphRequest, GraphResponse
from .object_lists import object_page
from .permissions import require

_ROLE_OPS = ("eq", "in", "and")


def assignment_json(a: RoleAssignment) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
        "id": a.id,
        "principalId": a.principal_id,
        "roleDefinitionId": a.role_definition_id,
        "directoryScopeId": a.directory_scope_id,
        "resourceScope": a.directory_scope_id,
        "appScopeId": None,
        "principalOrganizationId": None,
        "condition": None,
    }


_ASSIGNMENT_PROPS = {"id": "id", "principalId": "principal_id",
                     "roleDefinitionId": "role_definition_id",
                     "directoryScopeId": "directory_scope_id"}


def _assignment_property(a: RoleAssignment, name: str) -> Any:
    attr = _ASSIGNMENT_PROPS.get(name)
    return getattr(a, attr) if attr else None


def _selected(obj: dict[str, Any], select: tuple[str, ...] | None) -> dict[str, Any]:
    if select is None:
        return obj
    return {k: v for k, v in obj.items() if k in select or k in ("@odata.type", "id")}


async def list_role_assignments(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_ROLES)
    q = req.odata
    odata.check_properties(q, filterable=tuple(_ASSIGNMENT_PROPS), searchable=(),
                           type_name="unifiedRoleAssignment", filter_ops=_ROLE_OPS)
    odata.require_advanced(req)
    body = odata.paged(req, req.directory.role_assignments,
                       lambda a: _selected(assignment_json(a), q.select),
                       "roleManagement/directory/roleAssignments",
                       odata.matcher(q, _assignment_property))
    return GraphResponse(body=body)


async def get_role_assignment(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_ROLES)
    wanted = req.params["assignment"]
    for a in req.directory.role_assignments:
        if a.id.lower() == wanted.lower():
            body = {"@odata.context": req.context_url(
                "roleManagement/directory/roleAssignments/$entity")}
            return GraphResponse(body=body | _selected(assignment_json(a), req.odata.select))
    raise not_found(wanted)


def definition_json(template_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.unifiedRoleDefinition",
        "id": template_id,
        "description": serialize.role_description(template_id),
        "displayName": ROLE_NAMES[template_id],
        "isBuiltIn": True,
        "isEnabled": True,
        "resourceScopes": ["/"],
        "templateId": template_id,
        "version": "1",
        "rolePermissions": [],
    }


def _definition_property(template_id: str, name: str) -> Any:
    return definition_json(template_id).get(name)


async def list_role_definitions(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_ROLES)
    q = req.odata
    odata.check_properties(q, filterable=("id", "displayName", "templateId", "isBuiltIn"),
                           searchable=(), type_name="unifiedRoleDefinition",
                           filter_ops=("eq", "in", "and", "startswith"))
    odata.require_advanced(req)
    body = odata.paged(req, list(ROLE_TEMPLATES.values()),
                       lambda t: _selected(definition_json(t), q.select),
                       "roleManagement/directory/roleDefinitions",
                       odata.matcher(q, _definition_property))
    return GraphResponse(body=body)


async def get_role_definition(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_ROLES)
    template = req.params["definition"].lower()
    if template not in ROLE_NAMES:
        raise not_found(req.params["definition"])
    body = {"@odata.context": req.context_url(
        "roleManagement/directory/roleDefinitions/$entity")}
    return GraphResponse(body=body | _selected(definition_json(template), req.odata.select))


# -- /directoryRoles (activated roles) -----------------------------------------------------


def _activated(req: GraphRequest) -> list[str]:
    """Roles activated in the tenant: Global Administrator, and every role ever assigned."""
    seen = {ROLE_TEMPLATES["Global Administrator"]: None}
    for a in req.directory.role_assignments:
        seen.setdefault(a.role_definition_id)
    return list(seen)


def _find_role(req: GraphRequest) -> str:
    wanted = req.params["role"].lower()
    for template in _activated(req):
        if wanted in (directory_role_id(template), template):
            return template
    raise not_found(req.params["role"])


async def list_directory_roles(req: GraphRequest) -> GraphResponse:
    """directoryRoles don't page (https://learn.microsoft.com/graph/paging): one response with
    every activated role."""
    require(req.caller, permissions.READ_ROLES)
    select = req.odata.select
    body = {"@odata.context": req.context_url("directoryRoles"),
            "value": [serialize.directory_role(t, select) for t in _activated(req)]}
    return GraphResponse(body=body)


async def get_directory_role(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_ROLES)
    template = _find_role(req)
    body = {"@odata.context": req.context_url("directoryRoles/$entity")}
    return GraphResponse(body=body | serialize.directory_role(template, req.odata.select))


async def directory_role_members(req: GraphRequest) -> GraphResponse:
    """Tenant-wide holders only; AU-scoped holders are ``scopedMembers``
    (https://learn.microsoft.com/graph/api/resources/directoryrole)."""
    require(req.caller, permissions.READ_ROLES)
    template = _find_role(req)
    holders = list(dict.fromkeys(
        a.principal_id for a in req.directory.role_assignments
        if a.role_definition_id == template and a.directory_scope_id == "/"))
    holders = [h for h in holders if req.directory.object(h) is not None]
    return object_page(req, holders, cast=req.params.get("cast"))


async def directory_role_scoped_members(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_ROLES)
    template = _find_role(req)
    items = []
    for a in req.directory.role_assignments:
        if a.role_definition_id != template or a.directory_scope_id == "/":
            continue
        holder = req.directory.object(a.principal_id)
        items.append({
            "id": a.id, "roleId": directory_role_id(template),
            "administrativeUnitId": a.directory_scope_id.rsplit("/", 1)[1],
            "roleMemberInfo": {"id": a.principal_id,
                               "displayName": getattr(holder, "display_name", None),
                               "userPrincipalName": getattr(holder, "user_principal_name",
                                                            None)},
        })
    return GraphResponse(body=odata.paged(req, items, lambda i: i, "scopedRoleMemberships"))

