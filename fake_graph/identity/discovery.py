"""Discovery: OpenID configuration (v2.0 and v1.0), JWKS, instance and user-realm discovery.

Shapes follow Entra's responses (the OpenID configuration:
https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc; instance discovery: the
fields MSAL Python's ``msal/authority.py`` reads) with the fake's own https URLs, so MSAL and
azure-identity follow them to the fake. A tenant named by its domain is
answered with its GUID endpoints, as Entra does; ``common`` and ``organizations`` get the
literal ``{tenantid}`` issuer template.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..state import FAKE
from .protocol import OAuthError, endpoint_urls, request_tenant

_JSON_HEADERS = {"Cache-Control": "max-age=86400, private", "Access-Control-Allow-Origin": "*"}


def _json(body: dict[str, Any]) -> web.Response:
    return web.Response(text=json.dumps(body), content_type="application/json",
                        headers=_JSON_HEADERS)


async def openid_configuration(request: web.Request) -> web.Response:
    try:
        fake, tenant = request_tenant(request)
    except OAuthError as err:
        return err.response()
    segment = tenant.segment if tenant.multi_tenant else tenant.tenant_id
    issuer_tenant = "{tenantid}" if tenant.multi_tenant else tenant.tenant_id
    body: dict[str, Any] = {
        **endpoint_urls(fake, segment),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                  "client_secret_basic"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{fake.base_url}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                             "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                             "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
                             "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    return _json(body)


async def openid_configuration_v1(request: web.Request) -> web.Response:
    """``/{tenant}/.well-known/openid-configuration``: the v1.0 metadata, which names the
    issuer of v1.0 tokens (``https://sts.windows.net/{tid}/``) and their keys. A resource
    server validating v1.0 access tokens reads it. The fake has no v1.0 authorize or token
    endpoint (its v1.0 tokens come from the v2.0 token endpoint, as Entra's do for an API
    that accepts v1.0), so those are not listed."""
    try:
        fake, tenant = request_tenant(request)
    except OAuthError as err:
        return err.response()
    segment = tenant.segment if tenant.multi_tenant else tenant.tenant_id
    issuer_tenant = "{tenantid}" if tenant.multi_tenant else tenant.tenant_id
    return _json({
        "issuer": f"https://sts.windows.net/{issuer_tenant}/",
        "jwks_uri": f"{fake.base_url}/{segment}/discovery/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                  "client_secret_basic"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
        "microsoft_multi_refresh_token": True,
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    })


async def keys(request: web.Request) -> web.Response:
    try:
        fake, _ = request_tenant(request)
    except OAuthError as err:
        return err.response()
    return _json(fake.tokens.jwks())


async def instance_discovery(request: web.Request) -> web.Response:
    """Only reached with MSAL's ``instance_discovery="<url>"`` (else login.microsoftonline.com)."""
    fake = request.app[FAKE]
    endpoint = request.query.get("authorization_endpoint", "")
    # MSAL sends https://{host}/{tenant}/oauth2/v2.0/authorize (port dropped): take the tenant.
    parts = [p for p in urlsplit(endpoint).path.split("/") if p]
    segment = parts[0] if parts else "common"
    host = urlsplit(fake.base_url).hostname or "127.0.0.1"
    body = {
        "tenant_discovery_endpoint":
            f"{fake.base_url}/{segment}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }
    return _json(body)


async def user_realm(request: web.Request) -> web.Response:
    """MSAL asks this before ROPC. Every user of the fake is cloud-only ("Managed")."""
    fake = request.app[FAKE]
    user = request.match_info["user"]
    domain = user.rpartition("@")[2].lower()
    body: dict[str, Any] = {"ver": "1.0", "cloud_instance_name": "microsoftonline.com",
                            "cloud_audience_urn": "urn:federation:MicrosoftOnline"}
    if domain == fake.directory.tenant.domain.lower():
        body |= {"account_type": "Managed", "domain_name": fake.directory.tenant.domain}
    else:
        body |= {"account_type": "Unknown"}
    return _json(body)
