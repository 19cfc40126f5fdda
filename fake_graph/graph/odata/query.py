"""The query options of one request as a whole: parsed, checked against what an endpoint
supports, and turned into a predicate over its items.

``$select``, ``$top`` (1..999; default page size 100), ``$count``, ``$skiptoken``, plus
``$search`` (``search``), ``$filter`` (``filter``) and ``$expand`` (``expand``). Options Graph
has but the fake does not implement are refused rather than silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ...errors import bad_request, unsupported_query
from .expand import MAX_EXPAND_PAGE_SIZE, Expand, parse_expand
from .filter import FilterExpr, parse_filter
from .search import SearchQuery, parse_search

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999
_KNOWN_OPTIONS = {"$select", "$top", "$count", "$search", "$filter", "$skiptoken", "$expand"}
# Recognised but not implemented by the fake: refused rather than silently ignored, so a
# program never relies on an option the fake did not apply. ($expand too, on the endpoints that
# do not implement it.)
_UNIMPLEMENTED = {"$orderby", "$skip", "$format", "$apply", "$compute"}


@dataclass
class ODataQuery:
    raw: dict[str, str]
    select: tuple[str, ...] | None = None
    top: int | None = None
    count: bool = False
    search: SearchQuery | None = None
    filter: FilterExpr | None = None
    skiptoken: str | None = None
    expand: tuple[Expand, ...] = ()

    @property
    def page_size(self) -> int:
        if self.expand:
            return min(self.top or DEFAULT_PAGE_SIZE, MAX_EXPAND_PAGE_SIZE)
        return self.top or DEFAULT_PAGE_SIZE

    def expanded(self, name: str) -> Expand | None:
        return next((e for e in self.expand if e.name == name), None)


def parse_query(query: dict[str, str], expandable: Sequence[str] = (),
                type_name: str = "entity") -> ODataQuery:
    """The query options; ``$expand`` is refused unless ``expandable`` names relationships
    the endpoint can expand (``type_name``: its resource type, for error messages)."""
    for name in query:
        if name in _UNIMPLEMENTED or (name == "$expand" and not expandable):
            raise unsupported_query(f"fake_graph does not implement the query option '{name}'.")
        if name.startswith("$") and name not in _KNOWN_OPTIONS:
            raise bad_request(f"Query option '{name}' is not supported.")
    q = ODataQuery(raw=dict(query))
    if "$select" in query:
        q.select = tuple(p.strip() for p in query["$select"].split(",") if p.strip())
        if not q.select:
            raise bad_request("Invalid $select: no property named.")
    if "$expand" in query:
        q.expand = parse_expand(query["$expand"], expandable, type_name)
    if "$top" in query:
        text = query["$top"].strip()
        if not re.fullmatch(r"-?\d+", text):
            raise bad_request(f"Invalid value '{text}' for query option '$top'.")
        top = int(text)
        if not 1 <= top <= MAX_PAGE_SIZE:
            raise bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and "
                              f"{MAX_PAGE_SIZE} inclusive.")
        q.top = top
    if "$count" in query:
        value = query["$count"].strip().lower()
        if value not in ("true", "false"):
            raise bad_request(f"Invalid value '{query['$count']}' for query option '$count'.")
        q.count = value == "true"
    if "$search" in query:
        q.search = parse_search(query["$search"])
    if "$filter" in query:
        q.filter = parse_filter(query["$filter"])
    if "$skiptoken" in query:
        q.skiptoken = query["$skiptoken"]
    return q


def check_properties(q: ODataQuery, *, filterable: Iterable[str], searchable: Iterable[str],
                     type_name: str, filter_ops: Iterable[str] | None = None) -> None:
    """Refuse ``$filter`` / ``$search`` on properties (or operators) this endpoint lacks."""
    if q.filter is not None:
        allowed = set(filterable)
        for prop in sorted(q.filter.properties):
            if prop not in allowed:
                raise unsupported_query(
                    "Unsupported or invalid query filter clause specified for property "
                    f"'{prop}' of resource '{type_name}'.")
        if filter_ops is not None:
            ops = set(filter_ops)
            for op in sorted(q.filter.operators - ops):
                raise unsupported_query(
                    f"Unsupported Query. The operator '{op}' is not supported on "
                    f"'{type_name}'.")
    if q.search is not None:
        allowed = set(searchable)
        for prop in sorted(q.search.properties):
            if prop not in allowed:
                raise bad_request(
                    f"Invalid $search: property '{prop}' of resource '{type_name}' is not "
                    "searchable.")


def matcher(q: ODataQuery, get: Callable[[T, str], Any]) -> Callable[[T], bool] | None:
    """A predicate for ``$filter`` and ``$search`` (None when neither is given)."""
    flt, search = q.filter, q.search
    if flt is None and search is None:
        return None

    def accept(item: T) -> bool:
        if flt is not None and not flt.matches(item, get):
            return False
        return search is None or search.matches(item, get)

    return accept


class QueryRequest(Protocol):
    """What ``advanced`` and ``paging`` read of a request (a ``graph.context.GraphRequest``)."""

    @property
    def path(self) -> str: ...  # normalised, after /v1.0

    @property
    def query(self) -> Mapping[str, str]: ...  # decoded; option names lower-cased

    @property
    def base_url(self) -> str: ...

    @property
    def eventual(self) -> bool: ...  # ``ConsistencyLevel: eventual``

    @property
    def odata(self) -> ODataQuery: ...

    def context_url(self, fragment: str) -> str: ...
