"""A protected person's phone numbers are hidden from every manager, view-only ones included."""

from __future__ import annotations

from e2e_support import Stack, uid

from fake_graph.directory import Phone


async def test_view_only_manager_does_not_see_a_protected_persons_phones(stack: Stack) -> None:
    admin = stack.fake_user("admin.tenant@e2e.example")
    admin.phones["mobile"] = Phone("mobile", "+1 2065550177", "notEnabled")
    viewer = await stack.manager("viewer@e2e.example")
    status, body, _ = await viewer.call(
        "GET", f"/api/v1/locations/north/staff/{uid('admin.tenant@e2e.example')}")
    assert status == 200
    assert body["actions"] == [] and body["phoneMethods"] == []
    # An unprotected person's phones are shown to the same view-only manager.
    status, body, _ = await viewer.call(
        "GET", f"/api/v1/locations/north/staff/{uid('staff1@e2e.example')}")
    assert status == 200 and body["phoneMethods"][0]["phoneNumber"] == "+1 2065550101"
