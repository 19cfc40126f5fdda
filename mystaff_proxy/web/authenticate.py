"""Who is asking (docs/api.md, authentication; docs/authorization.md): ``authenticate`` (a
session cookie, or for the JSON API a bearer token) and ``check_csrf``, the one CSRF check of
every route that changes something (pages, the API, sign-out).

A known caller's refusals are audited here (``audit_refusal``); anonymous ones are not (see
``audit_refusal``). Every session is checked against the manager's account once more (the
account enabled, still there, its sessions not revoked in Entra: ``auth/standing.py``) before
anything is done for it.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from mystaff_proxy.audit.log import AuditEvent, AuditUnavailable, EventType, Outcome, Principal
from mystaff_proxy.auth.bearer import BearerError, KeysUnavailable
from mystaff_proxy.auth.sessions import Session
from mystaff_proxy.errors import ApiError, audit_unavailable, from_graph_error
from mystaff_proxy.graph.exceptions import GraphError
from mystaff_proxy.ids import is_guid
from mystaff_proxy.staff.check import Caller
from mystaff_proxy.web.cookies import session_from
from mystaff_proxy.web.keys import REQUEST_ID, SESSION
from mystaff_proxy.web.services import SERVICES

#: Where a route's CSRF token is read from: the value sent (anything but the session's own
#: token, a string, is refused).
CsrfSource = Callable[[web.Request], Awaitable[object]]


class NoSession(ApiError):
    """``unauthenticated``: no genuine, live session cookie (a page sends the browser to
    sign in; the API answers 401)."""

    def __init__(self) -> None:
        super().__init__("unauthenticated")


class SessionEnded(ApiError):
    """``unauthenticated``: the session was genuine, and was ended here because of the
    manager's account (a page also clears the cookie; the API answers 401)."""

    def __init__(self) -> None:
        super().__init__("unauthenticated")


async def authenticate(request: web.Request, *, bearer: bool = False,
                       csrf: CsrfSource | None = None,
                       event: EventType | None = None) -> Caller:
    """The caller, from a bearer token (only with ``bearer``, when the request has an
    ``Authorization`` header) or else the session cookie; ``request[SESSION]`` is set for a
    cookie.

    ``csrf``: the request changes something, and its token is read from there (only for a
    cookie: a script with a bearer token is no browser to forge from). ``event``: the change
    this route makes; a refused CSRF token is audited as that change refused
    (``csrf_failed``), so a forged reset reads as a refused ``password_reset``.

    Refusals: ``NoSession``, ``SessionEnded`` (both ``unauthenticated``), ``ApiError``
    (``unauthenticated`` for a bad token, ``csrf_failed``, ``upstream_unavailable``)."""
    svc = request.app[SERVICES]
    request_id: str = request[REQUEST_ID]
    auth = request.headers.get("Authorization", "") if bearer else ""
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError("unauthenticated")
        try:
            user = await svc.bearer.validate(token.strip())
        except KeysUnavailable as exc:
            raise ApiError.upstream("timeout" if exc.timeout else "unavailable",
                                    "Microsoft Entra ID cannot be reached to check the token; "
                                    "nothing was changed.") from None
        except BearerError:
            raise ApiError("unauthenticated") from None
        if not await in_good_standing(request, Principal(user.oid, user.upn), user.issued_at,
                                      None):
            raise ApiError("unauthenticated")
        return Caller(user.oid, user.upn, user.name, request_id, assertion=token.strip(),
                      authenticated_at=user.authenticated_at)
    session = await session_from(request)
    if session is None:
        raise NoSession()
    request[SESSION] = session
    if csrf is not None:
        await check_csrf(request, session, await csrf(request), event=event)
    if not await in_good_standing(request, Principal(session.oid, session.upn),
                                  session.issued_at, session):
        raise SessionEnded()
    return Caller(session.oid, session.upn, session.name, request_id, session_id=session.sid,
                  authenticated_at=session.authenticated_at)


# -- CSRF ------------------------------------------------------------------------------------

