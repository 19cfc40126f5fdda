"""Ownership: ``$expand=owners`` on applications, service principals and groups, and
``/groups/{id}/owners`` (``/users/{id}/ownedObjects`` is in ``owned_objects``).

Owners in a tenant file are users. An expanded ``owners`` holds at most 20 objects, with no
nextLink (Graph's limit for directory objects in ``$expand``); the ``/owners`` relationship
itself pages like any other (``$top``, ``@odata.nextLink``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import lookups, object_lists, odata, permissions
from .context import GraphRequest, GraphResponse
from .odata import Expand
from .permissions import require


def expanded_owners(req: GraphRequest, owner_ids: Sequence[str],
                    expand: Expand) -> list[dict[str, Any]]:
    """The ``owners`` of one object as ``$expand`` returns them: at most 20."""
    users = req.directory.users
    out: list[dict[str, Any]] = []
    for owner_id in owner_ids:
        user = users.get(owner_id)
        if user is None:
            continue
        out.append(object_lists.render_object(req.caller, user, expand.select))
        if len(out) == odata.MAX_EXPANDED:
            break
    return out


def context_with_expand(base: str, q: odata.ODataQuery) -> str:
    """``applications(id,owners(id))``: the ``@odata.context`` of a selected / expanded set."""
    parts = list(q.select or ())
    parts += [f"{e.name}({','.join(e.select or ())})" for e in q.expand]
    return f"{base}({','.join(parts)})" if parts else base


async def group_owners(req: GraphRequest) -> GraphResponse:
    """``GET /groups/{id}/owners``
    (https://learn.microsoft.com/graph/api/group-list-owners)."""
    require(req.caller, permissions.READ_GROUPS)
    group = lookups.group(req)
    return object_lists.object_page(req, group.owners, cast=req.params.get("cast"))
