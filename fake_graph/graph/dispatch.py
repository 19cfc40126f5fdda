"""One path for every Graph request: top-level (aiohttp) and ``$batch`` sub-requests alike.

``dispatch`` authenticates the bearer token, applies injected faults, routes, runs the handler,
shapes errors like Graph's (``innerError`` with ``date``, ``request-id``, ``client-request-id``),
records the request (``batch=True`` for sub-requests) and sets the ``request-id`` /
``client-request-id`` response headers.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from multidict import CIMultiDict

from ..errors import GraphErrorResult, bad_request, graph_error_body, invalid_token
from ..faults import RESET_STATUS, ConnectionAborted, Fault
from ..state import FakeGraph
from ..tokens import GRAPH_AUDIENCES, InvalidToken
from .context import JSON_CONTENT_TYPE, Caller, GraphRequest, GraphResponse
from .router import Router, normalize_path
from .routes import build_router

log = logging.getLogger("fake_graph.graph")

NO_BODY: Any = object()  # "no JSON body was given" (distinct from a JSON null)

# Graph error codes for injected fault statuses.
_FAULT_CODES = {
    400: ("badRequest", "Bad request (injected fault)."),
    401: ("InvalidAuthenticationToken", "Access token validation failure (injected fault)."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "Resource not found (injected fault)."),
    409: ("conflict", "Conflict (injected fault)."),
    429: ("TooManyRequests", "Too many requests. Please retry after the time given in "
                             "Retry-After."),
    500: ("generalException", "An unexpected error occurred (injected fault)."),
    502: ("badGateway", "Bad gateway (injected fault)."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Please retry after "
                                 "the time given in Retry-After."),
    504: ("gatewayTimeout", "Gateway timeout (injected fault)."),
}

# Real Graph answers a 401 with this challenge (clients use it for claims challenges).
_WWW_AUTHENTICATE = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/'
                     'common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"')

_router: Router | None = None


def router() -> Router:
    global _router
    if _router is None:
        _router = build_router(dispatch)
    return _router


def parse_query_string(raw_query: str) -> dict[str, str]:
    """Decoded query; system option names lower-cased; a repeated option is an error."""
    out: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        name = key.lower() if key.startswith("$") else key
        if name in out:
            raise bad_request(f"Query option '{name}' was specified more than once, but it "
                              "must be specified at most once.")
        out[name] = value
    return out


def authenticate(fake: FakeGraph, headers: Mapping[str, str]) -> Caller:
    auth = headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise invalid_token("Access token is empty.")
    cache: dict[str, dict[str, Any]] = fake.state.setdefault("graph.token_cache", {})
    claims = cache.get(token)
    if claims is None:
        try:
            claims = fake.tokens.verify(token, GRAPH_AUDIENCES)
        except InvalidToken as exc:
            message = str(exc)
            if "expired" in message.lower():
                raise invalid_token("Lifetime validation failed, the token is expired.") from None
            raise invalid_token("Access token validation failure. Invalid audience."
                                if "audience" in message.lower()
                                else "Access token validation failure.") from None
        if len(cache) > 10_000:
            cache.clear()
        cache[token] = claims
    else:
        # Cached tokens still expire: re-check the lifetime only (the signature was checked).
        if int(claims.get("exp", 0)) <= time.time():
            cache.pop(token, None)
            raise invalid_token("Lifetime validation failed, the token is expired.")
    roles = claims.get("roles") or []
    scopes = str(claims.get("scp") or "").split()
    if not roles and not scopes:
        raise invalid_token("Either scp or roles claim need to be present in the token.")
    app_only = not scopes
    return Caller(
        claims=claims,
        app_only=app_only,
        client_id=claims.get("appid") or claims.get("azp"),
        object_id=str(claims.get("oid", "")),
        permissions=frozenset(roles if app_only else scopes),
    )


def error_response(err: GraphErrorResult, request_id: str,
                   client_request_id: str) -> GraphResponse:
    headers = dict(err.headers)
    if err.status == 401:
        headers.setdefault("WWW-Authenticate", _WWW_AUTHENTICATE)
    return GraphResponse(err.status,
                         graph_error_body(err.code, err.message, request_id, client_request_id),
                         headers)


def _fault_error(status: int, retry_after: int | None) -> GraphErrorResult:
    code, message = _FAULT_CODES.get(status, ("generalException", "Injected fault."))
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return GraphErrorResult(status, code, message, headers)


def _parse_body(body: bytes | None, json_body: Any) -> Any:
    if json_body is not NO_BODY:
        return json_body
    if not body or not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise GraphErrorResult(
            400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
            "header is set and payload is of valid JSON format.") from None


async def dispatch(fake: FakeGraph, method: str, path: str, query: str,
                   headers: Mapping[str, str], body: bytes | None = None, *,
                   json_body: Any = NO_BODY, batch: bool = False) -> GraphResponse:
    """Serve one Graph request.

    ``path`` is the request path after ``/v1.0``, still percent-encoded (``//`` allowed);
    ``query`` the raw query string without ``?``. ``headers`` are matched case-insensitively.
    ``body`` is the raw body, or give ``json_body`` (a ``$batch`` sub-request's parsed body).
    """
    method = method.upper()
    hdrs: CIMultiDict[str] = CIMultiDict(headers)
    request_id = str(uuid.uuid4())
    client_request_id = hdrs.get("client-request-id") or request_id
    # Recorded as sent (a test can see msgraph-sdk's "//"); faults match the normalised path,
    # so that one regular expression hits aiohttp and msgraph-sdk requests alike.
    recorded_path = "/v1.0" + unquote(path if path.startswith("/") else "/" + path)
    normalized = normalize_path(path)
    client_id: str | None = None
    fault: Fault | None = None
    try:
        caller = authenticate(fake, hdrs)
        client_id = caller.client_id
        fault = await fake.apply_fault(method, "/v1.0" + unquote(normalized))
        if fault is not None and not fault.after:
            response = _faulted(fault, None, request_id, client_request_id)
        else:
            match = router().match(method, normalized)
            req = GraphRequest(
                fake=fake, method=method, path=normalized, query=parse_query_string(query),
                headers=hdrs, body=_parse_body(body, json_body), caller=caller,
                params=match.params, request_id=request_id,
                client_request_id=client_request_id, batch=batch,
            )
            response = await match.route.handler(req)
    except GraphErrorResult as err:
        response = error_response(err, request_id, client_request_id)
    except ConnectionAborted:
        # A reset inside a $batch: the whole batch's connection goes (no answer to record).
        fake.recorder.record(method, recorded_path, query, RESET_STATUS, client_id, batch)
        raise
    except Exception:  # a fake bug must still answer like Graph, and be visible in the log
        log.exception("fake_graph: unhandled error serving %s %s", method, recorded_path)
        response = error_response(
            GraphErrorResult(500, "generalException", "An unexpected error occurred."),
            request_id, client_request_id)
    if fault is not None and fault.after:
        # The handler ran (a change is made); only its answer is lost or garbled.
        response = _faulted(fault, response, request_id, client_request_id)
    if fault is not None and fault.kind == "reset":
        fake.recorder.record(method, recorded_path, query, RESET_STATUS, client_id, batch)
        raise ConnectionAborted(f"injected reset: {method} {recorded_path}")
    response.headers["request-id"] = request_id
    response.headers["client-request-id"] = client_request_id
    if response.body is not None or response.raw is not None:
        response.headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
    fake.recorder.record(method, recorded_path, query, response.status, client_id, batch)
    return response


def _faulted(fault: Fault, real: GraphResponse | None, request_id: str,
             client_request_id: str) -> GraphResponse:
    """The answer an injected fault gives instead of ``real`` (None: the handler did not run).

    A ``reset`` is returned unchanged here: ``dispatch`` records it, then raises.
    """
    if fault.kind == "reset":
        return real or GraphResponse(RESET_STATUS)
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.kind == "malformed":
        body = None if real is None or real.body is None else json.dumps(real.body).encode()
        return GraphResponse(fault.malformed_status(real.status if real else None), None,
                             headers, raw=fault.malformed(body))
    assert fault.status is not None  # a status fault without a status is latency only
    return error_response(_fault_error(fault.status, fault.retry_after), request_id,
                          client_request_id)
