"""Manager sign-in: MSAL's auth-code flow with PKCE, its network calls off the event loop.

A flow (state, nonce, PKCE verifier) is kept server-side, keyed by its ``state``, bound to the
browser by a random value that only that browser's cookie carries, single-use and short-lived.
Several flows per browser may be pending at once (two tabs signing in in parallel).

Anyone can start a sign-in, so the pending ones are bounded per client address (an IPv6 /64
counts as one): starting more drops that address's oldest, and a flood from some addresses
never pushes out anyone else's (README, "Sign-in").

When the manager last entered their credentials (``SignedInUser.authenticated_at``, what a
re-authentication policy judges) is the ID token's ``auth_time``, an optional claim IT adds to
the app registration; without it, the time a code is redeemed that was asked for with
``prompt=login`` (Entra showed the form); else unknown. Never ``iat``: single sign-on issues a
new ID token without anyone entering anything.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from mystaff_proxy.auth.reauth import auth_time
from mystaff_proxy.stores.signin_flows import FlowStore, FlowStoreUnavailable, MemoryFlowStore

FLOW_TTL = 600.0
_WELL_KNOWN_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
    "login-us.microsoftonline.com",
})


class SignInError(Exception):
    """Sign-in could not complete. ``reason`` is a safe, short code for logs and audit."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class SignedInUser:
    oid: str
    upn: str
    name: str
    tid: str
    issued_at: float  # the ID token's iat: Entra's clock, for revocation checks
    #: When the manager entered their credentials (see the module's docstring); None: unknown.
    authenticated_at: float | None = None
    #: Manager mode: MSAL's token answer (access and refresh token for Graph). Never logged.
    tokens: dict[str, Any] | None = field(default=None, repr=False, compare=False)


class _NoTokenCache(msal.TokenCache):  # type: ignore[misc]
    """MSAL keeps every redeemed token in its in-memory cache, for every user, for ever. The
    proxy keeps what it needs itself (sessions; manager mode's sealed delegated tokens)."""

    def add(self, event: dict[str, Any], now: Any = None) -> None:
        return None


