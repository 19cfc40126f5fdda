"""What a failed change tells the manager: "nothing was changed" only when that is known.

``from_change_error`` (errors.py) over ``GraphError.outcome_unknown`` (graph/exceptions.py);
end to end, with the fake producing each fault: tests/e2e/test_fault_matrix.py.
"""

from __future__ import annotations

import pytest

from mystaff_proxy.errors import from_change_error
from mystaff_proxy.graph.exceptions import (
    IDENTITY,
    GraphError,
    GraphThrottled,
    GraphUnavailable,
    error_for,
)


def unknown(exc: GraphError) -> bool:
    message = from_change_error(exc).message
    assert ("may or may not" in message) != ("nothing was changed" in message), message
    return "may or may not" in message


@pytest.mark.parametrize(("exc", "status"), [
    (GraphUnavailable(504, "timeout", "no answer in time"), 504),
    (GraphUnavailable(503, "connection", "reset"), 503),
    (GraphUnavailable(502, "malformed", "a 2xx that is not JSON"), 502),
    (GraphUnavailable(503, "unknown", "POST not read back"), 503),
    (error_for(504, "gatewayTimeout", "Graph's own gateway gave up"), 504),
])
def test_a_lost_or_unreadable_answer_leaves_the_outcome_unknown(exc: GraphError,
                                                                status: int) -> None:
    assert unknown(exc)
    assert from_change_error(exc).status == status


@pytest.mark.parametrize("exc", [
    error_for(500, "generalException", "failed"),
    error_for(503, "serviceNotAvailable", "failed"),
    error_for(429, "TooManyRequests", "throttled", retry_after=2),
    GraphUnavailable(503, IDENTITY, "no app token"),
    GraphUnavailable(504, IDENTITY, "the token endpoint hung"),  # nothing was sent
])
def test_an_answered_failure_or_no_token_changed_nothing(exc: GraphError) -> None:
    assert not unknown(exc)


def test_an_earlier_lost_attempt_makes_a_later_answer_unknown() -> None:
    """A repeated call that ends in a plain error may still have been done the first time."""
    for exc in (error_for(503, "serviceNotAvailable", "x"), GraphUnavailable(503, IDENTITY, "x"),
                GraphThrottled(429, "TooManyRequests", "x")):
        exc.unanswered_attempt = True
        assert unknown(exc)
