"""Everything a request handler needs, built once per application and reached via SERVICES."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from mystaff_proxy.audit.log import (
    AuditEvent,
    AuditLog,
    AuditUnavailable,
    EventType,
    Outcome,
    Principal,
)
from mystaff_proxy.auth.sessions import Session, SessionManager
from mystaff_proxy.auth.signin import SignIn
from mystaff_proxy.auth.standing import ManagerStanding
from mystaff_proxy.config import Settings
from mystaff_proxy.errors import audit_unavailable, from_graph_error
from mystaff_proxy.graph.credentials import AppToken
from mystaff_proxy.graph.exceptions import GraphError
from mystaff_proxy.graph.operations import GraphOperations, is_guid
from mystaff_proxy.metrics import Metrics
from mystaff_proxy.netaddr import client_address
from mystaff_proxy.policy.runtime import PolicyRuntime
from mystaff_proxy.staff.service import StaffService
from mystaff_proxy.stores.ratelimit import RateLimiter
from mystaff_proxy.web.keys import REQUEST_ID

if TYPE_CHECKING:
    from mystaff_proxy.auth.bearer import BearerValidator
    from mystaff_proxy.auth.delegation import Delegation
    from mystaff_proxy.web.render import Pages


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
    standing: ManagerStanding
    # Called at shutdown (e.g. the shared store's connection pool).
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    csp: str = "default-src 'none'"  # the Content-Security-Policy header (app.py builds it)
    #: Manager mode: the signed-in managers' delegated Graph tokens (None: app mode).
    delegation: Delegation | None = None

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

    async def still_in_good_standing(self, request_id: str, principal: Principal,
                                     issued_at: float, session: Session | None) -> bool:
        """SPEC §8.1 once more: the manager's account is enabled, still exists, and its
        sessions were not revoked in Entra after ``issued_at``. If not, the session ends here
        too and the refusal is audited. A Graph failure refuses the request (ApiError)."""
        try:
            why = await self.standing.refusal(principal.id, issued_at)
        except GraphError as exc:
            error = from_graph_error(exc)
            await self._write(AuditEvent(
                request_id=request_id, event=EventType.ACCESS_DENIED, actor=principal,
                outcome=Outcome.FAILED, reason=error.code, detail={"graphStatus": exc.status}))
            raise error from None
        if why is None:
            return True
        if session is not None:
            await self.sessions.end(session)
        await self.audit_refusal(request_id, principal, "unauthenticated", why=why.value,
                                 event=EventType.SIGN_OUT if session else None)
        return False

    async def session_in_good_standing(self, request_id: str, session: Session) -> bool:
        return await self.still_in_good_standing(
            request_id, Principal(session.oid, session.upn), session.issued_at, session)

    async def audit_refusal(self, request_id: str, principal: Principal, code: str, *,
                            why: str | None = None, event: EventType | None = None,
                            location: str | None = None,
                            target: Principal | None = None) -> None:
        """Audit a request refused before it reached the use cases, for a KNOWN caller (a
        genuine session or a validly signed token). Anonymous refusals are only counted in
        /metrics: anyone can send them, and auditing them would let an outsider fill the
        audit disk — which blocks every change (SECURITY.md)."""
        await self._write(AuditEvent(
            request_id=request_id, event=event or EventType.ACCESS_DENIED, actor=principal,
            outcome=Outcome.DENIED, target=target, location=location, reason=code,
            detail={"why": why} if why else None))

    async def _write(self, record: AuditEvent) -> None:
        try:
            await self.audit.write(record)
        except AuditUnavailable:
            raise audit_unavailable() from None

    async def audit_forged_change(self, request: web.Request, principal: Principal,
                                  event: EventType) -> None:
        """A change refused for its CSRF token, on a genuine session: recorded as that change
        refused (``event``, ``denied``, ``csrf_failed``), with the location and the person
        the request named. Nothing was looked up: they are what the request asked for."""
        loc = request.match_info.get("loc")
        user_id = request.match_info.get("userId", "")
        target = Principal(user_id.lower(), "") if is_guid(user_id) else None
        await self.audit_refusal(request[REQUEST_ID], principal, "csrf_failed", event=event,
                                 location=loc, target=target)

    def clear_session_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(self.cookie_name, path="/", secure=self.cookie_secure,
                            httponly=True, samesite="Lax")


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
