"""``POST /v1.0/$batch``: JSON batching.

- ``{"requests": [{id, method, url, headers?, body?, dependsOn?}]}``, 1 to 20 requests; ids
  unique; ``url`` relative to the version root (``/users/x`` or ``users/x``).
- Payload errors fail the whole batch with 400: too many requests, missing fields, duplicate ids,
  unknown or circular ``dependsOn``, and a body without ``Content-Type`` (real Graph: "Write
  request id : 1 does not contain Content-Type header or body.").
- Each sub-request goes through ``dispatch`` like a top-level request (the outer bearer token,
  its own faults, its own record with ``batch=True``). A sub-request whose dependency failed
  (status >= 400) is answered ``424 Failed Dependency`` without running.
- Independent sub-requests run concurrently; dependent ones after their dependencies.
- Injected faults in a sub-request: a ``status`` fault is that sub-request's answer; a
  ``malformed`` one makes its ``body`` a JSON *string* holding truncated JSON (the envelope
  stays parseable, the sub-response does not); a ``reset`` aborts the connection of the whole
  outer ``$batch`` (one connection carries every answer, so nothing is answered).
- Responses come back in no particular order, as on real Graph: the fake returns them in
  reverse request order, so a client that assumes request order fails here first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from ..errors import GraphErrorResult, graph_error_body
from ..faults import ConnectionAborted
from ..state import FakeGraph
from .context import JSON_CONTENT_TYPE, GraphRequest, GraphResponse
from .router import Handler

MAX_REQUESTS = 20
_METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}


class Dispatch(Protocol):
    """``dispatch.dispatch``, which serves each sub-request (given to ``handler``, since
    ``dispatch`` routes ``$batch`` here)."""

    async def __call__(self, fake: FakeGraph, method: str, path: str, query: str,
                       headers: Mapping[str, str], body: bytes | None = None, *,
                       json_body: Any = ..., batch: bool = False) -> GraphResponse: ...


def _bad(message: str) -> GraphErrorResult:
    return GraphErrorResult(400, "BadRequest", message)


def _validate(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise _bad("Invalid batch payload format.")
    requests: list[dict[str, Any]] = body["requests"]
    if not requests:
        raise _bad("Invalid batch payload format: no requests.")
    if len(requests) > MAX_REQUESTS:
        raise _bad("Number of included requests in the request body must not exceed "
                   f"{MAX_REQUESTS}.")
    ids: set[str] = set()
    for item in requests:
        if not isinstance(item, dict):
            raise _bad("Invalid batch payload format.")
        rid, method, url = item.get("id"), item.get("method"), item.get("url")
        if not isinstance(rid, str) or not rid:
            raise _bad("Invalid batch payload format: every request needs a string id.")
        if rid in ids:
            raise _bad(f"Batch request ids must be unique: '{rid}' is repeated.")
        ids.add(rid)
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise _bad(f"Invalid method for request id : {rid}.")
        if not isinstance(url, str) or not url:
            raise _bad(f"Invalid url for request id : {rid}.")
        headers = item.get("headers", {})
        if not isinstance(headers, dict):
            raise _bad(f"Invalid headers for request id : {rid}.")
        if "body" in item and item["body"] is not None and not any(
                k.lower() == "content-type" for k in headers):
            raise _bad(f"Write request id : {rid} does not contain Content-Type header or body.")
        depends = item.get("dependsOn", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise _bad(f"Invalid dependsOn for request id : {rid}.")
    for item in requests:
        for dep in item.get("dependsOn", []):
            if dep not in ids or dep == item["id"]:
                raise _bad(f"Request id : {item['id']} depends on an unknown request '{dep}'.")
    _check_acyclic(requests)
    return requests


def _check_acyclic(requests: list[dict[str, Any]]) -> None:
    deps = {r["id"]: list(r.get("dependsOn", [])) for r in requests}
    state: dict[str, int] = {}

    def visit(rid: str) -> None:
        if state.get(rid) == 2:
            return
        if state.get(rid) == 1:
            raise _bad("Circular dependsOn in the batch.")
        state[rid] = 1
        for dep in deps[rid]:
            visit(dep)
        state[rid] = 2

    for rid in deps:
        visit(rid)


def _sub_response(rid: str, response: GraphResponse) -> dict[str, Any]:
    headers = {k: v for k, v in response.headers.items()
               if k.lower() not in ("request-id", "client-request-id")}
    out: dict[str, Any] = {"id": rid, "status": response.status, "headers": headers}
    if response.raw is not None:
        # An injected malformed answer: the broken text as a JSON string where the client
        # expects an object (a batch envelope must stay JSON; the body inside it is garbage).
        headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
        out["body"] = response.raw.decode("utf-8", "replace")
    elif response.body is not None:
        headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
        out["body"] = response.body
    return out


def handler(dispatch: Dispatch) -> Handler:
    """The ``POST /$batch`` handler, serving sub-requests with ``dispatch``."""

    async def handle(req: GraphRequest) -> GraphResponse:
        return await run_batch(req, dispatch)

    return handle


async def run_batch(req: GraphRequest, dispatch: Dispatch) -> GraphResponse:
    if req.batch:
        raise _bad("A $batch request cannot contain another $batch request.")
    requests = _validate(req.body)
    auth = req.headers.get("Authorization", "")
    done: dict[str, asyncio.Future[GraphResponse]] = {
        r["id"]: asyncio.get_running_loop().create_future() for r in requests}

    async def run(item: dict[str, Any]) -> None:
        rid = item["id"]
        try:
            deps = [await done[d] for d in item.get("dependsOn", [])]
            if any(d.status >= 400 for d in deps):
                response = GraphResponse(424, graph_error_body(
                    "FailedDependency", "The request failed because one of its dependencies "
                    "(dependsOn) failed.", req.request_id, req.client_request_id))
            else:
                url: str = item["url"]
                path, _, query = url.partition("?")
                headers = {str(k): str(v) for k, v in item.get("headers", {}).items()}
                headers["Authorization"] = auth
                if "body" in item and item["body"] is not None:
                    response = await dispatch(req.fake, item["method"], path, query, headers,
                                              json_body=item["body"], batch=True)
                else:
                    response = await dispatch(req.fake, item["method"], path, query, headers,
                                              batch=True)
        except BaseException as exc:
            if not done[rid].done():
                done[rid].set_exception(exc)
            raise
        done[rid].set_result(response)

    outcomes = await asyncio.gather(*(run(item) for item in requests), return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        # A sub-request's injected reset takes the whole batch's connection down (after its
        # siblings finished, as a server would). The futures holding the exception are marked
        # retrieved, or asyncio would warn about them.
        for future in done.values():
            if future.done() and not future.cancelled():
                future.exception()
        aborted = [f for f in failures if isinstance(f, ConnectionAborted)]
        raise (aborted or failures)[0]
    responses = [_sub_response(r["id"], done[r["id"]].result()) for r in reversed(requests)]
    return GraphResponse(body={"responses": responses})
