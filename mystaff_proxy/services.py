"""Everything a request handler needs, built once per application and reached via SERVICES."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .audit import AuditLog, Principal
from .config import Settings
from .graph.credentials import AppToken
from .graph.operations import GraphOperations
from .metrics import Metrics
from .netaddr import client_address
from .policy_runtime import PolicyRuntime
from .ratelimit import RateLimiter
from .sessions import Session, SessionManager
from .signin import SignIn
from .staff import StaffService

if TYPE_CHECKING:
    from .bearer import BearerValidator
    from .pages import Pages


def audit_actor(oid: str, upn: str) -> Principal:
    return Principal(oid, upn)


@dataclass
class Services:
    settings: Settings
    http: aiohttp.ClientSession
    app_token: AppToken
    ops: GraphOperations
    policy: PolicyRuntime
    audit: AuditLog
    metrics: Metrics
    limiter: RateLimiter
    sessions: SessionManager
    signin: SignIn
    bearer: BearerValidator
    staff: StaffService
    pages: Pages
    # Called at shutdown (e.g. the shared store's connection pool).
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    @property
    def cookie_secure(self) -> bool:
        return self.settings.cookie_secure

    @property
    def cookie_name(self) -> str:
        # The __Host- prefix makes browsers insist on Secure, Path=/ and no Domain.
        return "__Host-mystaff" if self.cookie_secure else "mystaff"

    def client_address(self, request: web.Request) -> str:
        return client_address(request, self.settings.server.trusted_proxies)

    async def session_from(self, request: web.Request) -> Session | None:
        return await self.sessions.decode(request.cookies.get(self.cookie_name))

    def set_session_cookie(self, response: web.StreamResponse, session: Session) -> None:
        response.set_cookie(self.cookie_name, self.sessions.encode(session), path="/",
                            max_age=int(self.sessions.max_age), httponly=True,
                            secure=self.cookie_secure, samesite="Lax")

    def clear_session_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(self.cookie_name, path="/", secure=self.cookie_secure,
                            httponly=True, samesite="Lax")


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
