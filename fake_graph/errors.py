"""Error bodies shaped exactly like Microsoft's, built in one place.

Graph: ``{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}``
(https://learn.microsoft.com/graph/errors). Entra token/authorize errors:
``{"error", "error_description": "AADSTSnnnn: ...\\r\\nTrace ID: ...", "error_codes": [n], ...}``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


def _now() -> datetime:
    return datetime.now(UTC)


def graph_error_body(code: str, message: str, request_id: str,
                     client_request_id: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": _now().strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }
    }


class GraphErrorResult(Exception):
    """Raised inside Graph handlers; becomes a Graph-shaped error response."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found(resource: str) -> GraphErrorResult:
    return GraphErrorResult(
        404, "Request_ResourceNotFound",
        f"Resource '{resource}' does not exist or one of its queried reference-property "
        "objects are not present.",
    )


def access_denied() -> GraphErrorResult:
    return GraphErrorResult(403, "Authorization_RequestDenied",
                            "Insufficient privileges to complete the operation.")


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphErrorResult:
    return GraphErrorResult(400, code, message)


def unsupported_query(message: str) -> GraphErrorResult:
    return GraphErrorResult(400, "Request_UnsupportedQuery", message)


def invalid_token(message: str) -> GraphErrorResult:
    return GraphErrorResult(401, "InvalidAuthenticationToken", message)


def entra_error_body(error: str, aadsts: int, description: str) -> dict[str, Any]:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = _now().strftime("%Y-%m-%d %H:%M:%SZ")
    return {
        "error": error,
        # Entra separates the trailer with CRLF, exactly like this (recorded responses).
        "error_description": f"AADSTS{aadsts}: {description}\r\nTrace ID: {trace}\r\n"
        f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
        "error_codes": [aadsts],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
    }


def entra_error(status: int, error: str, aadsts: int, description: str,
                headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(entra_error_body(error, aadsts, description)),
        content_type="application/json",
        headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache", **(headers or {})},
    )
