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
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from mystaff_proxy.errors import CODES, MESSAGES
from mystaff_proxy.i18n import COOKIE, LANGUAGES, N_, current, gettext, ngettext
from mystaff_proxy.web.keys import REQUEST_ID, SESSION

_PACKAGE: Final = "mystaff_proxy.web"
STATIC_TYPES: Final = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class ErrorText:
    title: str
    what: str  # what happened
    todo: str  # what to do


#: One page per API error code (plus sign-in failures): what happened, and what to do.
ERROR_TEXTS: Final[dict[str, ErrorText]] = {
    "unauthenticated": ErrorText(
        N_("Please sign in"), N_("You are not signed in, or your session has ended."),
        N_("Sign in again to continue.")),
    "csrf_failed": ErrorText(
        N_("This form has expired"),
        N_("The form you sent was out of date, so nothing was changed."),
        N_("Go back, reload the page and try again.")),
    "insufficient_permissions": ErrorText(
        N_("Insufficient permissions"),
        N_("You don't have permission to manage staff in My Staff at this time."),
        N_("Contact your admin if you think you should have access.")),
    "not_found": ErrorText(
        N_("Not found"), N_("That location, person or phone number isn't one you can manage."),
        N_("Check the link, or go back to your staff list.")),
    "forbidden": ErrorText(
        N_("Not allowed here"), N_("You can see this person, but this action isn't allowed at "
           "this location."), N_("Ask your admin if you need to do this.")),
    "protected_user": ErrorText(
        N_("Protected account"), N_("This account is protected and can't be changed here."),
        N_("Contact your admin or IT for help with this account.")),
    "invalid_request": ErrorText(
        N_("Something was missing"), N_("The request was not understood, so nothing was changed."),
        N_("Reload the page and try again.")),
    "invalid_phone_number": ErrorText(
        N_("Not a valid phone number"),
        N_("That is not a valid phone number, so nothing was changed."),
        N_("Check the number and try again.")),
    "phone_number_not_allowed": ErrorText(
        N_("Number not allowed"), N_("That number can't be used for this person, so nothing was "
           "changed."), N_("Use the staff member's own number.")),
    "password_rejected": ErrorText(
        N_("Password not allowed"), N_("That password isn't allowed, so nothing was changed."),
        N_("Use a generated password, or follow the password rules.")),
    "rate_limited": ErrorText(
        N_("Too many changes"), N_("You've made too many changes in a short time, so nothing "
           "was changed."), N_("Wait a while and try again.")),
    "conflict": ErrorText(
        N_("That didn't fit"), N_("That conflicts with the person's current phone numbers, so "
           "nothing was changed."), N_("Reload the person's profile and try again.")),
    "upstream_unavailable": ErrorText(
        N_("Microsoft Entra ID is not answering"), N_("The directory did not answer in time."),
        N_("Nothing was changed; try again in a minute.")),
    "internal_error": ErrorText(
        N_("Something went wrong"), N_("Something went wrong in My Staff while answering."),
        N_("Try again; if it happens again, give IT the request id below.")),
    "sign_in_failed": ErrorText(
        N_("Sign-in failed"), N_("The sign-in did not complete."),
        N_("Start again from the sign-in page.")),
    "sign_in_rate_limited": ErrorText(
        N_("Too many sign-ins"), N_("Too many sign-ins from your network in the last minute."),
        N_("Wait a minute and try again.")),
}
# Page-only codes that are not API codes, and their status (other page-only codes are 400).
_PAGE_STATUS: Final = {"sign_in_rate_limited": 429}
_FALLBACK = ErrorText(N_("Something went wrong"), N_("Something failed."),
                      N_("Go back and try again."))


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
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
        # ``_()`` and ``{% trans %}`` in the request's language (i18n.current()); trimmed:
        # a sentence's msgid does not depend on how the template wraps it.
        self.env.policies["ext.i18n.trimmed"] = True
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            gettext, ngettext, newstyle=True)
        self.static = _load_static()
        self.env.globals["static_url"] = self.static_url

    def static_url(self, name: str) -> str:
        return f"/static/{name}?v={self.static[name].etag}"

    def render(self, request: web.Request, template: str, *, status: int = 200,
               **context: Any) -> web.Response:
        """A page; the session (when the handler found one) shows the signed-in bar."""
        lang = current()
        body = self.env.get_template(template).render(
            session=request.get(SESSION), request_id=request.get(REQUEST_ID, ""), lang=lang,
            languages=_language_links(request), **context)
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
                               title=gettext(text.title), what=gettext(what),
                               todo=gettext(text.todo), wait=wait,
                               sign_in=_sign_in_url(request) if code in (
                                   "unauthenticated", "sign_in_failed") else None)
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        return response


def _language_links(request: web.Request) -> list[tuple[str, str, str]]:
    """The footer's switcher: each language, and a link to this page that chooses it (a GET;
    a form page answered to a POST offers its own GET). Query-only relative links: the page
    never repeats its own path, so "not found" answers for different paths stay identical
    (SECURITY.md, enumeration)."""
    query = [(k, v) for k, v in request.query.items() if k != COOKIE]
    return [(code, name, "?" + urlencode([*query, (COOKIE, code)]))
            for code, name in LANGUAGES.items()]


def _sign_in_url(request: web.Request) -> str:
    if request.method == "GET" and not request.path.startswith("/auth/"):
        return "/auth/login?next=" + quote(request.path_qs, safe="/")
    return "/auth/login"
