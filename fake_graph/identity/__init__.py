"""The fake's Entra ID identity platform (v2.0 endpoints), one module per concern.

- ``discovery``: OpenID configuration (v2.0, and v1.0 for v1.0 access tokens), JWKS,
  instance and user-realm discovery;
- ``signin``: the authorize endpoint and its sign-in / change-password pages (``pages``,
  ``redirects``);
- ``token``: the token endpoint, client authentication (``clientauth``) and one module per
  grant in ``grants/``, each given a ``token_request.TokenRequest``; token responses in
  ``issue``; scope rules in ``scopes``;
- ``logout``; ``middleware``: recording and faults for non-Graph requests;
- ``store``: codes, refresh tokens and pending password changes.

``{tenant}`` accepts the tenant id, its domain, ``common`` and ``organizations``.
"""

from __future__ import annotations

from aiohttp import web

from ..state import FAKE
from . import discovery, logout, signin, store, token
from .middleware import record_and_fault

__all__ = ["record_and_fault", "setup"]


def setup(app: web.Application) -> None:
    """Register the identity routes and the reset hook on the fake's application."""
    fake = app[FAKE]

    def on_reset() -> None:
        store.reset(fake)

    on_reset.fake_graph_identity = True  # type: ignore[attr-defined]
    if not any(getattr(h, "fake_graph_identity", False) for h in fake.on_reset):
        fake.on_reset.append(on_reset)
    r = app.router
    r.add_get("/common/discovery/instance", discovery.instance_discovery)
    r.add_get("/common/userrealm/{user}", discovery.user_realm)
    r.add_get("/{tenant}/v2.0/.well-known/openid-configuration", discovery.openid_configuration)
    r.add_get("/{tenant}/discovery/v2.0/keys", discovery.keys)
    r.add_get("/{tenant}/.well-known/openid-configuration", discovery.openid_configuration_v1)
    r.add_get("/{tenant}/discovery/keys", discovery.keys)  # v1.0: the same keys
    r.add_route("GET", "/{tenant}/oauth2/v2.0/authorize", signin.authorize)
    r.add_route("POST", "/{tenant}/oauth2/v2.0/authorize", signin.authorize)
    r.add_post("/{tenant}/oauth2/v2.0/token", token.handle)
    r.add_route("GET", "/{tenant}/oauth2/v2.0/logout", logout.logout)
    r.add_route("POST", "/{tenant}/oauth2/v2.0/logout", logout.logout)
