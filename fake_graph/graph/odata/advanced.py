"""The advanced-query rule (https://learn.microsoft.com/graph/aad-advanced-queries).

``$search`` needs the header ``ConsistencyLevel: eventual``; ``$count`` needs it too; ``ne`` /
``not`` / ``endswith`` need the header and ``$count=true``; on relationships (``members``,
``memberOf``, ...) ``$filter``, ``$search`` and OData casts need the header and ``$count=true``
(the Learn pages of administrativeUnit "List members" and user "List memberOf"); ``$expand``
is refused in advanced queries.
"""

from __future__ import annotations

from ...errors import bad_request, unsupported_query
from .query import QueryRequest

ADVANCED_QUERIES_URL = "https://aka.ms/graph-docs/advanced-queries"


def require_advanced(req: QueryRequest, *, relationship: bool = False,
                     cast: str | None = None) -> None:
    """Enforce the advanced-query rule; the messages are real Graph's where known."""
    q = req.odata
    eventual = req.eventual
    if q.expand and eventual and (q.count or q.search is not None):
        raise unsupported_query(
            "$expand is not supported in advanced queries (the 'ConsistencyLevel: eventual' "
            f"header with $count or $search). Refer to {ADVANCED_QUERIES_URL} for more "
            "information")
    if q.search is not None and not eventual:
        raise unsupported_query(
            "Request with $search query parameter only works through MSGraph with a special "
            "request header: 'ConsistencyLevel: eventual'")
    if q.count and not eventual:
        raise bad_request("$count is not currently supported.")
    full = eventual and q.count
    if q.filter is not None:
        op = q.filter.advanced_operator()
        if op is not None and not eventual:
            raise unsupported_query(
                f"Operator '{op}' is not supported because the 'ConsistencyLevel:eventual' "
                f"header is missing. Refer to {ADVANCED_QUERIES_URL} for more information")
        if op is not None and not full:
            raise unsupported_query(
                f"Operator '{op}' is not supported because the required parameters might be "
                "missing. Try adding $count with a value of true and the ConsistencyLevel "
                "header with a value of eventual.")
        if relationship and not full:
            raise unsupported_query(
                "The specified filter to the reference property query is currently not "
                "supported.")
    if relationship and q.search is not None and not full:
        raise unsupported_query(
            "$search on a relationship is an advanced query: it needs the header "
            f"'ConsistencyLevel: eventual' and $count=true. Refer to {ADVANCED_QUERIES_URL} "
            "for more information")
    if cast is not None and not full:
        raise unsupported_query(
            f"The OData cast to '{cast}' on a relationship is an advanced query: it needs the "
            f"header 'ConsistencyLevel: eventual' and $count=true. Refer to "
            f"{ADVANCED_QUERIES_URL} for more information")
