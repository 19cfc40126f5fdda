"""``/{tenant}/oauth2/v2.0/logout``: end the session, then go back to the client or show a page.

``post_logout_redirect_uri`` is followed only if it is one of the tenant's registered redirect
URIs (loopback ones on any port, as at sign-in), or the origin of one (``http://127.0.0.1:8080/``
for ``.../auth/callback``); anything else shows the signed-out page, so the endpoint is no open
redirector. Either way the browser's single sign-on session (signin.py) ends first.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from ..directory import Application
from ..state import FAKE
from . import pages
from .protocol import resolve_tenant, tenant_not_found
from .redirects import uri_matches
from .store import SSO_COOKIE, store


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def _allowed(apps: list[Application], uri: str) -> bool:
    registered = [r for app in apps for r in app.redirect_uris]
    if any(uri_matches(r, uri) for r in registered):
        return True
    # The origin of a registered URI (same loopback rule), with or without the slash.
    as_origin = uri + "/" if uri == _origin(uri).rstrip("/") else uri
    return as_origin == _origin(uri) and any(uri_matches(_origin(r), as_origin)
                                             for r in registered)


async def logout(request: web.Request) -> web.StreamResponse:
    fake = request.app[FAKE]
    name = fake.directory.tenant.name
    params = dict(request.query)
    if request.method == "POST":
        params |= {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    segment = request.match_info["tenant"]
    if resolve_tenant(fake.directory, segment) is None:
        err = tenant_not_found(segment)
        return pages.page("error.html", status=400, tenant_name=name,
                          message=err.description, code=f"AADSTS{err.aadsts}")
    store(fake).end_sso(request.cookies.get(SSO_COOKIE, ""))
    target = params.get("post_logout_redirect_uri")
    client_id = (params.get("client_id") or "").lower()
    apps = [fake.directory.applications[client_id]] if client_id in \
        fake.directory.applications else list(fake.directory.applications.values())
    if target and _allowed(apps, target):
        if "state" in params:
            sep = "&" if urlsplit(target).query else "?"
            target = f"{target}{sep}{urlencode({'state': params['state']})}"
        response = web.Response(status=302, headers={"Location": target,
                                                     "Cache-Control": "no-store"})
    else:
        message = ("The address to return to is not registered for this application, so you "
                   "stay here.") if target else None
        response = pages.page("signed_out.html", tenant_name=name, message=message)
    response.del_cookie(SSO_COOKIE, path="/", secure=True, httponly=True, samesite="None")
    return response
