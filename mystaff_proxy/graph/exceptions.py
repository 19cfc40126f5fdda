"""Graph errors as one exception hierarchy; the API's error codes are mapped from it in one place.

::

    GraphError                  any Graph failure (status, Graph error code, request id)
    ├── GraphBadRequest         400 (the request was refused as invalid)
    ├── GraphUnauthorized       401 (our app token was refused)
    ├── GraphForbidden          403 (the app lacks a permission or role for this target)
    ├── GraphNotFound           404
    ├── GraphConflict           409
    ├── GraphThrottled          429, after the retry budget was spent
    └── GraphUnavailable        5xx, timeouts, connection errors, malformed answers
"""

from __future__ import annotations


class GraphError(Exception):
    """A failed Graph call. ``code`` is Graph's error code (never shown to managers)."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after


class GraphBadRequest(GraphError):
    pass


class GraphUnauthorized(GraphError):
    pass


class GraphForbidden(GraphError):
    pass


class GraphNotFound(GraphError):
    pass


class GraphConflict(GraphError):
    pass


class GraphThrottled(GraphError):
    pass


class GraphUnavailable(GraphError):
    pass


_BY_STATUS: dict[int, type[GraphError]] = {
    400: GraphBadRequest,
    401: GraphUnauthorized,
    403: GraphForbidden,
    404: GraphNotFound,
    409: GraphConflict,
    429: GraphThrottled,
}


def error_for(status: int, code: str, message: str, request_id: str | None = None,
              retry_after: float | None = None) -> GraphError:
    """The exception for a Graph error answer."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = GraphUnavailable if status >= 500 else GraphError
    return cls(status, code, message, request_id, retry_after)
