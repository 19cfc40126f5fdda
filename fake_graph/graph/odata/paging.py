"""Paging: one page of a collection, with ``@odata.count`` and ``@odata.nextLink``.

``@odata.nextLink`` is absolute (built from the fake's base URL), keeps the query and adds an
opaque ``$skiptoken`` bound to that query; ``@odata.count`` only on the first page. The header
is not remembered across pages: as with real Graph, a client re-sends it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from ...errors import GraphErrorResult
from .query import QueryRequest

T = TypeVar("T")


def _query_digest(path: str, raw: Mapping[str, str]) -> str:
    canonical = json.dumps([path.lower(), sorted((k, v) for k, v in raw.items()
                                                 if k != "$skiptoken")])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _encode_skiptoken(offset: int, digest: str) -> str:
    payload = json.dumps({"o": offset, "q": digest}, separators=(",", ":")).encode()
    return "RFNwdAIA" + base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _decode_skiptoken(token: str, digest: str) -> int:
    expired = GraphErrorResult(
        400, "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your "
        "request.")
    if not token.startswith("RFNwdAIA"):
        raise expired
    body = token[len("RFNwdAIA"):]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        offset = int(data["o"])
        same_query = data["q"] == digest
    except (ValueError, KeyError, TypeError):
        raise expired from None
    if not same_query or offset < 0:
        raise expired
    return offset


def next_link(req: QueryRequest, offset: int) -> str:
    raw = {k: v for k, v in req.query.items() if k != "$skiptoken"}
    token = _encode_skiptoken(offset, _query_digest(req.path, raw))
    parts = [f"{quote(k, safe='$')}={quote(v, safe=_SAFE)}" for k, v in raw.items()]
    parts.append(f"$skiptoken={token}")
    return f"{req.base_url}/v1.0{req.path}?{'&'.join(parts)}"


_SAFE = "$,'()*:@/=!"


def paged(req: QueryRequest, items: Sequence[T], render: Callable[[T], dict[str, Any]],
          context: str, accept: Callable[[T], bool] | None = None) -> dict[str, Any]:
    """One page of ``items`` (those ``accept`` keeps), rendered, with count and nextLink.

    The skiptoken holds an index into ``items``, so a page costs O(page + skipped items), not
    O(all items): ``items`` must keep a stable order between pages (insertion order does).
    """
    q = req.odata
    offset = 0
    if q.skiptoken is not None:
        offset = _decode_skiptoken(q.skiptoken, _query_digest(req.path, req.query))
    size = q.page_size
    counting = q.count and q.skiptoken is None
    values: list[dict[str, Any]] = []
    n = len(items)
    next_index: int | None = None
    if accept is None:
        values = [render(item) for item in items[offset:offset + size]]
        next_index = offset + size if offset + size < n else None
        matched = n
    else:
        # One pass: the page, the index of the first item of the next page (so that the last
        # page carries no nextLink) and, on page 1 with $count, the total.
        matched = 0
        for i in range(offset, n):
            item = items[i]
            if not accept(item):
                continue
            if len(values) < size:
                values.append(render(item))
            elif next_index is None:
                next_index = i
                if not counting:
                    break
            matched += 1
    body: dict[str, Any] = {"@odata.context": req.context_url(context)}
    if counting:
        body["@odata.count"] = matched
    if next_index is not None:
        body["@odata.nextLink"] = next_link(req, next_index)
    body["value"] = values
    return body
