from __future__ import annotations

import pytest

from mystaff_proxy.errors import CODES, MESSAGES, ApiError, error_body, from_graph_error
from mystaff_proxy.graph.exceptions import error_for


def test_every_code_of_spec_7_2_with_its_status() -> None:
    assert CODES == {
        "unauthenticated": 401, "csrf_failed": 403,
        "reauthentication_required": 401,  # manager mode: Entra wants a new sign-in
        "insufficient_permissions": 403,
        "not_found": 404, "forbidden": 403, "protected_user": 403, "invalid_request": 400,
        "invalid_phone_number": 400,
        "phone_number_not_allowed": 400,  # the policy refuses a valid number (docs/phones.md)
        "password_rejected": 400, "rate_limited": 429,
        "conflict": 409, "upstream_unavailable": 503,
        "internal_error": 500,  # not a refusal: a bug, answered with its request id
    }
    assert set(MESSAGES) == set(CODES)


def test_api_error_defaults_and_body() -> None:
    exc = ApiError("not_found")
    assert (exc.status, exc.message) == (404, MESSAGES["not_found"])
    assert exc.body("req-1") == {"error": {"code": "not_found", "message": MESSAGES["not_found"],
                                           "requestId": "req-1"}}
    assert exc.headers() == {}


def test_reauthentication_required_names_where_to_sign_in() -> None:
    exc = ApiError("reauthentication_required", reauth_url="/auth/login")
    assert exc.status == 401
    assert exc.body("r")["error"]["reauthUrl"] == "/auth/login"


def test_retry_after_header_is_whole_seconds_at_least_one() -> None:
    assert ApiError("rate_limited", retry_after=12.2).headers() == {"Retry-After": "13"}
    assert ApiError("rate_limited", retry_after=0.01).headers() == {"Retry-After": "1"}


@pytest.mark.parametrize(("cause", "status"),
                         [("bad_gateway", 502), ("unavailable", 503), ("timeout", 504)])
def test_upstream_status_by_cause(cause: str, status: int) -> None:
    exc = ApiError.upstream(cause)
    assert (exc.code, exc.status) == ("upstream_unavailable", status)


def test_wrong_code_or_status_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown API error code"):
        ApiError("teapot")
    with pytest.raises(ValueError, match="not 500"):
        ApiError("not_found", status=500)
    with pytest.raises(ValueError, match="cannot be HTTP 500"):
        ApiError("upstream_unavailable", status=500)
    with pytest.raises(ValueError):
        error_body("nope", "x", "r")


@pytest.mark.parametrize(("status", "code", "api_code", "api_status"), [
    (404, "Request_ResourceNotFound", "not_found", 404),
    (409, "conflict", "conflict", 409),
    (429, "TooManyRequests", "upstream_unavailable", 503),
    (503, "ServiceUnavailable", "upstream_unavailable", 503),
    (503, "identity", "upstream_unavailable", 503),
    (504, "timeout", "upstream_unavailable", 504),
    (502, "malformed", "upstream_unavailable", 502),
    (403, "Authorization_RequestDenied", "upstream_unavailable", 502),
    (400, "Request_BadRequest", "upstream_unavailable", 502),
])
def test_from_graph_error(status: int, code: str, api_code: str, api_status: int) -> None:
    exc = from_graph_error(error_for(status, code, "Insufficient privileges secret=abc"))
    assert (exc.code, exc.status) == (api_code, api_status)
    assert "secret" not in exc.message and "privileges" not in exc.message


def test_throttled_keeps_retry_after() -> None:
    exc = from_graph_error(error_for(429, "TooManyRequests", "slow down", retry_after=7))
    assert exc.headers() == {"Retry-After": "7"}
