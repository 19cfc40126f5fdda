"""Memberships: ``/users/{id}/memberOf``, ``/transitiveMemberOf`` (and for groups), with casts
to ``microsoft.graph.group`` / ``directoryRole`` / ``administrativeUnit``; and ``/groups``.

directoryRole entries are tenant-wide roles only (an AU-scoped assignment is not a directoryRole
membership: https://learn.microsoft.com/graph/api/resources/directoryrole). A role held by a
role-assignable group shows in the members' ``transitiveMemberOf`` but not in their ``memberOf``.
``transitiveMemberOf`` follows containment: a unit that contains a group the user is in is listed
too (only direct members are *in scope* of a unit's roles, but the object is transitively
contained).
"""

from __future__ import annotations

from typing import Any

from ..directory import Directory, Group
from . import indexes, lookups, object_lists, odata, owners, permissions, serialize
from .context import GraphRequest, GraphResponse
from .object_lists import Item, RoleRef
from .permissions import require

GROUP_FILTERABLE = ("id", "displayName", "mail", "securityEnabled", "isAssignableToRole",
                    "mailEnabled")
GROUP_SEARCHABLE = ("displayName", "description", "mail", "mailNickname")


def _tenant_roles(directory: Directory, principals: set[str]) -> list[RoleRef]:
    seen: dict[str, RoleRef] = {}
    for assignment in directory.role_assignments:
        if assignment.principal_id in principals and assignment.directory_scope_id == "/":
            seen.setdefault(assignment.role_definition_id,
                            RoleRef(assignment.role_definition_id))
    return list(seen.values())


def direct_memberships(directory: Directory, object_id: str) -> list[Item]:
    items: list[Item] = [g.id for g in indexes.direct_groups(directory, object_id)]
    items += _tenant_roles(directory, {object_id})
    items += [u.id for u in indexes.direct_units(directory, object_id)]
    return items


def transitive_memberships(directory: Directory, object_id: str) -> list[Item]:
    groups = indexes.transitive_groups(directory, object_id)
    items: list[Item] = [g.id for g in groups]
    containers = {object_id} | {g.id for g in groups}
    items += _tenant_roles(directory, containers)
    units: dict[str, None] = {}
    for container in containers:
        for unit in indexes.direct_units(directory, container):
            units.setdefault(unit.id)
    items += list(units)
    return items


async def user_member_of(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _require_memberships(req, user.id)
    return object_lists.object_page(req, direct_memberships(req.directory, user.id),
                                    cast=req.params.get("cast"))


async def user_transitive_member_of(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _require_memberships(req, user.id)
    return object_lists.object_page(req, transitive_memberships(req.directory, user.id),
                                    cast=req.params.get("cast"))


def _require_memberships(req: GraphRequest, target_id: str) -> None:
    caller = req.caller
    if not caller.app_only and caller.object_id == target_id and (
            permissions.READ_SELF.satisfied_by(caller)):
        return
    require(caller, permissions.READ_MEMBERSHIPS)


async def group_member_of(req: GraphRequest) -> GraphResponse:
    group = lookups.group(req)
    require(req.caller, permissions.READ_MEMBERSHIPS)
    return object_lists.object_page(req, direct_memberships(req.directory, group.id),
                                    cast=req.params.get("cast"))


async def group_transitive_member_of(req: GraphRequest) -> GraphResponse:
    group = lookups.group(req)
    require(req.caller, permissions.READ_MEMBERSHIPS)
    return object_lists.object_page(req, transitive_memberships(req.directory, group.id),
                                    cast=req.params.get("cast"))


# -- /groups -------------------------------------------------------------------------------


def _group_property(group: Group, name: str) -> Any:
    return serialize.object_property(group, name)


def _render_group(req: GraphRequest, group: Group, q: odata.ODataQuery,
                  strict: bool = False) -> dict[str, Any]:
    out = serialize.render(group, q.select, strict=strict)
    expand = q.expanded("owners")
    if expand is not None:
        out["owners"] = owners.expanded_owners(req, group.owners, expand)
    return out


async def list_groups(req: GraphRequest) -> GraphResponse:
    """``GET /groups``: ``$filter=isAssignableToRole eq true`` is a default query (no
    ConsistencyLevel); ``$expand=owners`` (https://learn.microsoft.com/graph/api/group-list)."""
    require(req.caller, permissions.READ_GROUPS)
    q = req.expanding("group", "owners")
    odata.check_properties(q, filterable=GROUP_FILTERABLE, searchable=GROUP_SEARCHABLE,
                           type_name="Group")
    odata.require_advanced(req)
    serialize.select_props(q.select, serialize.GROUP_DEFAULT, serialize.GROUP_PROPERTIES,
                           "group", strict=True)
    groups = list(req.directory.groups.values())
    body = odata.paged(req, groups, lambda g: _render_group(req, g, q),
                       owners.context_with_expand("groups", q),
                       odata.matcher(q, _group_property))
    return GraphResponse(body=body)


async def get_group(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_GROUPS)
    group = lookups.group(req)
    q = req.expanding("group", "owners")
    body = {"@odata.context": req.context_url(
        owners.context_with_expand("groups", q) + "/$entity")}
    body |= _render_group(req, group, q, strict=True)
    return GraphResponse(body=body)


async def group_members(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_GROUPS)
    group = lookups.group(req)
    return object_lists.object_page(req, group.members, cast=req.params.get("cast"))


def _transitive_members(directory: Directory, group: Group) -> list[Item]:
    seen: dict[str, None] = {}
    frontier = [group]
    visited = {group.id}
    while frontier:
        current = frontier.pop()
        for member in current.members:
            seen.setdefault(member)
            nested = directory.groups.get(member)
            if nested is not None and nested.id not in visited:
                visited.add(nested.id)
                frontier.append(nested)
    seen.pop(group.id, None)  # a cycle back to the group itself
    return list(seen)


async def group_transitive_members(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_GROUPS)
    group = lookups.group(req)
    return object_lists.object_page(req, _transitive_members(req.directory, group),
                                    cast=req.params.get("cast"))
