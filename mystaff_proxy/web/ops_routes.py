"""The operator's endpoints: ``/healthz`` (the process answers), ``/readyz`` (a policy in force
and a Graph token obtainable) and ``/metrics`` (the Prometheus exposition)."""

from __future__ import annotations

import asyncio
import secrets

from aiohttp import web

from mystaff_proxy.config import is_loopback_host
from mystaff_proxy.graph.exceptions import GraphError
from mystaff_proxy.metrics import METRICS_CONTENT_TYPE
from mystaff_proxy.web.services import SERVICES

#: Headers a reverse proxy adds when it relays a client: such a request is not local.
_FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")


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
