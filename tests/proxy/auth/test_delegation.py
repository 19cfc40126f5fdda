"""Manager mode's delegated tokens: refresh, on-behalf-of, and what Entra's answers mean.

The happy paths and the real refusals run against the fake (tests/e2e/test_manager_mode.py);
these are the identity platform's answers the fake does not give on demand (a claims
challenge, an unreachable host, an unknown error), with a stand-in for MSAL's application.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests

from mystaff_proxy.auth.delegation import Delegation, ReauthenticationRequired
from mystaff_proxy.graph.exceptions import GraphUnavailable
from mystaff_proxy.sealing import Sealer
from mystaff_proxy.stores.delegated_tokens import MemoryDelegatedTokens


class _Msal:
    def __init__(self) -> None:
        self.answer: Any = {"access_token": "new-access", "refresh_token": "new-refresh",
                            "expires_in": 3600}
        self.calls: list[tuple[str, str]] = []

    def _reply(self, name: str, arg: str) -> Any:
        self.calls.append((name, arg))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def acquire_token_by_refresh_token(self, refresh: str, scopes: list[str]) -> Any:
        return self._reply("refresh", refresh)

    def acquire_token_on_behalf_of(self, assertion: str, scopes: list[str]) -> Any:
        return self._reply("obo", assertion)


def _delegation(msal: _Msal, now: list[float]) -> Delegation:
    async def app() -> _Msal:
        return msal

    return Delegation(app=app, store=MemoryDelegatedTokens(),
                      sealer=Sealer(secrets.token_bytes(32), b"delegated-v1"),
                      session_seconds=3600, clock=lambda: now[0])


async def test_a_fresh_token_is_used_then_refreshed_near_expiry() -> None:
    msal, now = _Msal(), [1000.0]
    d = _delegation(msal, now)
    await d.remember("sid", {"access_token": "a1", "refresh_token": "r1", "expires_in": 600})
    assert await d.for_session("sid") == "a1" and msal.calls == []
    now[0] += 500  # within two minutes of expiry: refreshed before a change can fail
    assert await d.for_session("sid") == "new-access"
    assert msal.calls == [("refresh", "r1")]
    assert await d.for_session("sid") == "new-access"  # the new one is kept
    await d.forget("sid")
    with pytest.raises(ReauthenticationRequired):
        await d.for_session("sid")


@pytest.mark.parametrize("answer", [
    {"error": "invalid_grant", "error_codes": [50173]},
    {"error": "interaction_required", "error_codes": [50076]},
    {"error": "invalid_grant", "claims": '{"access_token":{"capolids":{}}}'},
])
async def test_entra_asking_for_a_new_sign_in(answer: dict[str, Any]) -> None:
    msal, now = _Msal(), [1000.0]
    d = _delegation(msal, now)
    await d.remember("sid", {"access_token": "a1", "refresh_token": "r1", "expires_in": 60})
    msal.answer = answer
    with pytest.raises(ReauthenticationRequired):
        await d.for_session("sid")
    with pytest.raises(ReauthenticationRequired):
        await d.for_assertion("user-token")


@pytest.mark.parametrize(("answer", "status"), [
    (requests.ConnectionError("down"), 503),
    (RuntimeError("MSAL broke"), 503),
    ({"error": "temporarily_unavailable"}, 502),
    ({"no": "token"}, 502),
])
async def test_the_identity_platform_failing_fails_the_change(answer: Any, status: int) -> None:
    msal, now = _Msal(), [1000.0]
    d = _delegation(msal, now)
    msal.answer = answer
    with pytest.raises(GraphUnavailable) as info:
        await d.for_assertion("user-token")
    assert info.value.status == status and info.value.code == "identity"


async def test_a_sign_in_without_a_token_is_refused() -> None:
    d = _delegation(_Msal(), [0.0])
    with pytest.raises(ReauthenticationRequired):
        await d.remember("sid", {"id_token_claims": {}})
