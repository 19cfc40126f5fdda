"""OData query options as Graph's directory endpoints accept them, one module per job.

- ``query``: the options of a request as a whole (``parse_query``, ``check_properties``,
  ``matcher``), ``$select``, ``$top``, ``$count``;
- ``search``: ``$search``; ``filter``: ``$filter``; ``expand``: ``$expand``;
- ``advanced``: the advanced-query rule (``ConsistencyLevel: eventual`` and ``$count``);
- ``paging``: pages, ``@odata.count`` and ``@odata.nextLink`` with its ``$skiptoken``.

Handlers use the names re-exported here (``odata.paged``, ``odata.require_advanced``...).
The package imports nothing of ``graph`` but ``errors``: a request is what
``query.QueryRequest`` describes.
"""

from __future__ import annotations

from .advanced import ADVANCED_QUERIES_URL, require_advanced
from .expand import MAX_EXPAND_PAGE_SIZE, MAX_EXPANDED, Expand, parse_expand
from .filter import (
    BoolOp,
    Compare,
    FilterExpr,
    Func,
    Getter,
    In,
    Node,
    Not,
    parse_filter,
)
from .paging import next_link, paged
from .query import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ODataQuery,
    QueryRequest,
    check_properties,
    matcher,
    parse_query,
)
from .search import SearchClause, SearchQuery, cached_words, parse_search, words

__all__ = [
    "ADVANCED_QUERIES_URL",
    "DEFAULT_PAGE_SIZE",
    "MAX_EXPANDED",
    "MAX_EXPAND_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "BoolOp",
    "Compare",
    "Expand",
    "FilterExpr",
    "Func",
    "Getter",
    "In",
    "Node",
    "Not",
    "ODataQuery",
    "QueryRequest",
    "SearchClause",
    "SearchQuery",
    "cached_words",
    "check_properties",
    "matcher",
    "next_link",
    "paged",
    "parse_expand",
    "parse_filter",
    "parse_query",
    "parse_search",
    "require_advanced",
    "words",
]
