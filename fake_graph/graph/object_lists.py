"""Pages of directory objects for relationships (members, memberOf, transitive...).

Items are object ids (the member lists themselves, never copied, so a page of a 100,000-member
unit costs O(page)) or ``RoleRef`` entries for directoryRoles. OData casts narrow the type:
accepted as ``microsoft.graph.user`` or ``graph.user`` (the router rewrites the short form).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..directory import AdministrativeUnit, Directory, Group, User
from ..errors import GraphErrorResult, bad_request
from . import odata, permissions, serialize
from .context import Caller, GraphRequest, GraphResponse
from .permissions import Requirement


@dataclass(frozen=True)
class RoleRef:
    """A directoryRole in a memberOf list (tenant-wide roles only)."""

    template_id: str


Item = str | RoleRef
Resolved = User | Group | AdministrativeUnit | RoleRef

# cast segment -> (type, @odata.context fragment); None: a type this fake has no objects of.
CASTS: dict[str, tuple[type | None, str]] = {
    "microsoft.graph.user": (User, "users"),
    "microsoft.graph.group": (Group, "groups"),
    "microsoft.graph.administrativeUnit": (AdministrativeUnit, "administrativeUnits"),
    "microsoft.graph.directoryRole": (RoleRef, "directoryRoles"),
    "microsoft.graph.device": (None, "devices"),
    "microsoft.graph.servicePrincipal": (None, "servicePrincipals"),
    "microsoft.graph.orgContact": (None, "contacts"),
}
FILTERABLE = ("id", "displayName", "userPrincipalName", "mail", "description", "jobTitle",
              "givenName", "surname", "isAssignableToRole", "securityEnabled",
              "roleTemplateId", "accountEnabled")
SEARCHABLE_ANY = ("displayName", "description")
_READERS: dict[type, Requirement] = {
    User: permissions.READ_USERS,
    Group: permissions.READ_GROUPS,
    AdministrativeUnit: permissions.READ_UNITS,
    RoleRef: permissions.READ_ROLES,
}

_ROLE_PROPS = {"id", "displayName", "description", "roleTemplateId", "deletedDateTime"}


def cast_type(name: str | None) -> tuple[type | None, str] | None:
    if name is None:
        return None
    found = CASTS.get(name) or next(
        (v for k, v in CASTS.items() if k.lower() == name.lower()), None)
    if found is None:
        raise GraphErrorResult(400, "BadRequest",
                               f"Resource not found for the segment '{name}'.")
    return found


def resolver(directory: Directory) -> Callable[[Item], Resolved | None]:
    users, groups, units = directory.users, directory.groups, directory.administrative_units

    def resolve(item: Item) -> Resolved | None:
        if isinstance(item, RoleRef):
            return item
        return users.get(item) or groups.get(item) or units.get(item)

    return resolve


def readable(caller: Caller, obj: Resolved) -> bool:
    requirement = _READERS.get(type(obj))
    return requirement is None or requirement.satisfied_by(caller)


def render_object(caller: Caller, obj: Resolved, select: Sequence[str] | None) -> dict[str, Any]:
    if isinstance(obj, RoleRef):
        return serialize.directory_role(obj.template_id, select)
    return serialize.render(obj, select, strict=False, limited=not readable(caller, obj))


def role_property(ref: RoleRef, name: str) -> Any:
    return serialize.directory_role(ref.template_id).get(name)


def object_page(req: GraphRequest, items: Sequence[Item], *, cast: str | None,
                relationship: bool = True, searchable: Sequence[str] = SEARCHABLE_ANY,
                base_context: str = "directoryObjects") -> GraphResponse:
    """One page of a relationship, with casts, ``$filter``, ``$search`` and ``$select``."""
    q = req.odata
    narrowed = cast_type(cast)
    wanted, context = (narrowed if narrowed is not None else (None, base_context))
    if wanted is User:
        searchable = tuple(dict.fromkeys((*searchable, "userPrincipalName", "mail",
                                          "givenName", "surname")))
        serialize.select_props(q.select, serialize.USER_DEFAULT, serialize.USER_PROPERTIES,
                               "user", strict=True)
    odata.check_properties(q, filterable=FILTERABLE, searchable=searchable,
                           type_name="DirectoryObject")
    odata.require_advanced(req, relationship=relationship, cast=cast)
    resolve = resolver(req.directory)
    users = req.directory.users

    def get(item: Item, name: str) -> Any:
        obj = resolve(item)
        if obj is None:
            return None
        if isinstance(obj, RoleRef):
            return role_property(obj, name)
        return serialize.object_property(obj, name)

    def get_user(item: Item, name: str) -> Any:
        # Hot path of a unit's user members: items are known to be user ids.
        getter = serialize.USER_PROPERTIES.get(name)
        return getter(users[item]) if getter is not None else None  # type: ignore[index]

    predicate = odata.matcher(q, get_user if wanted is User else get)
    accept: Callable[[Item], bool] | None
    if narrowed is None:
        accept = predicate if predicate is not None else (lambda item: resolve(item) is not None)
    elif wanted is None:
        def accept(item: Item) -> bool:
            return False
    elif wanted is User:
        # The hot path (a unit's user members): a dict lookup per item.
        def accept(item: Item) -> bool:
            return (isinstance(item, str) and item in users
                    and (predicate is None or predicate(item)))
    else:
        kind = wanted

        def accept(item: Item) -> bool:
            return (isinstance(resolve(item), kind)
                    and (predicate is None or predicate(item)))

    if q.select is not None and q.select and context != "directoryObjects":
        context = f"{context}({','.join(q.select)})"

    def render(item: Item) -> dict[str, Any]:
        obj = resolve(item)
        assert obj is not None
        return render_object(req.caller, obj, q.select)

    if narrowed is None and predicate is None and all_resolvable(req.directory, items):
        accept = None
    return GraphResponse(body=odata.paged(req, items, render, context, accept))


def all_resolvable(directory: Directory, items: Sequence[Item]) -> bool:
    """Cheap check that lets an unfiltered page skip the per-item existence test."""
    return len(items) < 1000 and all(
        isinstance(i, RoleRef) or i in directory.users or i in directory.groups
        or i in directory.administrative_units for i in items)


def ref_page(req: GraphRequest, items: Sequence[str]) -> GraphResponse:
    """``.../members/$ref``: only the ``@odata.id`` links, as real Graph writes them."""
    q = req.odata
    if q.filter or q.search or q.select:
        raise bad_request("$ref supports only $top, $count and $skiptoken.")
    odata.require_advanced(req, relationship=True)
    resolve = resolver(req.directory)
    tenant = req.directory.tenant.id

    def render(item: str) -> dict[str, Any]:
        obj = resolve(item)
        assert obj is not None and not isinstance(obj, RoleRef)
        kind = obj.odata_type.rsplit(".", 1)[1]
        type_name = kind[0].upper() + kind[1:]
        return {"@odata.id": f"{req.base_url}/v2/{tenant}/directoryObjects/{obj.id}/"
                             f"Microsoft.DirectoryServices.{type_name}"}

    return GraphResponse(body=odata.paged(req, items, render, "directoryObjects/$ref",
                                          lambda i: resolve(i) is not None))
