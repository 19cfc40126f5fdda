"""``init_app(settings)``: the aiohttp application — its middleware (``web/middleware.py``),
its services' lifecycle (built by ``web/wiring.py``), and its routes.

Middleware order matters: ``request_context`` is outermost so that every answer, errors
included, carries a request id, is measured, and gets the security headers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from mystaff_proxy.config import Settings
from mystaff_proxy.graph.connect import ssl_context
from mystaff_proxy.graph.exceptions import GraphError
from mystaff_proxy.staff.manager_mode import warn_app_write_power
from mystaff_proxy.web.api_routes import setup_api_routes
from mystaff_proxy.web.auth_routes import callback, login, logout
from mystaff_proxy.web.middleware import language, request_context, security_headers
from mystaff_proxy.web.ops_routes import healthz, metrics, readyz
from mystaff_proxy.web.pages import setup_page_routes
from mystaff_proxy.web.services import SERVICES
from mystaff_proxy.web.wiring import build_services

log = logging.getLogger("mystaff_proxy")

MAX_BODY = 16 * 1024


def init_app(settings: Settings, *, watch_policy: bool = True) -> web.Application:
    # language inside request_context: its error answers are in the request's language.
    app = web.Application(middlewares=[request_context, language], client_max_size=MAX_BODY)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(ssl=ssl_context(settings.tenant.ca_file), limit=100)
        http = aiohttp.ClientSession(connector=connector)
        svc = build_services(settings, http)
        app[SERVICES] = svc
        svc.audit.check()
        await svc.policy.reload(force=True)
        if svc.policy.policy is None and svc.policy.last_error and \
                "cannot resolve" not in svc.policy.last_error:
            await http.close()
            raise RuntimeError(f"policy refused: {svc.policy.last_error}")
        if watch_policy:
            svc.policy.start()
        # The owner set (protected.owners) before the first change can need it; refreshed
        # off the request path from here on. A failure is logged; changes wait for it.
        try:
            await asyncio.wait_for(svc.staff.owners.refresh(), timeout=30)
        except TimeoutError:
            log.warning("owners of applications and groups not loaded at start-up")
        svc.staff.owners.start()
        # Warm what the first request would otherwise pay for: the app token and MSAL's
        # discovery document (failures here are not fatal: /readyz reports them).
        try:
            await svc.app_token()
        except GraphError as exc:
            log.warning("no Graph token at start-up: %s", exc.code)
        # Manager mode: say so when the app itself can still change what a manager may not
        # (docs/manager-mode.md). Logged, never fatal; nothing is asked in app mode.
        try:
            await asyncio.wait_for(warn_app_write_power(settings, svc.ops, svc.app_token), 10)
        except TimeoutError:
            log.warning("manager mode: the app's own permissions and roles not read at start-up")
        try:
            await svc.signin.warm_up()
        except Exception as exc:  # sign-in reports its own errors at /auth/login
            log.warning("sign-in not ready at start-up: %s", type(exc).__name__)
        # Also the unnamed locations' display names (the first /me took one more Graph round
        # trip) and the compiled page templates (Jinja compiles on first use: ~60 ms on the
        # first profile page). Measured by bench/startup.py; cosmetic, so never fatal.
        try:
            await asyncio.wait_for(svc.staff.warm_unit_names(), timeout=10)
        except (GraphError, TimeoutError) as exc:
            log.warning("location names not loaded at start-up: %s", type(exc).__name__)
        for template in svc.pages.env.list_templates(extensions=["html"]):
            svc.pages.env.get_template(template)
        yield
        if svc.staff.notifier is not None:
            await svc.staff.notifier.close()
        await svc.staff.owners.stop()
        await svc.policy.stop()
        await svc.app_token.close()
        for close in svc.closers:
            await close()
        await http.close()

    app.cleanup_ctx.append(lifecycle)
    app.on_response_prepare.append(security_headers)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/auth/login", login)
    app.router.add_get("/auth/callback", callback)
    app.router.add_post("/auth/logout", logout)
    setup_api_routes(app)
    setup_page_routes(app)
    return app
