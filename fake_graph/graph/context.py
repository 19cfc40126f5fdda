"""What a Graph handler gets (GraphRequest) and gives back (GraphResponse)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..directory import Directory
from ..state import FakeGraph
from .odata import ODataQuery, parse_query

# Real Graph's JSON content type; kiota and aiohttp only look at the part before ';'.
JSON_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)


@dataclass(frozen=True)
class Caller:
    """Who is calling, from the verified bearer token."""

    claims: dict[str, Any]
    app_only: bool
    client_id: str | None  # ``appid``
    object_id: str  # ``oid``: the service principal (app-only) or the signed-in user
    permissions: frozenset[str]  # ``roles`` (app-only) or the ``scp`` scopes (delegated)


@dataclass
class GraphRequest:
    fake: FakeGraph
    method: str
    path: str  # normalised, after /v1.0 (see router.normalize_path)
    query: dict[str, str]  # decoded; system query option names lower-cased (``$top``)
    headers: Mapping[str, str]  # case-insensitive
    body: Any  # parsed JSON, or None when the request had no body
    caller: Caller
    params: dict[str, str]  # captured from the route template, percent-decoded
    request_id: str
    client_request_id: str
    batch: bool
    _odata: ODataQuery | None = None

    @property
    def directory(self) -> Directory:
        return self.fake.directory

    @property
    def base_url(self) -> str:
        return self.fake.base_url.rstrip("/")

    @property
    def eventual(self) -> bool:
        """``ConsistencyLevel: eventual`` (kiota lower-cases the header name)."""
        return self.headers.get("ConsistencyLevel", "").strip().lower() == "eventual"

    @property
    def odata(self) -> ODataQuery:
        """The query options; ``$expand`` is refused (see ``expanding``)."""
        if self._odata is None:
            self._odata = parse_query(self.query)
        return self._odata

    def expanding(self, type_name: str, *relationships: str) -> ODataQuery:
        """The query options, with ``$expand`` allowed on these relationships of this
        resource type; call it before ``odata`` (which then returns the same query)."""
        self._odata = parse_query(self.query, relationships, type_name)
        return self._odata

    def context_url(self, fragment: str) -> str:
        return f"{self.base_url}/v1.0/$metadata#{fragment}"


@dataclass
class GraphResponse:
    status: int = 200
    body: Any = None  # JSON-serialisable, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)
    # Sent as-is instead of ``body``: an injected ``malformed`` answer (not valid JSON).
    raw: bytes | None = None


def no_content() -> GraphResponse:
    return GraphResponse(status=204)
