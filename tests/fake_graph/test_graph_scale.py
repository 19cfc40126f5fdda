"""Scale: a unit of 100,000 members is served page by page without scanning per request."""

from __future__ import annotations

import time

from graph_support import TENANT, app_token, uid

from fake_graph.directory import AdministrativeUnit, User
from fake_graph.graph.dispatch import dispatch
from fake_graph.state import FakeGraph

MEMBERS = 100_000


def big_fake() -> tuple[FakeGraph, str]:
    fake = FakeGraph.from_file(TENANT)
    unit = AdministrativeUnit(id="5c1d3d7e-0000-4000-8000-000000100000", display_name="Huge")
    for n in range(MEMBERS):
        upn = f"u{n:06d}@contoso.test"
        user = User(id=uid(upn), user_principal_name=upn, display_name=f"User {n:06d}",
                    password="x")
        fake.directory.add_user(user)
        unit.members.append(user.id)
    fake.directory.administrative_units[unit.id] = unit
    return fake, unit.id


async def test_pages_and_membership_checks_of_a_huge_unit_are_fast() -> None:
    fake, unit = big_fake()
    headers = {"Authorization": f"Bearer {app_token(fake)}", "ConsistencyLevel": "eventual"}
    path = f"/directory/administrativeUnits/{unit}/members/microsoft.graph.user"
    first = await dispatch(fake, "GET", path, "$count=true&$top=999", headers)
    assert first.body["@odata.count"] == MEMBERS
    link = first.body["@odata.nextLink"]
    query = link.split("?", 1)[1]
    started = time.perf_counter()
    for _ in range(20):
        page = await dispatch(fake, "GET", path, query, headers)
        assert page.status == 200 and len(page.body["value"]) == 999
    assert (time.perf_counter() - started) / 20 < 0.05  # O(page), not O(members)

    last_member = fake.directory.administrative_units[unit].members[-1]
    started = time.perf_counter()
    for _ in range(200):
        hit = await dispatch(fake, "GET", f"/directory/administrativeUnits/{unit}/members/"
                                          f"{last_member}", "", headers)
        assert hit.status == 200
    assert (time.perf_counter() - started) / 200 < 0.005  # a set lookup, not a list scan
