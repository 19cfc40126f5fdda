from __future__ import annotations

from e2e_support import Stack, uid


async def test_manager_signs_in_and_resets_a_password(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    status, me, _ = await m.call("GET", "/api/v1/me")
    assert status == 200, me
    assert me["locations"] == [{"id": "north", "name": "North store",
                                "actions": ["reset_password", "manage_phone"]}]
    target = uid("staff2@e2e.example")
    status, body, _ = await m.call("POST", f"/api/v1/locations/north/staff/{target}/password",
                                   {})
    assert status == 200, body
    assert stack.fake_user("staff2@e2e.example").password == body["temporaryPassword"]
