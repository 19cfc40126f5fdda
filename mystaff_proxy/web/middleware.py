"""What every answer goes through: the request context (a request id, the request measured,
errors answered in the error model), the request's language, and the security headers with
the Content-Security-Policy.

Order matters (``web/app.py``): ``request_context`` is outermost so that every answer, errors
included, carries a request id, is measured, and gets the security headers; ``language`` is
inside it, so that its error answers are in the request's language.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from mystaff_proxy import i18n
from mystaff_proxy.auth.reauth import page_redirect
from mystaff_proxy.errors import ApiError
from mystaff_proxy.metrics import method_label
from mystaff_proxy.web.keys import REQUEST_ID
from mystaff_proxy.web.services import SERVICES

log = logging.getLogger("mystaff_proxy")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")  # implied by default-src, but ASVS 3.4.3 asks for it by name


def content_security_policy(authority_host: str) -> str:
    """CSP, with the sign-in host allowed as a form target: browsers check ``form-action``
    on the redirects after a form post too, and the sign-out form ends at Entra's sign-out
    (the browser suite found Chromium blocking it with ``'self'`` alone)."""
    parts = urlsplit(authority_host)
    return CSP.replace("form-action 'self'",
                       f"form-action 'self' {parts.scheme}://{parts.netloc}")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[REQUEST_ID] = uuid.uuid4().hex
    svc = request.app[SERVICES]
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except ApiError as exc:
        status = exc.status
        return _error_answer(request, exc)
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception as exc:
        # A bug. Answered in the error model with the request id (never aiohttp's bare
        # "500 Internal Server Error"), and logged once here (aiohttp would log it again).
        _log_unexpected(request, exc)
        return _error_answer(request, ApiError("internal_error"))
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        svc.metrics.observe_request(route, request.method, status,
                                    time.perf_counter() - started)


def _error_answer(request: web.Request, exc: ApiError) -> web.Response:
    """The JSON API's error body under /api/, the error page anywhere else."""
    if request.path.startswith("/api/"):
        return web.json_response(exc.body(request[REQUEST_ID]), status=exc.status,
                                 headers=exc.headers())
    if exc.code == "reauthentication_required":
        # Sign in again, with Entra's form (prompt=login: reauth.py), then back to the same
        # form (a GET of the path that was posted).
        return web.Response(status=303, headers={"Location": page_redirect(request.path)})
    return request.app[SERVICES].pages.error(request, exc.code, detail=exc.message,
                                             retry_after=exc.retry_after)


def _log_unexpected(request: web.Request, exc: Exception) -> None:
    """One log record: request id, route, exception type and where it was raised. Not the
    exception's message nor the request's path or headers: those can carry what a client
    sent (a typed password, a token), and logs are read by more people than the audit log."""
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    frames = traceback.extract_tb(exc.__traceback__)[-12:]
    where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))
    log.error("unexpected %s answering %s %s (request %s), raised at %s",
              type(exc).__name__, method_label(request.method), route, request[REQUEST_ID],
              where)


@web.middleware
async def language(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sets the request's language (``i18n.choose``); ``GET …?lang=es`` remembers a choice in
    the cookie and comes back to the same page without it."""
    picked = request.query.get(i18n.COOKIE)
    if request.method == "GET" and picked in i18n.LANGUAGES and \
            not request.path.startswith("/api/"):
        rest = [(k, v) for k, v in request.query.items() if k != i18n.COOKIE]
        target = request.path + ("?" + urlencode(rest) if rest else "")
        response = web.Response(status=303, headers={"Location": target})
        # Secure like the session cookie (when the proxy is served over https).
        response.set_cookie(i18n.COOKIE, picked, max_age=i18n.COOKIE_MAX_AGE, path="/",
                            samesite="Lax",
                            secure=request.app[SERVICES].settings.cookie_secure)
        return response
    chosen = i18n.choose(request)
    request[i18n.LANGUAGE] = chosen
    i18n.set_current(chosen)
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: on every answer, errors, redirects and static files included."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", request.app[SERVICES].csp)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if "X-Request-Id" not in headers and REQUEST_ID in request:
        headers["X-Request-Id"] = request[REQUEST_ID]
    if not request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")
    svc = request.app[SERVICES]
    if svc.settings.server.public_url.startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
