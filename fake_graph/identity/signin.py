"""``GET``/``POST /{tenant}/oauth2/v2.0/authorize``: the sign-in page and the code it issues.

Order of checks follows Entra
(https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow): the tenant, the
client and the redirect URI are checked first and shown as an error page — never redirected, so an
attacker cannot use the fake as an open redirector (AADSTS50011). Every later problem is sent back
to the (now trusted) redirect URI as ``error``/``error_description``/``state``.

Single sign-on, as Entra: a sign-in with the form sets a session cookie (``ESTSAUTH``: Secure,
HttpOnly, SameSite=None), and a later authorization request from the same browser is answered
with a code at once — without the form — while that session holds: the account still exists,
is enabled, has the same password, its sessions were not revoked since
(``signInSessionsValidFromDateTime``), and ``login_hint`` (if any) names that account.
``prompt=login`` (or ``select_account``) always shows the form, whatever the session;
``prompt=none`` answers ``login_required`` without a session. Sign-out (logout.py) ends it.
The OAuth parameters travel through the form as hidden fields and are validated again on each
POST. A code remembers when the user last entered credentials: now after the form, the
session's start after single sign-on (the tokens' ``auth_time``, for apps that ask for that
optional claim: issue.py).

The password field also takes the user's Temporary Access Pass, while it is usable; a session
made with one ends with the pass (its lifetime, or its deletion or replacement).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..directory import Application, User
from ..errors import entra_error_body
from ..methods_policy import TemporaryAccessPass
from ..state import FAKE, FakeGraph
from . import pages
from .clientauth import find_client
from .protocol import OAuthError, missing_parameter, resolve_tenant, tenant_not_found
from .redirects import redirect_response, redirect_uri_registered
from .scopes import parse_scopes
from .store import (
    CODE_LIFETIME,
    SSO_COOKIE,
    SSO_LIFETIME,
    TICKET_LIFETIME,
    AuthorizationCode,
    PasswordChangeTicket,
    SsoSession,
    password_stamp,
    store,
)
from .users import PASSWORD_RULES, new_password_problem, password_matches

RESPONSE_MODES = ("query", "fragment", "form_post")
PKCE_METHODS = ("S256", "plain")
# Form fields of the pages themselves; everything else is an OAuth parameter to carry along.
_PAGE_FIELDS = frozenset({"username", "password", "new_password", "confirm_password", "flow"})


class _Redirectable(Exception):
    def __init__(self, error: OAuthError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Authorize:
    """A validated authorization request."""

    fake: FakeGraph
    app: Application
    params: dict[str, str]
    redirect_uri: str
    response_mode: str
    action: str  # this endpoint's path, where the forms post

    @property
    def client_origin(self) -> str:
        return "{0.scheme}://{0.netloc}".format(urlsplit(self.redirect_uri))

    @property
    def carried(self) -> dict[str, str]:
        return {k: v for k, v in self.params.items() if k not in _PAGE_FIELDS}

    def respond(self, params: dict[str, str]) -> web.StreamResponse:
        state = self.params.get("state")
        if state is not None:
            params = {**params, "state": state}
        return redirect_response(self.redirect_uri, self.response_mode, params,
                                 self.fake.directory.tenant.name)

    def error(self, err: OAuthError) -> web.StreamResponse:
        body = entra_error_body(err.error, err.aadsts, err.description)
        return self.respond({"error": err.error, "error_description": body["error_description"],
                             "error_uri": body["error_uri"]})

    def page(self, template: str, **context: Any) -> web.Response:
        return pages.page(template, form_action=self.client_origin,
                          tenant_name=self.fake.directory.tenant.name, action=self.action,
                          app_name=self.app.display_name, hidden=self.carried, **context)


def _error_page(fake: FakeGraph, err: OAuthError) -> web.Response:
    body = entra_error_body(err.error, err.aadsts, err.description)
    message = body["error_description"].split("\r\n")[0]
    return pages.page("error.html", status=400, tenant_name=fake.directory.tenant.name,
                      message=message, code=f"AADSTS{err.aadsts}")


def _validate(fake: FakeGraph, request: web.Request, params: dict[str, str]) -> Authorize:
    """Checks before anything may be redirected: raise OAuthError for an error page."""
    segment = request.match_info["tenant"]
    if resolve_tenant(fake.directory, segment) is None:
        raise tenant_not_found(segment)
    app = find_client(fake.directory, params.get("client_id"))
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise missing_parameter("redirect_uri")
    if not redirect_uri_registered(app, redirect_uri):
        raise OAuthError(
            "invalid_request", 50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the "
            f"redirect URIs configured for the application '{app.client_id}'. Make sure the "
            "redirect URI sent in the request matches one added to your application in the "
            "Azure portal.")
    mode = params.get("response_mode") or "query"
    auth = Authorize(fake, app, params, redirect_uri,
                     mode if mode in RESPONSE_MODES else "query", request.path)
    if mode not in RESPONSE_MODES:
        raise _Redirectable(OAuthError("invalid_request", 90008,
                                       f"The response_mode '{mode}' is not supported."))
    return auth


def _validate_request(auth: Authorize) -> None:
    """Checks whose failure goes back to the client as an error redirect."""
    params = auth.params
    response_type = params.get("response_type")
    if not response_type:
        raise missing_parameter("response_type")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", 700054,
                         f"response_type '{response_type}' is not enabled for the application.")
    scope = params.get("scope")
    if not scope:
        raise missing_parameter("scope")
    parse_scopes(scope, auth.fake.directory)
    method = params.get("code_challenge_method")
    if method is not None and method not in PKCE_METHODS:
        raise OAuthError("invalid_request", 50148,
                         f"The code_challenge_method '{method}' is not supported: use S256.")
    if method is not None and not params.get("code_challenge"):
        raise missing_parameter("code_challenge")


def _signed_in(auth: Authorize, user: User,
               with_pass: TemporaryAccessPass | None = None) -> web.StreamResponse:
    """A sign-in with the form succeeded: the code, and a single sign-on session (no longer
    than the Temporary Access Pass it was made with, if it was)."""
    now = time.time()
    response = _issue_code(auth, user, now)
    expires = now + SSO_LIFETIME
    if with_pass is not None:
        expires = min(expires, with_pass.end.timestamp())
    value = store(auth.fake).new_sso(SsoSession(user.id, password_stamp(user), now, expires,
                                                with_pass.id if with_pass else None))
    response.set_cookie(SSO_COOKIE, value, path="/", secure=True, httponly=True,
                        samesite="None", max_age=max(1, int(expires - now)))
    return response


def sso_user(fake: FakeGraph, request: web.Request) -> User | None:
    """The account this browser is still signed in to, if any."""
    found = sso_session(fake, request)
    return found[0] if found is not None else None


def sso_session(fake: FakeGraph, request: web.Request) -> tuple[User, SsoSession] | None:
    """The account this browser is still signed in to and its session, if any."""
    session = store(fake).sso.get(request.cookies.get(SSO_COOKIE, ""))
    if session is None or session.expires_at < time.time():
        return None
    user = fake.directory.users.get(session.user_id)
    if user is None or not user.account_enabled or password_stamp(user) != session.stamp:
        return None
    revoked = user.sign_in_sessions_valid_from
    if revoked is not None and int(session.issued_at) < revoked:
        return None
    tap = user.temporary_access_pass
    if session.pass_id is not None and (tap is None or tap.id != session.pass_id):
        return None  # the pass it was made with was deleted or replaced
    return user, session


def _issue_code(auth: Authorize, user: User, auth_time: float) -> web.StreamResponse:
    """``auth_time``: when the user entered their credentials (now, or the session's start)."""
    params = auth.params
    challenge = params.get("code_challenge") or None
    code = store(auth.fake).new_code(AuthorizationCode(
        client_id=auth.app.client_id, redirect_uri=auth.redirect_uri, user_id=user.id,
        scopes=params.get("scope", "").split(), nonce=params.get("nonce"),
        code_challenge=challenge,
        # RFC 7636 §4.3: no method means "plain".
        code_challenge_method=(params.get("code_challenge_method") or "plain") if challenge
        else None,
        expires_at=time.time() + CODE_LIFETIME,
        auth_time=auth_time,
    ))
    return auth.respond({"code": code})


_BAD_CREDENTIALS = (
    "Your account or password is incorrect. If you don't remember your password, reset it now. "
    "(AADSTS50126: Error validating credentials due to invalid username or password.)")
# What Entra shows for a pass the policy does not allow, or a one-time pass already used
# (Learn: "Configure Temporary Access Pass", Troubleshooting).
_PASS_BLOCKED = "Temporary Access Pass sign in was blocked due to User Credential Policy."


def _sign_in(auth: Authorize) -> web.StreamResponse:
    """The form: a password, or instead the user's Temporary Access Pass (Entra's "Use your
    Temporary Access Pass"): accepted while usable, a one-time pass consumed here."""
    username = auth.params.get("username", "").strip()
    password = auth.params.get("password", "")
    directory = auth.fake.directory
    user = directory.find_user(username) if username else None
    if user is None:
        return auth.page("signin.html", username=username, error=(
            "We couldn't find an account with that username. Try another one. "
            "(AADSTS50034: The user account does not exist in this directory.)"))
    tap: TemporaryAccessPass | None = None
    if not password_matches(user, password):
        tap = user.temporary_access_pass
        if tap is None or not tap.matches(password):
            return auth.page("signin.html", username=username, error=_BAD_CREDENTIALS)
        reason = tap.usability(directory.tap_allowed(user.id))
        if reason in ("DisabledByPolicy", "OneTimeUsed"):
            return auth.page("signin.html", username=username, error=_PASS_BLOCKED)
        if reason != "EnabledByPolicy":  # expired, or not valid yet: not a credential now
            return auth.page("signin.html", username=username, error=_BAD_CREDENTIALS)
    if not user.account_enabled:
        return auth.page("signin.html", username=username, error=(
            "Your account has been locked. Contact your support person to unlock it, then try "
            "again. (AADSTS50057: The user account is disabled.)"))
    if tap is not None:
        # No password was used, so none is asked to change: a pass "doesn't replace a user's
        # password" (Learn: "Configure Temporary Access Pass").
        if tap.is_usable_once:
            tap.used = True
        return _signed_in(auth, user, with_pass=tap)
    if user.force_change_password_next_sign_in:
        flow = store(auth.fake).new_ticket(PasswordChangeTicket(
            user.id, password_stamp(user), time.time() + TICKET_LIFETIME))
        return auth.page("change_password.html", username=user.user_principal_name, flow=flow,
                         rules=PASSWORD_RULES, error=None)
    return _signed_in(auth, user)


def _change_password(auth: Authorize) -> web.StreamResponse:
    identity = store(auth.fake)
    flow = auth.params.get("flow", "")
    ticket = identity.tickets.get(flow)
    user = auth.fake.directory.users.get(ticket.user_id) if ticket else None
    if ticket is None or user is None or ticket.expires_at < time.time() or \
            password_stamp(user) != ticket.stamp:
        return auth.page("signin.html", username="", error=(
            "Your sign-in session has expired. Sign in again."))
    problem = new_password_problem(user, auth.params.get("new_password", ""),
                                   auth.params.get("confirm_password", ""))
    if problem is not None:
        return auth.page("change_password.html", username=user.user_principal_name, flow=flow,
                         rules=PASSWORD_RULES, error=problem)
    user.password = auth.params["new_password"]
    user.force_change_password_next_sign_in = False
    identity.tickets.pop(flow, None)
    return _signed_in(auth, user)


async def authorize(request: web.Request) -> web.StreamResponse:
    fake = request.app[FAKE]
    if request.method == "POST":
        form = await request.post()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        params = dict(request.query)
    try:
        auth = _validate(fake, request, params)
    except OAuthError as err:
        return _error_page(fake, err)
    except _Redirectable as redirectable:
        return _error_redirect(fake, request, params, redirectable.error)
    try:
        _validate_request(auth)
    except OAuthError as err:
        return auth.error(err)
    if params.get("prompt") == "none":
        found = sso_session(fake, request)
        if found is not None:
            return _issue_code(auth, found[0], found[1].issued_at)
        return auth.error(OAuthError("login_required", 50058,
                                     "A silent sign-in request was sent but no user is signed "
                                     "in."))
    if request.method == "POST" and "flow" in params:
        return _change_password(auth)
    if request.method == "POST" and "username" in params:
        return _sign_in(auth)
    found = sso_session(fake, request)
    hint = params.get("login_hint", "").strip().lower()
    if found is not None and params.get("prompt") not in ("login", "select_account") \
            and hint in ("", found[0].user_principal_name.lower()):
        return _issue_code(auth, found[0], found[1].issued_at)
    return auth.page("signin.html", username=params.get("login_hint", ""), error=None)


def _error_redirect(fake: FakeGraph, request: web.Request, params: dict[str, str],
                    err: OAuthError) -> web.StreamResponse:
    # Only reached once the client and redirect URI were validated.
    app = find_client(fake.directory, params.get("client_id"))
    auth = Authorize(fake, app, params, params["redirect_uri"], "query", request.path)
    return auth.error(err)
