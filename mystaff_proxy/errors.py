"""The JSON API's error codes, their HTTP statuses and user-facing messages (docs/api.md,
error codes).

::

    ApiError                    code, message, status, retry_after
    ├── raised by handlers with one of CODES
    └── from_graph_error()      a GraphError mapped to the code a manager sees

Messages are written for the manager reading them: one sentence, what happened and what to do.
They never carry a Graph error text, a token, a password or a phone number.
"""

from __future__ import annotations

import math
from typing import Any, Final

from mystaff_proxy.graph.exceptions import (
    GraphConflict,
    GraphError,
    GraphNotFound,
    GraphThrottled,
    GraphUnavailable,
)
from mystaff_proxy.i18n import N_, gettext

#: Every code the API answers with, in its order of precedence (docs/api.md), and its HTTP
#: status.
#: ``upstream_unavailable`` is 503 by default; 502 and 504 are chosen by cause (see ``upstream``).
CODES: Final[dict[str, int]] = {
    "unauthenticated": 401,
    "csrf_failed": 403,
    # Entra wants the manager to sign in again before it acts as them (manager mode); the
    # body names where: ``reauthUrl``.
    "reauthentication_required": 401,
    "insufficient_permissions": 403,
    "not_found": 404,
    "forbidden": 403,
    "protected_user": 403,
    "invalid_request": 400,
    "invalid_phone_number": 400,
    # A valid number the policy refuses: the acting manager's own, or outside the regions
    # it allows (docs/phones.md). Checked with invalid_phone_number.
    "phone_number_not_allowed": 400,
    "password_rejected": 400,
    "rate_limited": 429,
    "conflict": 409,
    "upstream_unavailable": 503,
    # Not a refusal: a bug in the proxy (an unexpected exception). The catch-all in app.py
    # answers it with the request id, which names the one log record that explains it.
    "internal_error": 500,
}

#: The default user-facing message of each code.
MESSAGES: Final[dict[str, str]] = {
    "unauthenticated": N_("You are not signed in, or your session has ended; sign in again."),
    "csrf_failed": N_("This form has expired; reload the page and try again."),
    "reauthentication_required": N_("Please sign in again to confirm it is you; nothing was "
                                    "changed."),
    "insufficient_permissions": N_("You do not manage any location; ask IT if you think you "
                                    "should."),
    "not_found": N_("Not found; check the link, or go back to your staff list."),
    "forbidden": N_("You may see this person but not do this here; ask IT if you need to."),
    "protected_user": N_("This account is protected and cannot be changed here; contact IT."),
    "invalid_request": N_("The request was not understood; reload the page and try again."),
    "invalid_phone_number": N_("That is not a valid phone number; check it and try again."),
    "phone_number_not_allowed": N_("This number cannot be used for this person; use the staff "
                                   "member's own number."),
    "password_rejected": N_("That password is not allowed; use a generated one or follow the "
                             "rules."),
    "rate_limited": N_("Too many changes in a short time; wait a while and try again."),
    "conflict": N_("That conflicts with the person's current phone numbers; reload and try "
                    "again."),
    "upstream_unavailable": N_("Microsoft Entra ID is not answering; nothing was changed, "
                               "try again in a minute."),
    "internal_error": N_("Something went wrong in My Staff; try again, and if it happens again "
                         "give IT the request id."),
}

#: The three statuses ``upstream_unavailable`` may take, by cause.
UPSTREAM_STATUS: Final[dict[str, int]] = {
    "bad_gateway": 502,   # Graph answered, but with an error or a malformed answer
    "unavailable": 503,   # Graph or the identity platform is down or throttling us
    "timeout": 504,       # Graph did not answer in time
}


