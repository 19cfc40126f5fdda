"""``/users``: signInSessionsValidFromDateTime and revokeSignInSessions
(https://learn.microsoft.com/graph/api/user-revokesigninsessions)."""

from __future__ import annotations

import time

from graph_support import (
    PROXY_APP,
    Served,
    app_token,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    user_token,
)

BOB = uid("bob@contoso.test")
SELECT = "?$select=id,accountEnabled,signInSessionsValidFromDateTime"


async def test_sign_in_sessions_valid_from_is_returned_only_on_select(served: Served) -> None:
    token = app_token(served.fake)
    _, default, _ = await served.call("GET", f"/users/{BOB}", token=token)
    assert "signInSessionsValidFromDateTime" not in default
    status, body, _ = await served.call("GET", f"/users/{BOB}{SELECT}", token=token)
    assert status == 200, body
    assert body["accountEnabled"] is True
    assert body["signInSessionsValidFromDateTime"] is None  # never revoked
    served.fake.directory.users[BOB].sign_in_sessions_valid_from = 1_700_000_000.0
    _, body, _ = await served.call("GET", f"/users/{BOB}{SELECT}", token=token)
    assert body["signInSessionsValidFromDateTime"] == "2023-11-14T22:13:20Z"


async def test_revoke_sign_in_sessions_moves_the_date_to_now(served: Served) -> None:
    user = served.fake.directory.users[BOB]
    user.sign_in_sessions_valid_from = 1_000_000_000.0
    token = app_token(served.fake, PROXY_APP, roles=["User.RevokeSessions.All", "User.Read.All"])
    before = int(time.time())
    status, body, _ = await served.call("POST", f"/users/{BOB}/revokeSignInSessions",
                                        token=token)
    assert status == 200 and body["value"] is True, body
    assert body["@odata.context"].endswith("$metadata#Edm.Boolean")
    assert user.sign_in_sessions_valid_from is not None
    assert before <= user.sign_in_sessions_valid_from <= time.time()


async def test_revoke_sign_in_sessions_needs_its_permission(served: Served) -> None:
    user = served.fake.directory.users[BOB]
    was = user.sign_in_sessions_valid_from
    # The proxy's own app may read users but not revoke their sessions.
    status, body, _ = await served.call("POST", f"/users/{BOB}/revokeSignInSessions",
                                        token=app_token(served.fake))
    assert status == 403 and body["error"]["code"] == "Authorization_RequestDenied"
    status, _, _ = await served.call("POST", f"/users/{BOB}/revokeSignInSessions",
                                     token=user_token(served.fake, "alice@contoso.test",
                                                      ["User.Read"]))
    assert status == 403
    assert user.sign_in_sessions_valid_from == was
