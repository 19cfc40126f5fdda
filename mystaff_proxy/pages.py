"""HTML rendering: the Jinja2 templates, the static assets, and the error page of every code.

Templates are autoescaped (everything a page shows about a person comes from the directory,
and a display name such as ``<img src=x onerror=…>`` must stay text). Static files are few
and tiny, so they are read once at start-up and served from memory under a content hash:
the URL changes when the file does, which lets browsers cache them for a year.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final
from urllib.parse import quote

import jinja2
from aiohttp import web

from .errors import CODES, MESSAGES
from .request_keys import REQUEST_ID, SESSION

_PACKAGE: Final = "mystaff_proxy"
STATIC_TYPES: Final = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class ErrorText:
    title: str
    what: str  # what happened
    todo: str  # what to do


#: One page per API error code (plus sign-in failures): what happened, and what to do.
ERROR_TEXTS: Final[dict[str, ErrorText]] = {
    "unauthenticated": ErrorText(
        "Please sign in", "You are not signed in, or your session has ended.",
        "Sign in again to continue."),
    "csrf_failed": ErrorText(
        "This form has expired", "The form you sent was out of date, so nothing was changed.",
        "Go back, reload the page and try again."),
    "insufficient_permissions": ErrorText(
        "Insufficient permissions",
        "You don't have permission to manage staff in My Staff at this time.",
        "Contact your admin if you think you should have access."),
    "not_found": ErrorText(
        "Not found", "That location, person or phone number isn't one you can manage.",
        "Check the link, or go back to your staff list."),
    "forbidden": ErrorText(
        "Not allowed here", "You can see this person, but this action isn't allowed at "
        "this location.", "Ask your admin if you need to do this."),
    "protected_user": ErrorText(
        "Protected account", "This account is protected and can't be changed here.",
        "Contact your admin or IT for help with this account."),
    "invalid_request": ErrorText(
        "Something was missing", "The request was not understood, so nothing was changed.",
        "Reload the page and try again."),
    "invalid_phone_number": ErrorText(
        "Not a valid phone number", "That is not a valid phone number, so nothing was changed.",
        "Check the number and try again."),
    "phone_number_not_allowed": ErrorText(
        "Number not allowed", "That number can't be used for this person, so nothing was "
        "changed.", "Use the staff member's own number."),
    "password_rejected": ErrorText(
        "Password not allowed", "That password isn't allowed, so nothing was changed.",
        "Use a generated password, or follow the password rules."),
    "rate_limited": ErrorText(
        "Too many changes", "You've made too many changes in a short time, so nothing "
        "was changed.", "Wait a while and try again."),
    "conflict": ErrorText(
        "That didn't fit", "That conflicts with the person's current phone numbers, so "
        "nothing was changed.", "Reload the person's profile and try again."),
    "upstream_unavailable": ErrorText(
        "Microsoft Entra ID is not answering", "The directory did not answer in time.",
        "Nothing was changed; try again in a minute."),
    "internal_error": ErrorText(
        "Something went wrong", "Something went wrong in My Staff while answering.",
        "Try again; if it happens again, give IT the request id below."),
    "sign_in_failed": ErrorText(
        "Sign-in failed", "The sign-in did not complete.", "Start again from the sign-in page."),
    "sign_in_rate_limited": ErrorText(
        "Too many sign-ins", "Too many sign-ins from your network in the last minute.",
        "Wait a minute and try again."),
}
# Page-only codes that are not API codes, and their status (other page-only codes are 400).
_PAGE_STATUS: Final = {"sign_in_rate_limited": 429}
_FALLBACK = ErrorText("Something went wrong", "Something failed.", "Go back and try again.")


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def _load_static() -> dict[str, StaticFile]:
    out = {}
    for entry in resources.files(_PACKAGE).joinpath("static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if suffix in STATIC_TYPES and entry.is_file():
            body = entry.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:16]
            out[entry.name] = StaticFile(body, STATIC_TYPES[suffix], digest)
    return out


class Pages:
    """Renders every HTML answer of the service."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader(_PACKAGE, "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True)
        self.static = _load_static()
        self.env.globals["static_url"] = self.static_url

    def static_url(self, name: str) -> str:
        return f"/static/{name}?v={self.static[name].etag}"

    def render(self, request: web.Request, template: str, *, status: int = 200,
               **context: Any) -> web.Response:
        """A page; the session (when the handler found one) shows the signed-in bar."""
        body = self.env.get_template(template).render(
            session=request.get(SESSION), request_id=request.get(REQUEST_ID, ""), **context)
        return web.Response(text=body, status=status, content_type="text/html",
                            charset="utf-8")

    def error(self, request: web.Request, code: str, *, detail: str | None = None,
              retry_after: float | None = None) -> web.Response:
        status = CODES.get(code) or _PAGE_STATUS.get(code, 400)
        text = ERROR_TEXTS.get(code, _FALLBACK)
        # The service's own message is more precise when it is not the code's default
        # (e.g. "the change was made but the audit log cannot be written").
        what = detail if detail and detail != MESSAGES.get(code) else text.what
        wait = max(1, int(retry_after + 0.999)) if retry_after is not None else None
        response = self.render(request, "error.html", status=status, code=code,
                               title=text.title, what=what, todo=text.todo, wait=wait,
                               sign_in=_sign_in_url(request) if code in (
                                   "unauthenticated", "sign_in_failed") else None)
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        return response


def _sign_in_url(request: web.Request) -> str:
    if request.method == "GET" and not request.path.startswith("/auth/"):
        return "/auth/login?next=" + quote(request.path_qs, safe="/")
    return "/auth/login"
