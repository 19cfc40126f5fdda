"""The ID token's claims after MSAL has checked signature, issuer, nonce and expiry: the proxy
itself insists on the configured tenant, its own client id as audience, and an object id.
(The fake tenant cannot issue another tenant's token, so MSAL's answer is stubbed here.)"""

from __future__ import annotations

from typing import Any

import pytest

from mystaff_proxy.auth.signin import SignIn, SignInError

TENANT = "a0a0a0a0-0000-4000-8000-000000000001"
CLIENT = "e2e0a000-0000-4000-8000-0000000000aa"
GOOD = {"tid": TENANT, "aud": CLIENT, "oid": "0B1D0000-0000-4000-8000-000000000002",
        "preferred_username": "m@e2e.example", "name": "M"}


class _Msal:
    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims

    def initiate_auth_code_flow(self, scopes: list[str], **kw: Any) -> dict[str, Any]:
        return {"state": "s" * 20, "auth_uri": "https://login.example/authorize"}

    def acquire_token_by_auth_code_flow(self, flow: dict[str, Any],
                                        params: dict[str, str]) -> dict[str, Any]:
        return {"id_token_claims": self.claims, "access_token": "x"}


async def _finish(claims: dict[str, Any]) -> Any:
    signin = SignIn(client_id=CLIENT, authority=f"https://login.example/{TENANT}",
                    tenant_id=TENANT, redirect_uri="https://mystaff.example/auth/callback",
                    client_credential="secret")
    signin._app = _Msal(claims)
    await signin.start(browser="b" * 43, next_path="/locations", address="203.0.113.1")
    return await signin.finish(browser="b" * 43, params={"state": "s" * 20, "code": "c"})


async def test_good_claims_sign_in_by_object_id() -> None:
    user, next_path = await _finish(GOOD)
    assert user.oid == GOOD["oid"].lower() and user.tid == TENANT and next_path == "/locations"


@pytest.mark.parametrize(("change", "reason"), [
    ({"tid": "b1b1b1b1-0000-4000-8000-000000000002"}, "wrong_tenant"),
    ({"tid": None}, "wrong_tenant"),
    ({"aud": "another-app"}, "wrong_audience"),
    ({"aud": [CLIENT, "another-app"]}, "wrong_audience"),
    ({"oid": None}, "no_oid"),
    ({"oid": ""}, "no_oid"),
])
async def test_claims_that_are_not_for_us_are_refused(change: dict[str, Any],
                                                      reason: str) -> None:
    claims = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(SignInError) as caught:
        await _finish(claims)
    assert caught.value.reason == reason
