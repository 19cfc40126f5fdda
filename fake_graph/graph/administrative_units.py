"""``/directory/administrativeUnits``: list, get, members (+ casts, ``$ref``, one member) and
scopedRoleMembers (https://learn.microsoft.com/graph/api/resources/administrativeunit). Real Graph
v1.0 serves AUs only under ``/directory``; so does the fake.

A group in a unit is a member object itself: its members are not expanded (Learn:
https://learn.microsoft.com/entra/identity/role-based-access-control/admin-units-members-add).
"""

from __future__ import annotations

from typing import Any

from ..directory import AdministrativeUnit, directory_role_id
from ..errors import access_denied, bad_request, not_found
from . import indexes, lookups, object_lists, odata, permissions, serialize
from .context import GraphRequest, GraphResponse
from .permissions import require

UNIT_FILTERABLE = ("id", "displayName")
UNIT_SEARCHABLE = ("displayName", "description")


def _unit_property(unit: AdministrativeUnit, name: str) -> Any:
    return serialize.object_property(unit, name)


async def list_units(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_UNITS)
    q = req.odata
    # "$filter (eq only)" on this list
    # (https://learn.microsoft.com/graph/api/directory-list-administrativeunits).
    odata.check_properties(q, filterable=UNIT_FILTERABLE, searchable=UNIT_SEARCHABLE,
                           type_name="AdministrativeUnit",
                           filter_ops=("eq", "in", "and", "or", "startswith", "ne", "not"))
    odata.require_advanced(req)
    serialize.select_props(q.select, serialize.UNIT_DEFAULT, serialize.UNIT_PROPERTIES,
                           "administrativeUnit", strict=True)
    units = list(req.directory.administrative_units.values())
    ctx = "directory/administrativeUnits"
    if q.select:
        ctx += f"({','.join(q.select)})"
    body = odata.paged(req, units, lambda u: serialize.render(u, q.select), ctx,
                       odata.matcher(q, _unit_property))
    return GraphResponse(body=body)


async def get_unit(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_UNITS)
    unit = lookups.unit(req)
    q = req.odata
    body = {"@odata.context": req.context_url("directory/administrativeUnits/$entity")}
    body |= serialize.render(unit, q.select, strict=True)
    return GraphResponse(body=body)


def _members_readable(req: GraphRequest, unit: AdministrativeUnit) -> None:
    require(req.caller, permissions.READ_UNITS)
    if unit.visibility == "HiddenMembership" and not (
            permissions.READ_HIDDEN_MEMBERS.satisfied_by(req.caller)
            or (not req.caller.app_only
                and indexes.is_direct_member(unit, req.caller.object_id))):
        # Hidden membership: only members, or callers with Member.Read.Hidden
        # (https://learn.microsoft.com/graph/api/administrativeunit-list-members).
        raise access_denied()


async def list_members(req: GraphRequest) -> GraphResponse:
    unit = lookups.unit(req)
    _members_readable(req, unit)
    return object_lists.object_page(req, unit.members, cast=req.params.get("cast"))


async def list_member_refs(req: GraphRequest) -> GraphResponse:
    unit = lookups.unit(req)
    _members_readable(req, unit)
    return object_lists.ref_page(req, unit.members)


async def get_member(req: GraphRequest) -> GraphResponse:
    """200 with the object if it is a DIRECT member; otherwise 404 (Graph documents only the 200:
    https://learn.microsoft.com/graph/api/administrativeunit-get-members; 404 is the likely answer).

    ``.../members/{id}/microsoft.graph.user`` (msgraph-sdk's only way to read one member) also
    answers 404 when the member is of another type.
    """
    unit = lookups.unit(req)
    _members_readable(req, unit)
    member_id = req.params["member"].lower()
    q = req.odata
    if q.filter or q.search or q.top or q.count:
        raise bad_request("Only $select applies to a single member.")
    obj = req.directory.object(member_id)
    if obj is None or not indexes.is_direct_member(unit, obj.id):
        raise not_found(req.params["member"])
    cast = object_lists.cast_type(req.params.get("cast"))
    if cast is not None and not (cast[0] is not None and isinstance(obj, cast[0])):
        raise not_found(req.params["member"])
    body = {"@odata.context": req.context_url("directoryObjects/$entity")}
    body |= object_lists.render_object(req.caller, obj, q.select)
    return GraphResponse(body=body)


async def list_scoped_role_members(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_ROLES)
    unit = lookups.unit(req)
    scope = f"/administrativeUnits/{unit.id}"
    directory = req.directory
    items: list[dict[str, Any]] = []
    for assignment in directory.role_assignments:
        if assignment.directory_scope_id != scope:
            continue
        holder = directory.object(assignment.principal_id)
        upn = getattr(holder, "user_principal_name", None)
        items.append({
            "id": assignment.id,
            "roleId": directory_role_id(assignment.role_definition_id),
            "administrativeUnitId": unit.id,
            "roleMemberInfo": {
                "id": assignment.principal_id,
                "displayName": getattr(holder, "display_name", None),
                "userPrincipalName": upn,
            },
        })
    body = odata.paged(req, items, lambda i: i, "scopedRoleMemberships")
    return GraphResponse(body=body)