class SignIn:
    """Starts and completes sign-ins for one tenant and app registration."""

    def __init__(self, *, client_id: str, authority: str, tenant_id: str, redirect_uri: str,
                 client_credential: str | dict[str, str] | None, ca_file: str = "",
                 flows: FlowStore | None = None, scopes: tuple[str, ...] = ()) -> None:
        self._client_id = client_id
        self._authority = authority
        self._tenant_id = tenant_id.lower()
        self._redirect_uri = redirect_uri
        self._credential = client_credential
        self._ca_file = ca_file
        self._app: msal.ConfidentialClientApplication | None = None
        self._flows: FlowStore = flows or MemoryFlowStore()
        self._lock = asyncio.Lock()
        #: Graph scopes asked at sign-in (manager mode: what a change needs), else none.
        self.scopes = scopes

    def _build_app(self) -> msal.ConfidentialClientApplication:
        http = requests.Session()
        if self._ca_file:
            # The environment's CA bundle variables would override verify= (client facts
            # §1.4): trust_env=False keeps the configured CA in force.
            http.verify = self._ca_file
            http.trust_env = False
        host = urlsplit(self._authority).hostname or ""
        return msal.ConfidentialClientApplication(
            self._client_id,
            client_credential=self._credential,
            authority=self._authority,
            instance_discovery=host in _WELL_KNOWN_HOSTS,
            http_client=http,
            # A refresh token only when the proxy will act as the manager (manager mode).
            exclude_scopes=[] if self.scopes else ["offline_access"],
            token_cache=_NoTokenCache(),
            timeout=10,
        )

    async def _app_instance(self) -> msal.ConfidentialClientApplication:
        # The constructor fetches the discovery document: build it once, off the loop.
        if self._app is None:
            async with self._lock:
                if self._app is None:
                    try:
                        self._app = await asyncio.to_thread(self._build_app)
                    except (ValueError, requests.RequestException,
                            msal.exceptions.MsalError) as exc:
                        raise SignInError("identity_unavailable",
                                          "The sign-in service cannot be reached.") from exc
        return self._app

    async def warm_up(self) -> None:
        await self._app_instance()

    async def app(self) -> msal.ConfidentialClientApplication:
        """MSAL's application (built once): manager mode refreshes and exchanges with it."""
        return await self._app_instance()

    async def start(self, *, browser: str, next_path: str, address: str,
                    login_hint: str | None = None, prompt_login: bool = False) -> str:
        """The authorize URL to send the browser to; the flow is kept until the callback,
        counted against ``address`` (the client's address block). ``prompt_login``: Entra
        must ask for the credentials even when its single sign-on could answer."""
        app = await self._app_instance()
        flow: dict[str, Any] = await asyncio.to_thread(
            app.initiate_auth_code_flow, list(self.scopes), redirect_uri=self._redirect_uri,
            # query, not form_post: the callback must carry our SameSite=Lax flow cookie,
            # which browsers do not send on a cross-site POST.
            login_hint=login_hint, response_mode="query",
            prompt="login" if prompt_login else None,
        )
        auth_uri = str(flow.pop("auth_uri"))  # not needed to finish: a third of the flow
        try:
            await self._flows.put(str(flow["state"]),
                                  {"flow": flow, "browser": browser, "next": next_path,
                                   "prompt_login": prompt_login},
                                  FLOW_TTL, address=address)
        except FlowStoreUnavailable:
            raise SignInError("identity_unavailable",
                              "Sign-in is unavailable right now; try again.") from None
        return auth_uri

    async def finish(self, *, browser: str, params: Mapping[str, str]) -> tuple[SignedInUser, str]:
        """Redeem the code; returns the user and the ``next`` path of that flow."""
        state = params.get("state", "")
        pending = await self._flows.take(state) if state else None  # single-use
        if pending is None:
            raise SignInError("unknown_state", "This sign-in link has expired or was used.")
        if not secrets.compare_digest(str(pending["browser"]), browser):
            raise SignInError("browser_mismatch", "This sign-in was started elsewhere.")
        if "error" in params:
            raise SignInError("authorize_error", "The sign-in was not completed.")
        app = await self._app_instance()
        try:
            result: dict[str, Any] = await asyncio.to_thread(
                app.acquire_token_by_auth_code_flow, pending["flow"], dict(params))
        except (ValueError, RuntimeError) as exc:
            # MSAL raises ValueError for a state mismatch and RuntimeError (IdTokenError and
            # its own nonce check) for an ID token whose nonce, issuer or audience is wrong;
            # the security suite found the latter answered 500 and unaudited.
            raise SignInError("flow_mismatch", "The sign-in answer did not match.") from exc
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            # MsalServiceError: the token endpoint answered 5xx without an OAuth error body
            # (tests/e2e/test_identity_down.py found it escaping as a 500).
            raise SignInError("identity_unavailable",
                              "The sign-in service cannot be reached.") from exc
        if "error" in result:
            raise SignInError("token_error", "The sign-in service refused the sign-in.")
        claims = result.get("id_token_claims") or {}
        tid = str(claims.get("tid", "")).lower()
        if tid != self._tenant_id:
            raise SignInError("wrong_tenant", "This account belongs to another organization.")
        if claims.get("aud") != self._client_id:
            raise SignInError("wrong_audience", "The sign-in answer was not for this app.")
        oid = str(claims.get("oid", "")).lower()
        if not oid:
            raise SignInError("no_oid", "The sign-in answer lacks the account id.")
        iat = claims.get("iat")
        user = SignedInUser(oid=oid, upn=str(claims.get("preferred_username", "")),
                            name=str(claims.get("name", "")), tid=tid,
                            issued_at=float(iat) if isinstance(iat, int | float) else time.time(),
                            authenticated_at=authenticated_at(
                                claims, prompted=pending.get("prompt_login") is True),
                            tokens=result if self.scopes else None)
        return user, str(pending["next"])


def authenticated_at(claims: Mapping[str, Any], *, prompted: bool,
                     now: float | None = None) -> float | None:
    """When the user entered their credentials: the ID token's ``auth_time``, else now when
    Entra was asked to show its form (``prompt=login``), else None (reauth.py)."""
    at = time.time() if now is None else now
    found = auth_time(claims, at)
    if found is not None:
        return found
    return at if prompted else None
