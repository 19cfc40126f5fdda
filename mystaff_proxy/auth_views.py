"""Sign-in, callback and sign-out (SPEC §7.1). Thin: the work is in signin.py and sessions.py."""

from __future__ import annotations

import secrets

from aiohttp import web

from .audit import AuditEvent, EventType, Outcome
from .redirects import absolute_redirect, safe_next
from .request_keys import REQUEST_ID
from .services import SERVICES, Services, audit_actor
from .sessions import Session
from .signin import SignInError

FLOW_COOKIE_MAX_AGE = 600
SIGNIN_ATTEMPTS_PER_MINUTE = 30


def _redirect(location: str) -> web.Response:
    # A plain 302 response (not HTTPFound) so that cookies can be set on it and returned.
    return web.Response(status=302, headers={"Location": location})


def _flow_cookie(svc: Services) -> str:
    return "__Host-mystaff-signin" if svc.cookie_secure else "mystaff-signin"


async def login(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    wait = await svc.limiter.acquire(f"signin:{svc.client_address(request)}",
                                     SIGNIN_ATTEMPTS_PER_MINUTE, 60)
    if wait is not None:
        return svc.pages.error(request, "rate_limited", retry_after=wait)
    browser = request.cookies.get(_flow_cookie(svc)) or ""
    if len(browser) != 43:
        browser = secrets.token_urlsafe(32)
    login_hint = request.query.get("login_hint") or None
    try:
        url = await svc.signin.start(browser=browser,
                                     next_path=safe_next(request.query.get("next")),
                                     login_hint=login_hint[:256] if login_hint else None)
    except SignInError as exc:
        return svc.pages.error(request, "upstream_unavailable", detail=exc.message)
    response = _redirect(url)
    response.set_cookie(_flow_cookie(svc), browser, max_age=FLOW_COOKIE_MAX_AGE, path="/",
                        httponly=True, secure=svc.cookie_secure, samesite="Lax")
    return response


async def callback(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    browser = request.cookies.get(_flow_cookie(svc), "")
    try:
        user, next_path = await svc.signin.finish(browser=browser, params=request.query)
    except SignInError as exc:
        await svc.audit.write(AuditEvent(
            request_id=request[REQUEST_ID], event=EventType.SIGN_IN, actor=None,
            outcome=Outcome.FAILED if exc.reason == "identity_unavailable" else Outcome.DENIED,
            reason=exc.reason))
        code = "upstream_unavailable" if exc.reason == "identity_unavailable" else "sign_in_failed"
        return svc.pages.error(request, code, detail=exc.message)
    # A new session, with a new id, at every sign-in: nothing from before survives. The
    # session this browser had until now is ended on the server too (ASVS 7.2.4), so a copy
    # of its cookie is worthless from here on.
    previous = await svc.session_from(request)
    if previous is not None:
        await svc.sessions.end(previous)
    session = Session.new(oid=user.oid, upn=user.upn, name=user.name, tid=user.tid)
    await svc.audit.write(AuditEvent(
        request_id=request[REQUEST_ID], event=EventType.SIGN_IN,
        actor=audit_actor(user.oid, user.upn), outcome=Outcome.SUCCESS))
    response = _redirect(absolute_redirect(svc.settings.server.public_url, next_path))
    svc.set_session_cookie(response, session)
    # The flow cookie is NOT deleted here: it binds every pending sign-in of this browser,
    # and another tab's may still be waiting (the security suite found the second tab
    # refused). Flows are single-use on the server; the cookie expires on its own.
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    session = await svc.session_from(request)
    if session is not None:
        form = await request.post()
        token = request.headers.get("X-CSRF-Token") or str(form.get("csrf", ""))
        if not secrets.compare_digest(token.encode(), session.csrf.encode()):
            return svc.pages.error(request, "csrf_failed")
        try:
            await svc.sessions.end(session)
        except Exception:  # the shared store is down: the session cannot be ended everywhere
            response = svc.pages.error(request, "upstream_unavailable",
                                       detail="Sign-out could not be completed on the server; "
                                       "close the browser and try again.")
            svc.clear_session_cookie(response)
            return response
        await svc.audit.write(AuditEvent(
            request_id=request[REQUEST_ID], event=EventType.SIGN_OUT,
            actor=audit_actor(session.oid, session.upn), outcome=Outcome.SUCCESS))
    response = _redirect("/")
    svc.clear_session_cookie(response)
    return response
