"""Re-authentication: a change needs a recent sign-in (policy ``reauthenticate_after_minutes``).

A session lasts hours; a till left signed in must not let the next passer-by reset passwords.
So with the policy's limit on, a change is refused ``reauthentication_required`` unless the
caller entered their credentials at Entra at most that many minutes ago. That moment is the
``auth_time`` claim (an optional claim IT adds to the app registration: README), or for a
session, failing that, when the proxy redeemed a code it asked for with ``prompt=login``.
Never ``iat``: single sign-on and refresh tokens issue new tokens without anyone typing
anything. Unknown counts as too long ago.

The answer names where to sign in again: ``/auth/login?prompt=login&next=...``, which makes
Entra ask for the credentials even while its single sign-on session would not.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, urlencode

from mystaff_proxy.auth.redirects import safe_next

LOGIN_PATH: Final = "/auth/login"
#: Why a change was refused (the audit record's ``detail.why``).
UNKNOWN: Final = "sign_in_time_unknown"
TOO_OLD: Final = "sign_in_too_old"


def auth_time(claims: Mapping[str, Any], now: float | None = None) -> float | None:
    """A token's ``auth_time`` (epoch seconds), never later than now: a clock ahead of ours
    must not stretch the limit. None when the token has none."""
    value = claims.get("auth_time")
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    return min(float(value), time.time() if now is None else now)


def refusal(authenticated_at: float | None, limit_minutes: int,
            now: float | None = None) -> str | None:
    """Why a change must wait for a new sign-in (``UNKNOWN``, ``TOO_OLD``), or None when it
    may go ahead (the limit is 0, off, or the sign-in is recent enough)."""
    if limit_minutes <= 0:
        return None
    if authenticated_at is None:
        return UNKNOWN
    at = time.time() if now is None else now
    return TOO_OLD if at - authenticated_at > limit_minutes * 60 else None


def sign_in_again_url(next_path: str = "/", *, prompt_login: bool = True) -> str:
    """``/auth/login?prompt=login&next=...``: where a manager proves it is still them."""
    query = {"prompt": "login"} if prompt_login else {}
    query["next"] = safe_next(next_path)
    return f"{LOGIN_PATH}?{urlencode(query, quote_via=quote, safe='/')}"


def profile_path(loc: str, user_id: str | None) -> str:
    """Where an API caller resumes: the page of the person a change was about, else of the
    location (a bulk reset)."""
    page = f"/locations/{quote(loc, safe='')}"
    return f"{page}/staff/{quote(user_id, safe='')}" if user_id else page


def page_redirect(form_path: str) -> str:
    """For the page, whatever asked for it (this policy, or Entra refusing a delegated
    token): a sign-in with the form, back to the form that was posted (a GET of it)."""
    return sign_in_again_url(form_path)