class ApiError(Exception):
    """An error answer of the JSON API: ``{"error": {"code", "message", "requestId"}}``."""

    def __init__(self, code: str, message: str | None = None, status: int | None = None,
                 retry_after: float | None = None, reauth_url: str | None = None) -> None:
        if code not in CODES:
            raise ValueError(f"unknown API error code {code!r}")
        if status is None:
            status = CODES[code]
        elif code == "upstream_unavailable":
            if status not in UPSTREAM_STATUS.values():
                raise ValueError(f"upstream_unavailable cannot be HTTP {status}")
        elif status != CODES[code]:
            raise ValueError(f"{code} is HTTP {CODES[code]}, not {status}")
        self.code = code
        self.message = message if message is not None else MESSAGES[code]
        self.status = status
        self.retry_after = retry_after
        self.reauth_url = reauth_url  # reauthentication_required: where to sign in again
        super().__init__(f"{status} {code}: {self.message}")

    @classmethod
    def upstream(cls, cause: str = "unavailable", message: str | None = None,
                 retry_after: float | None = None) -> ApiError:
        """``upstream_unavailable`` with the status for ``cause`` (a key of UPSTREAM_STATUS)."""
        return cls("upstream_unavailable", message, UPSTREAM_STATUS[cause], retry_after)

    def headers(self) -> dict[str, str]:
        """Extra response headers: ``Retry-After`` in whole seconds (at least 1) when known."""
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON body, its message in the request's language (``i18n``)."""
        body = error_body(self.code, gettext(self.message), request_id)
        if self.reauth_url is not None:
            body["error"]["reauthUrl"] = self.reauth_url
        return body


def audit_unavailable() -> ApiError:
    """A record that had to be written first could not be: nothing more was done."""
    return ApiError.upstream("unavailable", N_("The audit log cannot be written; nothing more "
                                "was done. Contact IT."))


def error_body(code: str, message: str, request_id: str) -> dict[str, Any]:
    """The JSON body of an error answer."""
    if code not in CODES:
        raise ValueError(f"unknown API error code {code!r}")
    return {"error": {"code": code, "message": message, "requestId": request_id}}


def from_graph_error(exc: GraphError) -> ApiError:
    """The API error for a Graph failure that the handler did not handle more precisely.

    404 → ``not_found`` (e.g. no phone of that type; the target was already checked live),
    409 → ``conflict``, 429 after the retry budget → 503 with Graph's ``Retry-After``,
    a timeout (504) → 504, other 5xx / identity failures → 503, anything else Graph refused
    (400, 401, 403: our request or our app's rights, not the manager's doing) → 502.
    """
    if isinstance(exc, GraphNotFound):
        return ApiError("not_found")
    if isinstance(exc, GraphConflict):
        return ApiError("conflict")
    if isinstance(exc, GraphThrottled):
        return ApiError.upstream("unavailable", retry_after=exc.retry_after)
    if isinstance(exc, GraphUnavailable):
        if exc.status == 504:
            return ApiError.upstream("timeout")
        if exc.status in (500, 503) or exc.code == "identity":
            return ApiError.upstream("unavailable", retry_after=exc.retry_after)
        return ApiError.upstream("bad_gateway")
    return ApiError.upstream(
        "bad_gateway",
        N_("Microsoft Entra ID refused the request; nothing was changed, contact IT if it "
           "persists."))


CHANGE_UNKNOWN_MESSAGE: Final = N_("Microsoft Entra ID did not answer in time; the change may "
                                   "or may not have been made. Check before trying again.")
CHANGE_ANSWER_LOST_MESSAGE: Final = N_("Microsoft Entra ID's answer was lost or could not be "
                                       "read; the change may or may not have been made. Check "
                                       "before trying again.")


def from_change_error(exc: GraphError) -> ApiError:
    """``from_graph_error`` for a failed change: never "nothing was changed" when unknown.

    Unknown (``GraphError.outcome_unknown``): no answer in time, a broken connection, an
    unreadable answer (a 2xx whose body is not JSON: Graph may well have done it), Graph's
    own gateway timeout (504), or any of these on an earlier attempt of a repeated call.
    """
    error = from_graph_error(exc)
    if isinstance(exc, GraphUnavailable | GraphThrottled) and exc.outcome_unknown:
        message = CHANGE_UNKNOWN_MESSAGE if exc.code == "timeout" or exc.status == 504 \
            else CHANGE_ANSWER_LOST_MESSAGE
        return ApiError("upstream_unavailable", message, error.status, error.retry_after)
    return error
