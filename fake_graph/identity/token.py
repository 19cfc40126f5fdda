"""``POST /{tenant}/oauth2/v2.0/token``: form-encoded, one handler per grant in ``grants/``."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from ..state import FakeGraph
from .grants import (
    authorization_code,
    client_credentials,
    on_behalf_of,
    password,
    refresh_token,
)
from .protocol import OAuthError, TenantRef, missing_parameter, origin, request_tenant
from .token_request import Grant, TokenRequest

log = logging.getLogger(__name__)


def _grants() -> dict[str, Grant]:
    return {
        "authorization_code": authorization_code.grant,
        "refresh_token": refresh_token.grant,
        "client_credentials": client_credentials.grant,
        "password": password.grant,
        on_behalf_of.GRANT_TYPE: on_behalf_of.grant,
    }


def _token_urls(request: web.Request, fake: FakeGraph, tenant: TenantRef) -> set[str]:
    """The URLs a client assertion may name as ``aud``: this endpoint however it was reached."""
    segments = {tenant.segment, fake.directory.tenant.id, fake.directory.tenant.domain}
    bases = {fake.base_url, origin(request)}
    return {f"{b}/{s}/oauth2/{v}token" for b in bases for s in segments for v in ("v2.0/", "")}


async def handle(request: web.Request) -> web.Response:
    try:
        fake, tenant = request_tenant(request)
        if request.content_type != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", 900144, "The request body must contain the "
                             "following parameter: 'grant_type'.")
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        grant_type = form.get("grant_type")
        if not grant_type:
            raise missing_parameter("grant_type")
        grant = _grants().get(grant_type)
        if grant is None:
            raise OAuthError("unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{grant_type}'.")
        body = await grant(TokenRequest(fake, tenant, form, request.headers,
                                        _token_urls(request, fake, tenant)))
    except OAuthError as err:
        return err.response()
    return web.Response(text=json.dumps(body), content_type="application/json",
                        headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})
