"""Token responses, built the same way for every grant that signs a user in.

Fields (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow):
``token_type``, ``scope``, ``expires_in``, ``ext_expires_in``, ``access_token``; ``refresh_token``
with ``offline_access``; ``id_token`` with ``openid``; ``client_info`` when the client sent
``client_info=1`` (MSAL does, and builds its account id from it).

``auth_time`` (when the user last entered their credentials, not when single sign-on or a
refresh answered) is an optional claim, as in Entra: in the ID token when the client app's
registration asks for it, in an access token for an app's own API when that app's does
(tenant key ``optional_claims: [auth_time]``); never in Graph's tokens.
"""

from __future__ import annotations

import time
from typing import Any

from ..directory import Application, User
from ..state import FakeGraph
from ..tokens import ACCESS_TOKEN_LIFETIME, client_info
from .scopes import API, Resource, ScopeRequest, delegated_grant
from .store import REFRESH_LIFETIME, RefreshGrant, password_stamp, store


def _api_shape(fake: FakeGraph, resource: Resource) -> dict[str, Any]:
    """The access token version of an app's API (its manifest's accessTokenAcceptedVersion)
    and, for v1.0, the audience as the client named the resource: Entra's v1.0 ``aud`` is
    the identifier URI (``api://client_id``) or the client id, whichever was asked for."""
    app = fake.directory.applications[resource.audience]
    if app.access_token_version != 1:
        return {}
    by_uri = any(s.lower().startswith("api://") for s in resource.written)
    return {"version": 1,
            "audience": f"api://{resource.audience}" if by_uri else resource.audience}


def _base(access_token: str) -> dict[str, Any]:
    return {"token_type": "Bearer", "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME, "access_token": access_token}


def app_token_response(fake: FakeGraph, app: Application, request: ScopeRequest) -> dict[str, Any]:
    """Client credentials: an app-only token for the one ``.default`` resource requested."""
    resource = request.resource
    assert resource is not None  # the grant checked it
    if resource.kind == API:
        token = fake.tokens.api_app_token(resource.audience, app.client_id,
                                          app.service_principal_id, [],
                                          **_api_shape(fake, resource))
    else:
        token = fake.tokens.graph_app_token(app.client_id, app.service_principal_id,
                                            list(app.application_permissions))
    return _base(token)


def _auth_time(app: Application, auth_time: float | None) -> dict[str, Any]:
    """The ``auth_time`` claim, when ``app``'s registration asks for it and it is known."""
    if auth_time is None or "auth_time" not in app.optional_claims:
        return {}
    return {"auth_time": int(auth_time)}


def user_token_response(fake: FakeGraph, app: Application, user: User,
                        request: ScopeRequest, *, nonce: str | None = None,
                        want_client_info: bool = False,
                        consented: list[str] | None = None,
                        auth_time: float | None = None) -> tuple[dict[str, Any], str | None]:
    """A delegated token response for ``user``; also returns the new refresh token, if any.

    ``consented`` is the scope list the refresh token remembers (default: this request's).
    ``auth_time``: when the user entered their credentials for the grant (None: unknown).
    """
    directory = fake.directory
    resource, names = delegated_grant(request, directory)
    wids = sorted(directory.tenant_wide_roles(user.id, transitive=True))
    if resource.kind == API:
        access = fake.tokens.api_user_token(
            resource.audience, app.client_id, user.id, user.user_principal_name,
            user.display_name, names, wids, **_api_shape(fake, resource),
            extra=_auth_time(directory.applications[resource.audience], auth_time))
    else:
        oidc = [s for s in ("openid", "profile", "email") if s in request.oidc]
        access = fake.tokens.graph_user_token(app.client_id, user.id, user.user_principal_name,
                                              user.display_name, [*names, *oidc], wids)
    body = _base(access)
    body["scope"] = request.response_scope(names)
    refresh: str | None = None
    if request.wants_refresh_token:
        refresh = store(fake).new_refresh_token(RefreshGrant(
            client_id=app.client_id, user_id=user.id,
            scopes=consented if consented is not None else request.raw.split(),
            stamp=password_stamp(user), expires_at=time.time() + REFRESH_LIFETIME,
            auth_time=auth_time))
        body["refresh_token"] = refresh
    if request.wants_id_token:
        extra = {"email": user.mail} if "email" in request.oidc and user.mail else {}
        body["id_token"] = fake.tokens.id_token(app.client_id, user.id,
                                                user.user_principal_name, user.display_name,
                                                nonce, extra=extra | _auth_time(app, auth_time))
    if want_client_info:
        body["client_info"] = client_info(user.id, directory.tenant.id)
    return body, refresh
