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

#: ``GraphUnavailable.code`` when the app token could not be had: no Graph call was sent.
IDENTITY = "identity"
#: ``GraphUnavailable.code`` values after which Graph's answer was never read: the call may or
#: may not have been carried out (no answer in time, a broken connection, an unreadable
#: answer, or a POST whose outcome could not be read back).
LOST_ANSWER_CODES = frozenset({"timeout", "connection", "malformed", "unknown"})
#: Graph's own gateway gave up waiting for the service: the call may still have been done.
GATEWAY_TIMEOUT = 504


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
        # Set by GraphClient: this call, or an earlier attempt of it, got no readable answer
        # (LOST_ANSWER_CODES, or a 504), so a change it carried may have been made.
        self.unanswered_attempt = False

    @property
    def outcome_unknown(self) -> bool:
        """Whether a change sent with this call may have been made despite the error."""
        if self.code == IDENTITY and not self.unanswered_attempt:
            return False  # no app token: the call was never sent
        return self.unanswered_attempt or self.code in LOST_ANSWER_CODES \
            or self.status == GATEWAY_TIMEOUT


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
