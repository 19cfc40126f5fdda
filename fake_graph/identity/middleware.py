"""Recording and fault injection for every request that is not Graph (``/v1.0``) or ``/_fake``.

Graph records its own requests (including ``$batch`` sub-requests) in ``graph.dispatch``; this
middleware covers the identity endpoints and anything else (404s included), so
``/_fake/requests`` shows a client's whole conversation with the fake. ``/_fake`` itself is
neither recorded nor faulted. Secrets never reach the record: only the query string is kept,
and ``recorder.redact_query`` blanks secret parameters (form bodies are not recorded at all).
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from aiohttp import web
from aiohttp.typedefs import Handler

from ..errors import entra_error
from ..faults import RESET_STATUS, Fault, abort_connection
from ..state import FAKE

_SKIP = ("/v1.0/", "/_fake/")

# Injected identity faults, shaped like Entra's answers for that status.
_FAULTS = {
    429: ("temporarily_unavailable", 90055, "There are too many incoming requests. Please "
          "retry later."),
    500: ("server_error", 90033, "A transient error has occurred. Please try again."),
    503: ("temporarily_unavailable", 90033, "A transient error has occurred. Please try "
          "again."),
    504: ("temporarily_unavailable", 90033, "A transient error has occurred. Please try "
          "again."),
}


def _skipped(path: str) -> bool:
    return path in ("/v1.0", "/_fake") or path.startswith(_SKIP)


async def _client_id(request: web.Request) -> str | None:
    client_id = request.query.get("client_id")
    if client_id:
        return client_id
    if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        value = (await request.post()).get("client_id")  # cached: the handler reads it again
        if isinstance(value, str) and value:
            return value
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user = base64.b64decode(auth[6:].strip()).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote_plus(user) or None
    return None


def fault_response(status: int, retry_after: int | None) -> web.Response:
    error, code, text = _FAULTS.get(status, ("invalid_request", 90023, "Injected fault."))
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return entra_error(status, error, code, text, headers)


@web.middleware
async def record_and_fault(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if _skipped(path):
        return await handler(request)
    fake = request.app[FAKE]
    client_id = await _client_id(request)
    status = 500
    try:
        fault = await fake.apply_fault(request.method, path)
        if fault is not None and not fault.after:
            response: web.StreamResponse | None = None
        else:
            response = await handler(request)
        if fault is not None:
            # Before the handler (``response`` None: nothing happened) or after it (a code
            # redeemed, a token issued) with its answer lost or garbled.
            response = _faulted(request, fault, response)
            if fault.kind == "reset":
                status = RESET_STATUS
                return response
        assert response is not None
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        fake.recorder.record(request.method, path, request.query_string, status, client_id,
                             False)


def _faulted(request: web.Request, fault: Fault,
             real: web.StreamResponse | None) -> web.StreamResponse:
    if fault.kind == "reset":
        return abort_connection(request)
    if fault.kind == "malformed":
        body = real.body if isinstance(real, web.Response) and \
            isinstance(real.body, bytes) else None
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None \
            else None
        status = fault.malformed_status(real.status if real is not None else None)
        return web.Response(status=status, body=fault.malformed(body),
                            content_type="application/json", headers=headers)
    assert fault.status is not None  # a status fault without a status is latency only
    return fault_response(fault.status, fault.retry_after)
