"""Everything a request handler needs, built once per application (``web/wiring.py``) and
reached via SERVICES. A plain container: who is asking is ``web/authenticate.py``'s, the
session cookie ``web/cookies.py``'s."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from mystaff_proxy.audit.log import AuditLog
from mystaff_proxy.auth.sessions import SessionManager
from mystaff_proxy.auth.signin import SignIn
from mystaff_proxy.auth.standing import ManagerStanding
from mystaff_proxy.config import Settings
from mystaff_proxy.graph.credentials import AppToken
from mystaff_proxy.graph.operations import GraphOperations
from mystaff_proxy.metrics import Metrics
from mystaff_proxy.policy.runtime import PolicyRuntime
from mystaff_proxy.staff.service import StaffService
from mystaff_proxy.stores.ratelimit import RateLimiter

if TYPE_CHECKING:
    from mystaff_proxy.auth.bearer import BearerValidator
    from mystaff_proxy.auth.delegation import Delegation
    from mystaff_proxy.web.render import Pages


@dataclass
class Services:
    settings: Settings
    http: aiohttp.ClientSession
    app_token: AppToken
    ops: GraphOperations
    #: The policy runtime: ``.current`` is the policy in force (resolved against the tenant),
    #: ``.policy`` the parsed file behind it, ``.last_error`` why the last reload was refused.
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
    csp: str = "default-src 'none'"  # the Content-Security-Policy header (middleware.py)
    #: Manager mode: the signed-in managers' delegated Graph tokens (None: app mode).
    delegation: Delegation | None = None


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
