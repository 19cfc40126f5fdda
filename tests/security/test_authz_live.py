"""Authorization facts are read live (ASVS 8.3.2): a change in the directory takes effect at
the very next request of an already signed-in manager, never from anything cached in the
session, the browser or an earlier page. (Policy file changes: tests/e2e/test_policy_reload.py;
a manager's group memberships are the one fact kept up to five minutes,
docs/authorization.md.)"""

from __future__ import annotations

import uuid

from e2e_support import Manager, Stack, uid

from fake_graph.directory import RoleAssignment

from .support import error_code

MGR = "mgr.upn@e2e.example"
NORTH = "a0000000-0000-4000-8000-00000000000a"
SOUTH = "a0000000-0000-4000-8000-00000000000b"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"  # Helpdesk Administrator template id


def _password(stack: Stack, upn: str) -> str:
    return str(stack.fake_user(upn).password)


async def _reset(stack: Stack, m: Manager, upn: str) -> tuple[int, str | None]:
    status, body, _ = await m.call(
        "POST", f"/api/v1/locations/north/staff/{uid(upn)}/password", {})
    return status, error_code(body)


async def test_a_person_moved_out_of_the_location_is_out_of_reach_at_once(stack: Stack) -> None:
    m = await stack.manager(MGR)
    staff = uid("staff1@e2e.example")
    status, _, _ = await m.call("GET", f"/api/v1/locations/north/staff/{staff}")
    assert status == 200
    directory = stack.fake.fake.directory
    directory.administrative_units[NORTH].members.remove(staff)
    directory.administrative_units[SOUTH].members.append(staff)
    before = _password(stack, "staff1@e2e.example")
    assert await _reset(stack, m, "staff1@e2e.example") == (404, "not_found")
    status, body, _ = await m.call("GET", f"/api/v1/locations/north/staff/{staff}")
    assert (status, error_code(body)) == (404, "not_found")
    status, body, _ = await m.call("GET", "/api/v1/locations/north/staff?top=100")
    assert staff not in {s["id"] for s in body["value"]}
    # Through the page too (the profile link a manager still has open).
    page = await m.session.get(f"{stack.proxy_url}/locations/north/staff/{staff}")
    assert page.status == 404
    assert _password(stack, "staff1@e2e.example") == before


async def test_a_person_made_protected_is_protected_at_once(stack: Stack) -> None:
    m = await stack.manager(MGR)
    assert (await _reset(stack, m, "staff1@e2e.example"))[0] == 200
    assert (await _reset(stack, m, "staff2@e2e.example"))[0] == 200
    directory = stack.fake.fake.directory
    vips = next(g for g in directory.groups.values() if g.display_name == "VIPs")
    vips.members.append(uid("staff1@e2e.example"))  # into a protected group
    directory.role_assignments.append(RoleAssignment(  # given an admin role
        str(uuid.uuid4()), uid("staff2@e2e.example"), HELPDESK_ADMIN, "/"))
    before = (_password(stack, "staff1@e2e.example"), _password(stack, "staff2@e2e.example"))
    assert await _reset(stack, m, "staff1@e2e.example") == (403, "protected_user")
    assert await _reset(stack, m, "staff2@e2e.example") == (403, "protected_user")
    assert (_password(stack, "staff1@e2e.example"),
            _password(stack, "staff2@e2e.example")) == before
    status, body, _ = await m.call(
        "GET", f"/api/v1/locations/north/staff/{uid('staff1@e2e.example')}")
    assert status == 200 and body["actions"] == [] and body["phoneMethods"] == []
