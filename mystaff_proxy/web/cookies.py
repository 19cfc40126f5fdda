"""The session cookie: its name, reading it, writing it and clearing it.

``Secure`` except for plain http on loopback (``Settings.cookie_secure``: a browser would drop
a Secure cookie there); ``HttpOnly``; ``SameSite=Lax``; ``Path=/``.
"""

from __future__ import annotations

from aiohttp import web

from mystaff_proxy.auth.sessions import Session
from mystaff_proxy.config import Settings
from mystaff_proxy.web.services import SERVICES


def session_cookie_name(settings: Settings) -> str:
    # The __Host- prefix makes browsers insist on Secure, Path=/ and no Domain.
    return "__Host-mystaff" if settings.cookie_secure else "mystaff"


async def session_from(request: web.Request) -> Session | None:
    """The request's session, when its cookie holds a genuine, live one."""
    svc = request.app[SERVICES]
    return await svc.sessions.decode(request.cookies.get(session_cookie_name(svc.settings)))


def set_session_cookie(request: web.Request, response: web.StreamResponse,
                       session: Session) -> None:
    svc = request.app[SERVICES]
    response.set_cookie(session_cookie_name(svc.settings), svc.sessions.encode(session),
                        path="/", max_age=int(svc.sessions.max_age), httponly=True,
                        secure=svc.settings.cookie_secure, samesite="Lax")


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    svc = request.app[SERVICES]
    response.del_cookie(session_cookie_name(svc.settings), path="/",
                        secure=svc.settings.cookie_secure, httponly=True, samesite="Lax")
