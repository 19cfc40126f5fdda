"""``mystaff-proxy demo --identity manager``: the demo's managers hold the AU-scoped roles My
Staff would need, the app only reads, a reset goes to Graph as the manager — and all of it
again after ``POST /_fake/reset``. The tenant file is untouched, so app mode stays as it was.
"""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import Manager, client_ssl

from fake_graph import demo as demo_tenant
from fake_graph.directory import ROLE_TEMPLATES
from fake_graph.tenant import load_tenant
from mystaff_proxy.demo import banner_lines, running_demo

AUTH = ROLE_TEMPLATES["Authentication Administrator"]
HELPDESK = ROLE_TEMPLATES["Helpdesk Administrator"]
UNITS = demo_tenant.UNITS
# (manager, role, location) from the demo policy, mystaff_proxy/demo_files/demo.yaml:
# manage_phone -> Authentication Administrator, reset_password only -> Helpdesk Administrator.
EXPECTED_ROLES = {
    ("sam.rivera@contoso.example", AUTH, "seattle"),
    ("sam.rivera@contoso.example", AUTH, "tacoma"),
    ("dana.whitfield@contoso.example", AUTH, "tacoma"),
    ("priya.natarajan@contoso.example", AUTH, "portland"),
    ("robin.okafor@contoso.example", AUTH, "spokane"),
    ("alex.kim@contoso.example", HELPDESK, "seattle"),
    ("jordan.blake@contoso.example", HELPDESK, "seattle"),
}
WRITES = {"User-PasswordProfile.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"}
MORGAN_DIAZ = "morgan.diaz@contoso.example"  # a Seattle cashier


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    async with running_demo(workdir=tmp_path, identity="manager") as (url, fake, _):
        yield url, fake


def manager_roles(fake: Any) -> set[tuple[str, str, str]]:
    directory = fake.fake.directory
    by_unit = {f"/administrativeUnits/{unit}": key for key, unit in UNITS.items()}
    return {(directory.users[a.principal_id].user_principal_name, a.role_definition_id,
             by_unit[a.directory_scope_id])
            for a in directory.role_assignments if a.directory_scope_id in by_unit
            and a.principal_id in directory.users}


def check_manager_mode(fake: Any) -> None:
    directory = fake.fake.directory
    assert manager_roles(fake) >= EXPECTED_ROLES
    app = directory.applications[demo_tenant.CLIENT_ID]
    assert not WRITES & set(app.application_permissions)
    assert "UserAuthenticationMethod.Read.All" in app.application_permissions
    assert not directory.assignments_of(app.service_principal_id)


async def test_manager_mode_tenant_and_reset_as_the_manager(demo: tuple[str, Any]) -> None:
    url, fake = demo
    check_manager_mode(fake)
    # The tenant file itself gives no manager a role (app mode unchanged).
    on_file = load_tenant(fake.fake.tenant_path)
    manager_ids = {on_file.find_user(upn).id for upn, _, _ in EXPECTED_ROLES}  # type: ignore[union-attr]
    assert not [a for a in on_file.role_assignments if a.principal_id in manager_ids]

    connector = aiohttp.TCPConnector(ssl=client_ssl(fake.ca_file))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     connector=connector) as http:
        async with http.get(url + "/readyz") as resp:
            assert resp.status == 200, await resp.text()
        async with http.post(fake.url + "/_fake/reset") as resp:
            assert resp.status == 204
        check_manager_mode(fake)

        sam = Manager(http, url)
        await sam.sign_in(demo_tenant.MANAGER.upn, demo_tenant.MANAGER.password)
        seq = fake.fake.recorder.last_seq
        target = fake.fake.directory.find_user(MORGAN_DIAZ)
        status, body, _ = await sam.call(
            "POST", f"/api/v1/locations/seattle/staff/{target.id}/password", {})
        assert status == 200, body
        assert target.password == body["temporaryPassword"]
        assert body.get("confirmed", True) is True
        # Sent as Sam, through resetPassword: the app could not have done it any more.
        sent = [r for r in fake.fake.recorder.since(seq)[0]
                if r.method == "POST" and r.path.endswith("/resetPassword")]
        assert [r.status for r in sent] == [202]

        # Alex (Helpdesk Administrator over Seattle): Entra accepts, but Alex may not read
        # the reset's operation, so the password comes back "accepted, not confirmed".
        alex = Manager(http, url)
        await alex.sign_in("alex.kim@contoso.example", "Demo-Lead-1!")
        taylor = fake.fake.directory.find_user("taylor.brooks@contoso.example")
        status, body, _ = await alex.call(
            "POST", f"/api/v1/locations/seattle/staff/{taylor.id}/password", {})
        assert status == 200, body
        assert body["confirmed"] is False
        assert taylor.password == body["temporaryPassword"]


