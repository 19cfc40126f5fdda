"""``init_app(settings)``: the aiohttp application, its services and its middleware.

Middleware order matters: ``request_context`` is outermost so that every answer, errors
included, carries a request id, is measured, and gets the security headers.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from mystaff_proxy.audit.log import AuditLog
from mystaff_proxy.audit.phone_hash import PhoneHasher
from mystaff_proxy.auth.bearer import BearerValidator, JwksCache, V1Metadata
from mystaff_proxy.auth.delegation import GRAPH_CHANGE_SCOPES, Delegation
from mystaff_proxy.auth.reauth import page_redirect
from mystaff_proxy.auth.sessions import SessionManager
from mystaff_proxy.auth.signin import SignIn
from mystaff_proxy.auth.standing import ManagerStanding
from mystaff_proxy.config import Settings, is_loopback_host
from mystaff_proxy.errors import ApiError
from mystaff_proxy.graph.client import GraphClient
from mystaff_proxy.graph.credentials import AppToken, AsyncCredential, build_credential
from mystaff_proxy.graph.exceptions import GraphError
from mystaff_proxy.graph.operations import GraphOperations
from mystaff_proxy.i18n import language
from mystaff_proxy.metrics import METRICS_CONTENT_TYPE, Metrics, method_label
from mystaff_proxy.policy.owners import OwnerSet
from mystaff_proxy.policy.runtime import PolicyRuntime
from mystaff_proxy.sealing import Sealer
from mystaff_proxy.staff.manager_mode import warn_app_write_power
from mystaff_proxy.staff.notify import Notifier
from mystaff_proxy.staff.service import StaffService
from mystaff_proxy.stores.factory import open_stores
from mystaff_proxy.web.api_routes import setup_api_routes
from mystaff_proxy.web.auth_routes import callback, login, logout
from mystaff_proxy.web.keys import REQUEST_ID
from mystaff_proxy.web.render import Pages
from mystaff_proxy.web.services import SERVICES, Services

log = logging.getLogger("mystaff_proxy")

MAX_BODY = 16 * 1024
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


def _ssl_context(ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(ca_file)
    return context


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


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
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


async def healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    reasons = []
    if svc.policy.current is None:
        reasons.append(f"no policy in force: {svc.policy.last_error or 'not loaded yet'}")
    try:
        await asyncio.wait_for(svc.app_token(), timeout=5)
    except (GraphError, TimeoutError):
        reasons.append("cannot obtain a Graph token")
    if reasons:
        return web.json_response({"status": "not ready", "reasons": reasons}, status=503)
    return web.json_response({"status": "ready"})


#: Headers a reverse proxy adds when it relays a client: such a request is not local.
_FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")


async def metrics(request: web.Request) -> web.StreamResponse:
    """The Prometheus exposition, for whoever may read how many resets and refusals there
    were: with ``[server] metrics_token``, a caller presenting it; without one, a caller on
    this machine (loopback peer) that no reverse proxy relayed. A reverse proxy on the same
    host makes every outside client a loopback peer: hence the forwarding headers, which such
    a proxy adds and a scraper does not (README "Metrics" says to set the token there)."""
    svc = request.app[SERVICES]
    token = svc.settings.server.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or \
                not secrets.compare_digest(given.strip().encode(), token.encode()):
            return web.Response(status=401, text="/metrics needs the metrics token "
                                "([server] metrics_token) as a bearer token.\n",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    elif not is_loopback_host(request.remote or "") or \
            any(h in request.headers for h in _FORWARDING_HEADERS):
        return web.Response(status=403, text="/metrics is served to this machine only; set "
                            "[server] metrics_token to scrape it from elsewhere.\n")
    return web.Response(body=svc.metrics.render(),
                        headers={"Content-Type": METRICS_CONTENT_TYPE})


def build_services(settings: Settings, http: aiohttp.ClientSession) -> Services:
    metrics = Metrics()
    def credential() -> AsyncCredential:
        return build_credential(
            tenant_id=settings.tenant.id, client_id=settings.app.client_id,
            authority_host=settings.tenant.authority_host,
            client_secret=settings.app.client_secret,
            certificate_path=settings.app.certificate_path,
            managed_identity=settings.app.managed_identity, ca_file=settings.tenant.ca_file)

    app_token = AppToken(credential(), renew=credential)
    client = GraphClient(settings.tenant.graph_url, http, app_token,
                         timeout=settings.graph.timeout_seconds,
                         max_retries=settings.graph.max_retries,
                         retry_budget=settings.graph.retry_budget_seconds,
                         observer=metrics.observe_graph)
    ops = GraphOperations(client)
    policy = PolicyRuntime(settings.policy.path, ops, metrics,
                           remembered_ids_path=settings.remembered_ids_path)
    audit = AuditLog(settings.audit.path)
    secret = settings.session.secret_bytes
    stores = open_stores(settings)
    limiter, revocations, flows = stores.limiter, stores.revocations, stores.flows
    delegated, closers = stores.delegated, stores.closers
    sessions = SessionManager(secret, max_age=settings.session.max_age_minutes * 60,
                              idle=settings.session.idle_minutes * 60,
                              revocations=revocations)
    credential_for_signin: str | dict[str, str] | None = settings.app.client_secret or None
    if settings.app.certificate_path:
        credential_for_signin = _certificate_credential(settings.app.certificate_path)
    signin = SignIn(client_id=settings.app.client_id, authority=settings.authority,
                    tenant_id=settings.tenant.id, redirect_uri=settings.redirect_uri,
                    client_credential=credential_for_signin, ca_file=settings.tenant.ca_file,
                    flows=flows,
                    scopes=GRAPH_CHANGE_SCOPES if settings.graph.identity == "manager" else ())
    delegation: Delegation | None = None
    if settings.graph.identity == "manager":
        # Changes go to Graph as the manager: their tokens, sealed, ending with the session.
        delegation = Delegation(app=signin.app, store=delegated,
                                sealer=Sealer(secret, b"delegated-v1"),
                                session_seconds=sessions.max_age)
        sessions.on_end.append(delegation.forget)
    jwks = JwksCache(f"{settings.authority}/discovery/v2.0/keys", http,
                     timeout=settings.graph.timeout_seconds)
    bearer = BearerValidator(jwks=jwks, tenant_id=settings.tenant.id,
                             issuer=f"{settings.authority}/v2.0",
                             client_id=settings.app.client_id, scope=settings.app.api_scope,
                             v1=V1Metadata(f"{settings.authority}/.well-known/"
                                           "openid-configuration", http,
                                           timeout=settings.graph.timeout_seconds),
                             allowed_client_ids=settings.app.allowed_client_ids)
    staff = StaffService(ops=ops, policy=policy, audit=audit, limiter=limiter,
                         cursor_sealer=Sealer(secret, b"cursor-v1"),
                         default_region=settings.phones.default_region,
                         owners=OwnerSet(ops,
                                         refresh_seconds=settings.graph.owners_refresh_seconds),
                         phone_hasher=PhoneHasher.from_settings(settings),
                         delegation=delegation,
                         operation_wait=settings.graph.timeout_seconds,
                         # Mails to staff go out as the app (Mail.Send), in either mode.
                         notifier=Notifier(client, audit, sender=settings.notify.sender,
                                           contact=settings.notify.contact)
                         if settings.notify.sender else None)
    return Services(settings=settings, http=http, app_token=app_token, ops=ops, policy=policy,
                    audit=audit, metrics=metrics, limiter=limiter, sessions=sessions,
                    signin=signin, bearer=bearer, staff=staff, pages=Pages(),
                    standing=ManagerStanding(
                        ops, max_age=settings.session.account_recheck_seconds),
                    csp=content_security_policy(settings.tenant.authority_host), closers=closers,
                    delegation=delegation)


def _certificate_credential(path: str) -> dict[str, str]:
    """MSAL's certificate credential from a PEM holding the private key and certificate."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pem = open(path, "rb").read()  # noqa: SIM115 - read once at start-up
    cert = x509.load_pem_x509_certificate(pem)
    key = serialization.load_pem_private_key(pem, password=None)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()  # noqa: S324 - x5t is SHA-1 by definition
    return {"private_key": key_pem, "thumbprint": thumbprint,
            "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode()}


def init_app(settings: Settings, *, watch_policy: bool = True) -> web.Application:
    # language inside request_context: its error answers are in the request's language.
    app = web.Application(middlewares=[request_context, language], client_max_size=MAX_BODY)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(ssl=_ssl_context(settings.tenant.ca_file), limit=100)
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
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/auth/login", login)
    app.router.add_get("/auth/callback", callback)
    app.router.add_post("/auth/logout", logout)
    setup_api_routes(app)
    from mystaff_proxy.web.page_routes import setup_page_routes

    setup_page_routes(app)
    return app
