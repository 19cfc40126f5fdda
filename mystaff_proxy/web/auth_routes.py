"""Sign-in, callback and sign-out (docs/api.md, sign-in). Thin: the work is in signin.py and
sessions.py."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from aiohttp import web

from mystaff_proxy.audit.log import AuditEvent, AuditUnavailable, EventType, Outcome, Principal
from mystaff_proxy.auth.redirects import absolute_redirect, safe_next
from mystaff_proxy.auth.sessions import Session
from mystaff_proxy.auth.signin import SignInError
from mystaff_proxy.errors import error_body
from mystaff_proxy.netaddr import address_block, client_address
from mystaff_proxy.web.authenticate import check_csrf, csrf_header_or_field
from mystaff_proxy.web.cookies import clear_session_cookie, session_from, set_session_cookie
from mystaff_proxy.web.keys import REQUEST_ID
from mystaff_proxy.web.services import SERVICES, Services

log = logging.getLogger("mystaff_proxy")
FLOW_COOKIE_MAX_AGE = 600
SIGNIN_RATE_LIMITED = ("Too many sign-ins from your network in the last minute; "
                       "wait a minute and try again.")


def _redirect(location: str) -> web.Response:
    # A plain 302 response (not HTTPFound) so that cookies can be set on it and returned.
    return web.Response(status=302, headers={"Location": location})


async def _record(request: web.Request, event: EventType, actor: Principal | None, *,
                  outcome: Outcome = Outcome.SUCCESS, reason: str | None = None) -> bool:
    """Audit a sign-in or sign-out; False (and an error logged) when the log is unwritable."""
    try:
        await request.app[SERVICES].audit.write(AuditEvent(
            request_id=request[REQUEST_ID], event=event, actor=actor, outcome=outcome,
            reason=reason))
    except AuditUnavailable:
        log.error("%s not audited: the audit log cannot be written", event.value)
        return False
    return True


def _flow_cookie(svc: Services) -> str:
    return "__Host-mystaff-signin" if svc.settings.cookie_secure else "mystaff-signin"


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _too_many_sign_ins(request: web.Request, wait: float) -> web.StreamResponse:
    """429 that speaks of sign-ins (not of changes: nothing was being changed), as a page,
    or as the API's error body for a script that asked for JSON."""
    svc = request.app[SERVICES]
    if _wants_json(request):
        return web.json_response(
            error_body("rate_limited", SIGNIN_RATE_LIMITED, request[REQUEST_ID]), status=429,
            headers={"Retry-After": str(max(1, int(wait + 0.999)))})
    return svc.pages.error(request, "sign_in_rate_limited", retry_after=wait)


