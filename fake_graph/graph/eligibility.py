"""Privileged Identity Management reads: who is *eligible* for a directory role, and for the
membership or ownership of a group (PIM for Groups).

- ``GET /roleManagement/directory/roleEligibilityScheduleInstances``: every tenant-wide role
  eligibility, or those ``$filter`` keeps (``eq`` on principalId, roleDefinitionId,
  directoryScopeId, id, memberType, roleEligibilityScheduleId, joined by ``and``); ``$select``.
- ``GET /identityGovernance/privilegedAccess/group/eligibilityScheduleInstances``: needs a
  ``$filter`` naming ``principalId eq`` or ``groupId eq`` (Graph: "This method requires the
  $filter (eq) query parameter to scope the request to a principalId or a groupId"); without
  one, 400. Also ``accessId``, ``memberType``, ``eligibilityScheduleId``, ``id``, with ``and``.

Both answer ``400 AadPremiumLicenseRequired`` when the tenant file says ``pim_licensed: false``
(real Graph, a tenant without Entra ID P2: "The tenant needs an AAD Premium 2 license."),
after the permission check. Delegated callers only need the permission here; real Graph also
wants a supporting Entra role of the signed-in user (not modelled).
"""

from __future__ import annotations

from typing import Any

from ..directory import GroupEligibility, RoleEligibility
from ..errors import GraphErrorResult, bad_request
from . import odata, permissions
from .context import GraphRequest, GraphResponse
from .odata import BoolOp, Compare, Node
from .permissions import require

_OPS = ("eq", "and")
ROLE_CONTEXT = "roleManagement/directory/roleEligibilityScheduleInstances"
GROUP_CONTEXT = "identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"


def license_required() -> GraphErrorResult:
    return GraphErrorResult(400, "AadPremiumLicenseRequired",
                            "The tenant needs an AAD Premium 2 license.")


def _licensed(req: GraphRequest) -> None:
    if not req.directory.pim_licensed:
        raise license_required()


def _check_select(select: tuple[str, ...] | None, known: dict[str, Any], type_name: str) -> None:
    for prop in select or ():
        if prop not in known:
            raise bad_request(f"Could not find a property named '{prop}' on type "
                              f"'microsoft.graph.{type_name}'.")


def _selected(obj: dict[str, Any], select: tuple[str, ...] | None) -> dict[str, Any]:
    """Items carry no ``@odata.type`` (a collection of one type, as Graph answers it);
    ``id`` is always returned."""
    if select is None:
        return obj
    return {k: v for k, v in obj.items() if k in select or k == "id"}


def _context(base: str, select: tuple[str, ...] | None) -> str:
    return f"{base}({','.join(select)})" if select else base


# -- directory roles -----------------------------------------------------------------------


def role_eligibility_json(e: RoleEligibility) -> dict[str, Any]:
    return {
        "id": e.id,
        "principalId": e.principal_id,
        "roleDefinitionId": e.role_definition_id,
        "directoryScopeId": e.directory_scope_id,
        "appScopeId": None,
        "startDateTime": e.start,
        "endDateTime": None,
        "memberType": "Direct",
        "roleEligibilityScheduleId": e.schedule_id,
    }


_ROLE_FILTERABLE = ("id", "principalId", "roleDefinitionId", "directoryScopeId", "memberType",
                    "roleEligibilityScheduleId")


def _role_property(e: RoleEligibility, name: str) -> Any:
    return role_eligibility_json(e).get(name)


async def list_role_eligibility_instances(req: GraphRequest) -> GraphResponse:
    """``GET /roleManagement/directory/roleEligibilityScheduleInstances``
    (https://learn.microsoft.com/graph/api/rbacapplication-list-roleeligibilityscheduleinstances).
    """
    require(req.caller, permissions.READ_ROLE_ELIGIBILITY)
    _licensed(req)
    q = req.odata
    odata.check_properties(q, filterable=_ROLE_FILTERABLE, searchable=(),
                           type_name="unifiedRoleEligibilityScheduleInstance", filter_ops=_OPS)
    if q.search is not None or q.count:
        raise bad_request("$search and $count are not supported on "
                          "roleEligibilityScheduleInstances.")
    _check_select(q.select, role_eligibility_json(RoleEligibility("", "", "", "", "", "")),
                  "unifiedRoleEligibilityScheduleInstance")
    body = odata.paged(req, req.directory.role_eligibilities,
                       lambda e: _selected(role_eligibility_json(e), q.select),
                       _context(ROLE_CONTEXT, q.select), odata.matcher(q, _role_property))
    return GraphResponse(body=body)


# -- PIM for Groups ------------------------------------------------------------------------


def group_eligibility_json(e: GroupEligibility) -> dict[str, Any]:
    return {
        "id": e.id,
        "startDateTime": e.start,
        "endDateTime": None,
        "accessId": e.access_id,
        "principalId": e.principal_id,
        "groupId": e.group_id,
        "memberType": "direct",
        "eligibilityScheduleId": e.schedule_id,
    }


_GROUP_FILTERABLE = ("id", "principalId", "groupId", "accessId", "memberType",
                     "eligibilityScheduleId")


def _group_property(e: GroupEligibility, name: str) -> Any:
    return group_eligibility_json(e).get(name)


def _scoped(node: Node) -> bool:
    """Whether the filter pins principalId or groupId with ``eq`` (in an ``and`` chain)."""
    if isinstance(node, Compare):
        return node.op == "eq" and node.prop in ("principalId", "groupId")
    if isinstance(node, BoolOp) and node.op == "and":
        return _scoped(node.left) or _scoped(node.right)
    return False


async def list_group_eligibility_instances(req: GraphRequest) -> GraphResponse:
    """``GET /identityGovernance/privilegedAccess/group/eligibilityScheduleInstances``
    (https://learn.microsoft.com/graph/api/privilegedaccessgroup-list-eligibilityscheduleinstances).
    """
    require(req.caller, permissions.READ_GROUP_ELIGIBILITY)
    _licensed(req)
    q = req.odata
    odata.check_properties(q, filterable=_GROUP_FILTERABLE, searchable=(),
                           type_name="privilegedAccessGroupEligibilityScheduleInstance",
                           filter_ops=_OPS)
    if q.search is not None or q.count:
        raise bad_request("$search and $count are not supported on eligibilityScheduleInstances.")
    if q.filter is None or not _scoped(q.filter.root):
        # Graph's own error text for this case is not documented: the code is its usual
        # BadRequest, the message the documented rule.
        raise GraphErrorResult(
            400, "BadRequest",
            "This method requires the $filter (eq) query parameter to scope the request to a "
            "principalId or a groupId.")
    _check_select(q.select, group_eligibility_json(GroupEligibility("", "", "", "", "", "")),
                  "privilegedAccessGroupEligibilityScheduleInstance")
    body = odata.paged(req, req.directory.group_eligibilities,
                       lambda e: _selected(group_eligibility_json(e), q.select),
                       _context(GROUP_CONTEXT, q.select), odata.matcher(q, _group_property))
    return GraphResponse(body=body)