async def check_csrf(request: web.Request, session: Session, sent: object, *,
                     event: EventType | None = None) -> None:
    """Refuses (``csrf_failed``, audited) a token that is not the session's own.

    ``event``: the change the route makes, recorded as that change refused, with the location
    and the person the request named; without one, an access refused."""
    if isinstance(sent, str) and secrets.compare_digest(sent.encode(), session.csrf.encode()):
        return
    principal = Principal(session.oid, session.upn)
    if event is None:
        await audit_refusal(request, principal, "csrf_failed")
    else:
        await _audit_forged_change(request, principal, event)
    raise ApiError("csrf_failed")


async def posted_form(request: web.Request) -> Mapping[str, Any]:
    """The form, or nothing when it cannot be read (not UTF-8, an unknown charset, a broken
    multipart body: each was a 500): then no CSRF token can be read from it either."""
    try:
        return await request.post()  # aiohttp keeps it: handlers read it again for free
    except (ValueError, LookupError, AssertionError, RuntimeError):
        return {}


async def csrf_header(request: web.Request) -> object:
    """The JSON API's token: the ``X-CSRF-Token`` header."""
    return request.headers.get("X-CSRF-Token", "")


async def csrf_field(request: web.Request) -> object:
    """A page form's token: its ``csrf`` field."""
    return (await posted_form(request)).get("csrf")


async def csrf_header_or_field(request: web.Request) -> object:
    """Sign-out's token: the header (a script), else the form's field (the page)."""
    form = await posted_form(request)  # {} when unreadable: no token, refused
    return request.headers.get("X-CSRF-Token") or str(form.get("csrf", ""))


async def _audit_forged_change(request: web.Request, principal: Principal,
                               event: EventType) -> None:
    """A change refused for its CSRF token, on a genuine session: recorded as that change
    refused (``event``, ``denied``, ``csrf_failed``), with the location and the person
    the request named. Nothing was looked up: they are what the request asked for."""
    loc = request.match_info.get("loc")
    user_id = request.match_info.get("userId", "")
    target = Principal(user_id.lower(), "") if is_guid(user_id) else None
    await audit_refusal(request, principal, "csrf_failed", event=event, location=loc,
                        target=target)


# -- the manager's account, once more --------------------------------------------------------

async def in_good_standing(request: web.Request, principal: Principal, issued_at: float,
                           session: Session | None) -> bool:
    """Every request once more: the manager's account is enabled, still exists, and its
    sessions were not revoked in Entra after ``issued_at`` (docs/authorization.md). If not,
    the session ends here too and the refusal is audited. A Graph failure refuses the request
    (ApiError)."""
    svc = request.app[SERVICES]
    try:
        why = await svc.standing.refusal(principal.id, issued_at)
    except GraphError as exc:
        error = from_graph_error(exc)
        await _write(request, AuditEvent(
            request_id=request[REQUEST_ID], event=EventType.ACCESS_DENIED, actor=principal,
            outcome=Outcome.FAILED, reason=error.code, detail={"graphStatus": exc.status}))
        raise error from None
    if why is None:
        return True
    if session is not None:
        await svc.sessions.end(session)
    await audit_refusal(request, principal, "unauthenticated", why=why.value,
                        event=EventType.SIGN_OUT if session else None)
    return False


# -- audit -----------------------------------------------------------------------------------

async def audit_refusal(request: web.Request, principal: Principal, code: str, *,
                        why: str | None = None, event: EventType | None = None,
                        location: str | None = None, target: Principal | None = None) -> None:
    """Audit a request refused before it reached the use cases, for a KNOWN caller (a
    genuine session or a validly signed token). Anonymous refusals are only counted in
    /metrics: anyone can send them, and auditing them would let an outsider fill the
    audit disk — which blocks every change (SECURITY.md)."""
    await _write(request, AuditEvent(
        request_id=request[REQUEST_ID], event=event or EventType.ACCESS_DENIED, actor=principal,
        outcome=Outcome.DENIED, target=target, location=location, reason=code,
        detail={"why": why} if why else None))


async def _write(request: web.Request, record: AuditEvent) -> None:
    try:
        await request.app[SERVICES].audit.write(record)
    except AuditUnavailable:
        raise audit_unavailable() from None