async def login(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    address = address_block(client_address(request, svc.settings.server.trusted_proxies))
    limit = svc.settings.server.signin_attempts_per_minute
    if limit:
        wait = await svc.limiter.acquire(f"signin:{address}", limit, 60)
        if wait is not None:
            return _too_many_sign_ins(request, wait)
    browser = request.cookies.get(_flow_cookie(svc)) or ""
    if len(browser) != 43:
        browser = secrets.token_urlsafe(32)
    login_hint = request.query.get("login_hint") or None
    try:
        url = await svc.signin.start(browser=browser,
                                     next_path=safe_next(request.query.get("next")),
                                     address=address,
                                     login_hint=login_hint[:256] if login_hint else None,
                                     # Only "login" goes through: a re-authentication
                                     # (README); nothing else of Entra's prompt is for us.
                                     prompt_login=request.query.get("prompt") == "login")
    except SignInError as exc:
        return svc.pages.error(request, "upstream_unavailable", detail=exc.message)
    response = _redirect(url)
    response.set_cookie(_flow_cookie(svc), browser, max_age=FLOW_COOKIE_MAX_AGE, path="/",
                        httponly=True, secure=svc.settings.cookie_secure, samesite="Lax")
    return response


async def callback(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    browser = request.cookies.get(_flow_cookie(svc), "")
    try:
        user, next_path = await svc.signin.finish(browser=browser, params=request.query)
    except SignInError as exc:
        if exc.reason == "unknown_state":
            # Anyone can send a made-up state, as often as they like: counted, not audited,
            # or an outsider could fill the audit disk, which stops every change. A state we
            # issued and that was then used or expired looks the same (flows are single-use).
            svc.metrics.signin_unknown_state += 1
        else:
            await _record(request, EventType.SIGN_IN, None, reason=exc.reason,
                          outcome=Outcome.FAILED if exc.reason == "identity_unavailable"
                          else Outcome.DENIED)  # refused whether or not it can be recorded
        code = "upstream_unavailable" if exc.reason == "identity_unavailable" else "sign_in_failed"
        return svc.pages.error(request, code, detail=exc.message)
    # A new session, with a new id, at every sign-in: nothing from before survives. The
    # session this browser had until now is ended on the server too (ASVS 7.2.4), so a copy
    # of its cookie is worthless from here on.
    previous = await session_from(request)
    if previous is not None:
        await svc.sessions.end(previous)
    session = Session.new(oid=user.oid, upn=user.upn, name=user.name, tid=user.tid,
                          signed_in_at=user.issued_at,
                          authenticated_at=user.authenticated_at)
    if svc.delegation is not None:
        # Manager mode: what Entra just granted, kept on the server for this session only.
        try:
            await svc.delegation.remember(session.sid, user.tokens or {})
        except Exception as exc:  # no token granted, or the shared store is down
            log.warning("sign-in without a delegated token: %s", type(exc).__name__)
            return svc.pages.error(request, "sign_in_failed",
                                   detail="Microsoft Entra did not let My Staff act for you; "
                                   "ask IT to grant the app's delegated permission.")
    if not await _record(request, EventType.SIGN_IN, Principal(user.oid, user.upn)):
        # No session without its sign-in record (docs/audit.md): the manager is told, IT
        # alerted.
        return svc.pages.error(request, "upstream_unavailable",
                               detail="The audit log cannot be written, so nobody can sign "
                               "in right now. Contact IT.")
    # Entra has just vouched for the account, for this session and newer ones only.
    svc.standing.signed_in(user.oid, user.issued_at)
    response = _redirect(absolute_redirect(svc.settings.server.public_url, next_path))
    set_session_cookie(request, response, session)
    # The flow cookie is NOT deleted here: it binds every pending sign-in of this browser,
    # and another tab's may still be waiting (the security suite found the second tab
    # refused). Flows are single-use on the server; the cookie expires on its own.
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    session = await session_from(request)
    if session is not None:
        # A wrong token: refused (csrf_failed, audited), answered with the error page.
        await check_csrf(request, session, await csrf_header_or_field(request))
        try:
            await svc.sessions.end(session)
        except Exception:  # the shared store is down: the session cannot be ended everywhere
            response = svc.pages.error(request, "upstream_unavailable",
                                       detail="Sign-out could not be completed on the server; "
                                       "close the browser and try again.")
            clear_session_cookie(request, response)
            return response
        # Signing out only takes access away: it is not held back for want of its record.
        await _record(request, EventType.SIGN_OUT, Principal(session.oid, session.upn))
    response = _redirect(entra_sign_out_url(svc) if session is not None else "/")
    clear_session_cookie(request, response)
    return response


def entra_sign_out_url(svc: Services) -> str:
    """Entra's own sign-out, which comes back to the proxy's start page. Ending only the
    proxy's session would leave the manager signed in to Microsoft on a shared shop device,
    and the next "Sign in" would go straight through as them (SECURITY.md)."""
    query = urlencode({"post_logout_redirect_uri": svc.settings.server.public_url + "/",
                       "client_id": svc.settings.app.client_id})
    return f"{svc.settings.authority}/oauth2/v2.0/logout?{query}"
