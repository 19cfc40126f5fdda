"""What every page module shares: the signed-in page decorators (``page``, ``change_page``),
reading the form, rendering, the redirects (to sign-in as well), and the memory of the
once-only forms (resets and passes) this session already sent."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, Final
from urllib.parse import quote

from aiohttp import web

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.auth.sessions import Session
from mystaff_proxy.errors import ApiError
from mystaff_proxy.staff.check import Caller
from mystaff_proxy.staff.views import LocationView
from mystaff_proxy.web.authenticate import NoSession, SessionEnded, authenticate, csrf_field
from mystaff_proxy.web.cookies import clear_session_cookie, set_session_cookie
from mystaff_proxy.web.keys import SESSION
from mystaff_proxy.web.services import SERVICES, Services

# Resets and passes this session already sent (the forms' "once" values), newest last: a
# reload of the result page re-posts the form, which must not do it a second time (the
# password or pass just read out to the person would stop working).
RESETS_DONE: Final = "resets_done"
PASSES_DONE: Final = "passes_done"
ONCE_REMEMBERED: Final = 5
# Errors a manager can correct on the same form: shown there, not on an error page.
FORM_ERRORS: Final = frozenset({"invalid_phone_number", "phone_number_not_allowed",
                                "password_rejected", "conflict", "invalid_request"})

PageHandler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A session the handler changed (the remembered location): the cookie is written again.
RENEWED_SESSION: web.RequestKey[Session] = web.RequestKey("renewed_session", Session)


def redirect(location: str) -> web.Response:
    # 303: after a POST the browser must GET the next page (no resubmission on reload).
    return web.Response(status=303, headers={"Location": location})


def _sign_in(request: web.Request) -> web.Response:
    # A POST cannot be replayed after sign-in; send the manager back to the same page's form.
    target = request.path_qs if request.method == "GET" else request.path
    return redirect("/auth/login?next=" + quote(target, safe="/"))


def signed_out(request: web.Request) -> web.Response:
    """The session was ended because of the manager's account (standing.py): the cookie
    goes, and the next step is Entra's sign-in, which explains a disabled account itself."""
    response = _sign_in(request)
    clear_session_cookie(request, response)
    return response


def page(handler: PageHandler) -> RouteHandler:
    """A signed-in page: no session → sign-in; a POST without the right CSRF token → refused
    before the handler (and so the service) runs; the idle deadline moved when due."""
    return _page(handler, None)


def change_page(event: EventType) -> Callable[[PageHandler], RouteHandler]:
    """A form that changes something: a refused CSRF token is audited as that change
    refused (``event``, ``csrf_failed``), with the location and person the URL names."""
    return lambda handler: _page(handler, event)


def _page(handler: PageHandler, event: EventType | None) -> RouteHandler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            caller = await authenticate(
                request, csrf=csrf_field if request.method == "POST" else None, event=event)
        except NoSession:
            return _sign_in(request)
        except SessionEnded:
            return signed_out(request)
        session = request[SESSION]
        response = await handler(request, caller)
        renewed = request.get(RENEWED_SESSION)
        renewed = services(request).sessions.touched(renewed or session) or renewed
        if renewed is not None:
            set_session_cookie(request, response, renewed)
        return response

    return wrapped


def text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def render(request: web.Request, template: str, *, status: int = 200,
           **context: Any) -> web.Response:
    return services(request).pages.render(request, template, status=status, **context)


async def find_location(request: web.Request, caller: Caller, loc: str) -> LocationView:
    for view in await services(request).staff.locations(caller):
        if view.id == loc:
            return view
    raise ApiError("not_found")  # the service refused first; this is only a safety net


def profile_url(loc: str, uid: str) -> str:
    return f"/locations/{quote(loc, safe='')}/staff/{quote(uid, safe='')}"


def done_before(request: web.Request, key: str, once: str) -> bool:
    """Whether this session already sent the form whose one-time value is ``once``."""
    session: Session = request[SESSION]
    return bool(once) and once in session.extra.get(key, [])


def remember_done(request: web.Request, key: str, once: str) -> None:
    """Remember a form sent (in the session the response writes back)."""
    if not once:
        return
    session: Session = request.get(RENEWED_SESSION) or request[SESSION]
    done: list[str] = list(session.extra.get(key, []))
    request[RENEWED_SESSION] = replace(
        session, extra={**session.extra, key: [*done, once][-ONCE_REMEMBERED:]})