def test_banner_names_the_mode(tmp_path: Path) -> None:
    manager = "\n".join(banner_lines("http://127.0.0.1:8080", "https://127.0.0.1:1", tmp_path,
                                     "manager"))
    app = "\n".join(banner_lines("http://127.0.0.1:8080", "https://127.0.0.1:1", tmp_path))
    assert "Graph identity: manager mode" in manager
    assert "Graph identity: app mode" in app


async def test_unknown_identity_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="identity must be one of app, manager"):
        async with running_demo(workdir=tmp_path, identity="robot"):
            pass


async def test_a_seattle_only_role_resets_in_seattle_and_graph_refuses_tacoma(
        demo: tuple[str, Any], tmp_path: Path) -> None:
    """The policy grants Sam Seattle and Tacoma; IT gave Sam Authentication Administrator over
    Seattle only. Both guards must say yes: Seattle works, Entra refuses Tacoma, nothing is
    changed there, and the refusal is audited ``graph_denied``."""
    url, fake = demo
    directory = fake.fake.directory
    sam_id = directory.find_user(demo_tenant.MANAGER.upn).id
    directory.unassign_roles(sam_id)
    directory.assign_role(sam_id, "Authentication Administrator",
                          f"/administrativeUnits/{UNITS['seattle']}")
    connector = aiohttp.TCPConnector(ssl=client_ssl(fake.ca_file))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     connector=connector) as http:
        sam = Manager(http, url)
        await sam.sign_in(demo_tenant.MANAGER.upn, demo_tenant.MANAGER.password)
        seattle = directory.find_user(MORGAN_DIAZ)
        status, body, _ = await sam.call(
            "POST", f"/api/v1/locations/seattle/staff/{seattle.id}/password", {})
        assert status == 200, body
        assert seattle.password == body["temporaryPassword"]
        tacoma = next(u for u in directory.users.values()
                      if u.id in directory.administrative_units[UNITS["tacoma"]].members
                      and u.user_principal_name.startswith("casey.morales"))
        before = (tacoma.password, tacoma.force_change_password_next_sign_in)
        status, body, _ = await sam.call(
            "POST", f"/api/v1/locations/tacoma/staff/{tacoma.id}/password", {})
        assert (status, body["error"]["code"]) == (403, "forbidden"), body
        assert "Microsoft Entra refused" in body["error"]["message"]
        assert (tacoma.password, tacoma.force_change_password_next_sign_in) == before
    last = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert (last["event"], last["outcome"], last["reason"], last["location"]) == (
        "password_reset", "denied", "graph_denied", "tacoma")


async def test_the_page_resets_as_the_manager(demo: tuple[str, Any]) -> None:
    """The demo's page in manager mode: Sam's form post goes to Graph as Sam; Alex's page says
    the reset was accepted but cannot be confirmed."""
    from e2e_support import parse_forms

    url, fake = demo
    connector = aiohttp.TCPConnector(ssl=client_ssl(fake.ca_file))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     connector=connector) as http:
        for upn, password, target_upn, words in (
                (demo_tenant.MANAGER.upn, demo_tenant.MANAGER.password, MORGAN_DIAZ,
                 "was reset"),
                ("alex.kim@contoso.example", "Demo-Lead-1!", "taylor.brooks@contoso.example",
                 "your role cannot confirm that it finished")):
            http.cookie_jar.clear()
            manager = Manager(http, url)
            await manager.sign_in(upn, password)
            target = fake.fake.directory.find_user(target_upn)
            page = f"{url}/locations/seattle/staff/{target.id}/password"
            async with http.get(page) as resp:
                fields = next(f for a, f in parse_forms(await resp.text())
                              if a.endswith("/password"))
            seq = fake.fake.recorder.last_seq
            async with http.post(page, data=fields) as resp:
                text = await resp.text()
                assert resp.status == 200, text
            assert words in text
            assert html.escape(target.password) in text  # the temporary password, once
            assert [r.status for r in fake.fake.recorder.since(seq)[0]
                    if r.path.endswith("/resetPassword")] == [202]
