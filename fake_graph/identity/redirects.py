"""Redirect URI matching and the three ways an authorization response reaches the client.

Matching is exact (scheme, host, port, path, query; paths are case-sensitive), with Entra's
one documented exception (learn.microsoft.com ``reply-url`` "Localhost exceptions", RFC 8252
§7.3/§8.3): for ``http`` loopback redirect URIs (``localhost``, ``127.0.0.1``, ``[::1]``) the
port is ignored, so a registered ``http://127.0.0.1:8080/auth/callback`` also accepts
``http://127.0.0.1:49152/auth/callback``. Host names are never mixed (127.0.0.1 is not
localhost).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from ..directory import Application
from . import pages

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _loopback_without_port(uri: str) -> tuple[str, str, str, str] | None:
    parts = urlsplit(uri)
    if parts.scheme != "http" or (parts.hostname or "") not in LOOPBACK_HOSTS:
        return None
    return parts.scheme, parts.hostname or "", parts.path or "/", parts.query


def uri_matches(registered: str, uri: str) -> bool:
    """Exactly, or on another port for an http loopback URI."""
    if uri == registered:
        return True
    wanted = _loopback_without_port(uri)
    return wanted is not None and _loopback_without_port(registered) == wanted


def redirect_uri_registered(app: Application, uri: str) -> bool:
    return any(uri_matches(r, uri) for r in app.redirect_uris)


def _with_trailing_slash(uri: str) -> str:
    # Entra returns a redirect URI without a path with a trailing slash (reply-url docs).
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path="/")) if not parts.path else uri


def redirect_response(redirect_uri: str, response_mode: str, params: dict[str, str],
                      tenant_name: str = "") -> web.StreamResponse:
    """Deliver ``params`` (code/state or error) to the client the way it asked."""
    target = _with_trailing_slash(redirect_uri)
    if response_mode == "form_post":
        nonce = secrets.token_urlsafe(16)
        html = pages.render("form_post.html", action=target, fields=params, nonce=nonce,
                            tenant_name=tenant_name)
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(target))
        return pages.html_response(html, nonce=nonce, form_action=origin)
    encoded = urlencode(params)
    if response_mode == "fragment":
        location = f"{target.split('#')[0]}#{encoded}"
    else:
        parts = urlsplit(target)
        query = f"{parts.query}&{encoded}" if parts.query else encoded
        location = urlunsplit(parts._replace(query=query, fragment=""))
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
