"""Manager mode (``[graph] identity = "manager"``): Graph tokens of the signed-in manager.

In manager mode every change is sent to Graph as the manager, so Entra checks the manager's
own (administrative-unit-scoped) role as well as the proxy's policy: both must say yes
(docs/manager-mode.md). This module gets that delegated token:

* a session caller: the access and refresh tokens MSAL redeemed at sign-in, kept on the
  server only (never in the cookie or the page), sealed with a key derived from the session
  secret (also in Redis with several instances), refreshed when they are about to expire,
  and forgotten when the session ends (sign-out, revocation, expiry);
* a bearer caller: on-behalf-of its token.

Entra answering that the manager must sign in again (``invalid_grant``,
``interaction_required``, a claims challenge: a revoked session, a changed password, an expired
refresh token, conditional access) is ``ReauthenticationRequired``, never a refusal of the
change. MSAL is synchronous: its network calls run in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import requests

from mystaff_proxy.graph.exceptions import IDENTITY, GraphUnavailable
from mystaff_proxy.sealing import Sealer
from mystaff_proxy.stores.delegated_tokens import DelegatedTokenStore

log = logging.getLogger("mystaff_proxy.auth.delegation")

#: What a change needs: resetPassword and the phone methods (delegated, on Graph).
GRAPH_CHANGE_SCOPES = ("https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All",)
#: Refresh this long before the access token expires: a change must not fail half-way.
EXPIRY_MARGIN = 120.0
#: OAuth errors that mean "the manager must sign in again", not "refused" (RFC 6749 §5.2,
#: OpenID Connect's interaction_required / login_required / consent_required).
_REAUTH_ERRORS = frozenset({"invalid_grant", "interaction_required", "login_required",
                            "consent_required"})


class ReauthenticationRequired(Exception):
    """Entra wants the manager to sign in again before it acts on their behalf."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why  # a short code for the audit record


# (MSAL call, its arguments) -> MSAL's result dict; run in a thread
MsalCall = Callable[..., dict[str, Any]]
AppProvider = Callable[[], Awaitable[Any]]  # the MSAL ConfidentialClientApplication


class Delegation:
    def __init__(self, *, app: AppProvider, store: DelegatedTokenStore, sealer: Sealer,
                 session_seconds: float, scopes: tuple[str, ...] = GRAPH_CHANGE_SCOPES,
                 clock: Callable[[], float] = time.time) -> None:
        self._app = app
        self._store = store
        self._sealer = sealer
        self._session_seconds = session_seconds
        self.scopes = scopes
        self._clock = clock
        # One lock per session while a change uses it; gone with the last user (a session that
        # ends by idling out never calls forget, so a plain dict would only grow).
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = \
            weakref.WeakValueDictionary()

    # -- sessions ----------------------------------------------------------------------------

    async def remember(self, sid: str, result: dict[str, Any]) -> None:
        """Keep what the sign-in redeemed (MSAL's result) for this session."""
        access = result.get("access_token")
        if not isinstance(access, str) or not access:
            raise ReauthenticationRequired("no_delegated_token")
        await self._save(sid, result)

    async def forget(self, sid: str) -> None:
        await self._store.delete(sid)
        self._locks.pop(sid, None)

    async def _save(self, sid: str, result: dict[str, Any]) -> None:
        expires_in = result.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 300.0
        blob = self._sealer.seal({
            "a": result["access_token"],
            "r": result.get("refresh_token") or "",
            "e": self._clock() + lifetime,
        })
        await self._store.put(sid, blob, self._session_seconds)

    async def for_session(self, sid: str) -> str:
        """A delegated Graph access token of the session's manager, refreshed if need be."""
        lock = self._locks.get(sid)
        if lock is None:
            lock = self._locks[sid] = asyncio.Lock()
        async with lock:  # two changes at once must not both spend the refresh token
            blob = await self._store.get(sid)
            data = self._sealer.open(blob) if blob else None
            if data is None:
                raise ReauthenticationRequired("no_delegated_token")
            if float(data.get("e", 0)) - EXPIRY_MARGIN > self._clock():
                return str(data["a"])
            refresh = str(data.get("r") or "")
            if not refresh:
                raise ReauthenticationRequired("token_expired")
            app = await self._app()
            result = await self._call(app.acquire_token_by_refresh_token, refresh,
                                      scopes=list(self.scopes))
            if not result.get("refresh_token"):
                result = {**result, "refresh_token": refresh}
            await self._save(sid, result)
            return str(result["access_token"])

    # -- bearer callers ----------------------------------------------------------------------

    async def for_assertion(self, assertion: str) -> str:
        """On-behalf-of a bearer caller's token (MSAL caches the answer per assertion)."""
        app = await self._app()
        result = await self._call(app.acquire_token_on_behalf_of, assertion,
                                  scopes=list(self.scopes))
        return str(result["access_token"])

    async def _call(self, method: MsalCall, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            result = await asyncio.to_thread(method, *args, **kwargs)
        except (requests.RequestException, OSError) as exc:
            raise GraphUnavailable(503, IDENTITY, "the identity platform cannot be reached: "
                                   f"{type(exc).__name__}") from None
        except Exception as exc:  # MSAL's own errors (e.g. a 5xx without an OAuth body)
            raise GraphUnavailable(503, IDENTITY, "the identity platform failed: "
                                   f"{type(exc).__name__}") from None
        if not isinstance(result, dict):
            raise GraphUnavailable(502, IDENTITY, "the identity platform sent no answer")
        error = result.get("error")
        if error is None and isinstance(result.get("access_token"), str):
            return result
        if error in _REAUTH_ERRORS or result.get("claims"):
            raise ReauthenticationRequired(str(error or "claims_challenge"))
        log.warning("delegated token refused: %s", error)
        raise GraphUnavailable(502, IDENTITY, f"the identity platform refused: {error}")
