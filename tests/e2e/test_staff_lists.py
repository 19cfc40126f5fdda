"""Lists and searches show members of the manager's own locations only, across every page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from e2e_checks import error_code
from e2e_support import Manager, Stack, uid

NORTH_USERS = {
    "mgr.upn@e2e.example", "mgr.oid@e2e.example", "mgr.group@e2e.example",
    "staff1@e2e.example", "staff2@e2e.example", "staff3@e2e.example",
    "admin.tenant@e2e.example", "admin.scoped@e2e.example", "admin.group@e2e.example",
    "ceo@e2e.example", "vip@e2e.example",
    # other managers, eligible admins and owners (tests/e2e/test_managers_protected.py)
    "lead@e2e.example", "peer@e2e.example", "boss@e2e.example", "other.store@e2e.example",
    "grouplead@e2e.example", "eligible@e2e.example", "pimgroup@e2e.example",
    "owner.app@e2e.example", "owner.group@e2e.example",
}
SOUTH_USERS = {"south1@e2e.example"}
NEVER_IN_NORTH = {"south1@e2e.example", "grouped@e2e.example", "viewer@e2e.example",
                  "nobody@e2e.example"}


async def all_pages(m: Manager, loc: str, *, top: int, search: str = "") -> list[dict[str, Any]]:
    """Every item of every page, checking each page's size and cursor."""
    items: list[dict[str, Any]] = []
    query = f"top={top}" + (f"&search={search}" if search else "")
    cursor: str | None = None
    for _ in range(50):
        path = f"/api/v1/locations/{loc}/staff?{query}"
        status, body, _h = await m.call("GET", path + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, body
        assert len(body["value"]) <= top
        items += body["value"]
        cursor = body["nextCursor"]
        if cursor is None:
            return items
        assert body["value"], "a page with a cursor should not be empty"
    raise AssertionError("paging did not end")


def upns(items: list[dict[str, Any]]) -> list[str]:
    return [i["userPrincipalName"] for i in items]


@pytest.mark.parametrize("manager", ["mgr.upn@e2e.example", "mgr.oid@e2e.example",
                                     "mgr.group@e2e.example", "viewer@e2e.example"])
@pytest.mark.parametrize("top", [1, 2, 3, 100])
async def test_every_page_of_north_holds_its_user_members_only(
        stack: Stack, manager: str, top: int) -> None:
    m = await stack.manager(manager)
    items = await all_pages(m, "north", top=top)
    assert sorted(upns(items)) == sorted(NORTH_USERS)  # each exactly once
    for item in items:
        assert item["id"] == uid(item["userPrincipalName"])


async def test_the_view_only_manager_sees_south_separately(stack: Stack) -> None:
    m = await stack.manager("viewer@e2e.example")
    assert set(upns(await all_pages(m, "south", top=1))) == SOUTH_USERS


@pytest.mark.parametrize("search,expect", [
    ("S", {"staff1@e2e.example", "staff2@e2e.example", "staff3@e2e.example"}),  # + Sid South
    ("s", {"staff1@e2e.example", "staff2@e2e.example", "staff3@e2e.example"}),
    ("Sid", set()),              # south1's display name
    ("south", set()),            # south1's UPN
    ("Gus", set()),              # grouped@: a member of Floor team, itself a member of north
    ("grouped", set()),
    ("Floor", set()),            # the group itself is no user
    ("Vic", set()),              # the viewer manages north but is no member of it
    ("Nina", set()),
    ("mgr", {"mgr.upn@e2e.example", "mgr.oid@e2e.example", "mgr.group@e2e.example"}),
    ("Sam", {"staff1@e2e.example"}),
    ("staff2@", {"staff2@e2e.example"}),
    ("<img", {"staff3@e2e.example"}),
    ("a", {"admin.tenant@e2e.example", "admin.scoped@e2e.example", "admin.group@e2e.example"}),
    ("'", set()),                # OData quoting
    ("x' or true or startswith(displayName,'", set()),
    ("%", set()),
])
async def test_search_never_leaves_the_location(stack: Stack, search: str,
                                                expect: set[str]) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    items = await all_pages(m, "north", top=2, search=quote(search))
    found = set(upns(items))
    assert found <= NORTH_USERS
    assert not found & NEVER_IN_NORTH
    assert found == expect, search
    assert len(items) == len(found)


async def test_cursors_are_bound_to_manager_and_location(stack: Stack) -> None:
    viewer = await stack.manager("viewer@e2e.example")
    mgr = await stack.manager("mgr.upn@e2e.example")
    status, body, _ = await viewer.call("GET", "/api/v1/locations/north/staff?top=2")
    assert status == 200
    cursor = body["nextCursor"]
    assert cursor
    status, page2, _ = await viewer.call("GET", f"/api/v1/locations/north/staff?top=2&"
                                         f"cursor={cursor}")
    assert status == 200 and page2["value"]
    # the same cursor for another location, or in another manager's hands, is refused
    status, body, _ = await viewer.call("GET", f"/api/v1/locations/south/staff?cursor={cursor}")
    assert (status, error_code(body)) == (400, "invalid_request")
    status, body, _ = await mgr.call("GET", f"/api/v1/locations/north/staff?cursor={cursor}")
    assert (status, error_code(body)) == (400, "invalid_request")
    # a tampered cursor
    flipped = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    status, body, _ = await viewer.call("GET", f"/api/v1/locations/north/staff?cursor={flipped}")
    assert (status, error_code(body)) == (400, "invalid_request")
    # a cursor is not a way into an unmanaged location either
    status, body, _ = await mgr.call("GET", f"/api/v1/locations/south/staff?cursor={cursor}")
    assert (status, error_code(body)) == (404, "not_found")


async def test_the_proxy_asks_graph_for_the_units_user_members(stack: Stack) -> None:
    """Belt and braces: the list call is the AU's user members, never a directory search."""
    m = await stack.manager("mgr.upn@e2e.example")
    since = stack.fake.fake.recorder.last_seq
    await all_pages(m, "north", top=3, search="s")
    calls, _ = stack.fake.fake.recorder.since(since)
    lists = [c for c in calls if c.method == "GET"]
    assert lists
    for call in lists:
        assert call.path == ("/v1.0/directory/administrativeUnits/"
                             "a0000000-0000-4000-8000-00000000000a/members/microsoft.graph.user")
