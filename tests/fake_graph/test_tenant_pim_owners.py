"""Tenant-file keys for PIM and ownership: ``pim_licensed``, ``users[].eligible_roles``,
``groups[].owners`` / ``eligible_members`` / ``eligible_owners``, ``applications[].id`` /
``service_principal_id`` / ``owners`` / ``service_principal_owners``; bad values name the
line (``PATH:LINE: message``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_graph import demo
from fake_graph.directory import ROLE_TEMPLATES, Directory, derive_id, role_eligibility_id
from fake_graph.tenant import DEMO_TENANT, TenantFileError, load_tenant

HEADER = 'tenant: {id: "11111111-2222-3333-4444-555555555555", domain: "t.example"}\n'
USERS = ("users:\n"
         "  - {userPrincipalName: a@t.example, displayName: A}\n"
         "  - {userPrincipalName: b@t.example, displayName: B, id: "
         "\"0b000000-0000-4000-8000-00000000000b\"}\n")
APP = "0d3e8f60-1111-4a4a-9b9b-00000000000a"
B = "0b000000-0000-4000-8000-00000000000b"


def load(tmp_path: Path, body: str) -> Directory:
    path = tmp_path / "tenant.yaml"
    path.write_text(HEADER + body)
    return load_tenant(path)


def test_the_new_keys_load(tmp_path: Path) -> None:
    directory = load(tmp_path, "pim_licensed: false\n" + USERS.replace(
        "displayName: A}", "displayName: A, eligible_roles: [\"Global Administrator\", "
        "\"User Administrator\"]}") + (
        "groups:\n"
        "  - displayName: Admins\n"
        "    role_assignable: true\n"
        f"    owners: [a@t.example, {B}]\n"
        "    eligible_members: [b@t.example]\n"
        "    eligible_owners: [a@t.example]\n"
        "applications:\n"
        f"  - client_id: \"{APP}\"\n"
        "    owners: [b@t.example]\n"
        "    service_principal_owners: [a@t.example, b@t.example]\n"
        f"  - client_id: \"{APP[:-1]}b\"\n"
        "    id: \"0a000000-0000-4000-8000-0000000000aa\"\n"
        "    service_principal_id: \"05000000-0000-4000-8000-0000000000bb\"\n"))
    a = derive_id("user", "a@t.example")
    assert directory.pim_licensed is False
    assert [(e.principal_id, e.role_definition_id) for e in directory.role_eligibilities] == [
        (a, ROLE_TEMPLATES["Global Administrator"]), (a, ROLE_TEMPLATES["User Administrator"])]
    first = directory.role_eligibilities[0]
    assert first.id == role_eligibility_id(first.role_definition_id, a)
    assert first.directory_scope_id == "/"
    group = directory.groups[derive_id("group", "Admins")]
    assert group.owners == [a, B]
    assert [(e.access_id, e.principal_id, e.group_id) for e in directory.group_eligibilities] == [
        ("member", B, group.id), ("owner", a, group.id)]
    app = directory.applications[APP]
    assert app.object_id == derive_id("application", APP)
    assert app.service_principal_id == derive_id("servicePrincipal", APP)
    assert (app.owners, app.service_principal_owners) == ([B], [a, B])
    explicit = directory.applications[APP[:-1] + "b"]
    assert explicit.object_id == "0a000000-0000-4000-8000-0000000000aa"
    assert explicit.service_principal_id == "05000000-0000-4000-8000-0000000000bb"
    assert directory.application(explicit.object_id) is explicit


def test_defaults_and_stable_ids(tmp_path: Path) -> None:
    first = load(tmp_path, USERS)
    second = load(tmp_path, USERS)
    assert first.pim_licensed is True
    assert first.role_eligibilities == first.group_eligibilities == []
    assert first == second


def test_the_demo_tenant() -> None:
    directory = load_tenant(DEMO_TENANT)
    blake = directory.find_user("blake.sutton@contoso.example")
    noa = directory.find_user("noa.berg@contoso.example")
    river = directory.find_user("river.santos@contoso.example")
    admin = directory.find_user("morgan.admin@contoso.example")
    assert blake and noa and river and admin
    assert [(e.principal_id, e.role_definition_id) for e in directory.role_eligibilities] == [
        (blake.id, ROLE_TEMPLATES["Global Administrator"])]
    assert not directory.all_roles(blake.id)  # eligible only: no active role
    [eligibility] = directory.group_eligibilities
    assert (eligibility.principal_id, eligibility.access_id, eligibility.group_id) == (
        noa.id, "member", demo.GROUPS["Store IT support"])
    app = directory.applications[demo.CLIENT_ID]
    assert app.object_id == demo.APPLICATION_ID
    assert (app.owners, app.service_principal_owners) == ([river.id], [admin.id])
    assert directory.groups[demo.GROUPS["Store IT support"]].owners == [admin.id]
    units = {u.display_name: u.members for u in directory.administrative_units.values()}
    assert blake.id in units["Tacoma store"] and river.id in units["Seattle store"]
    assert noa.id in units["Spokane store"]
    for upn in ("blake.sutton@contoso.example", "noa.berg@contoso.example",
                "river.santos@contoso.example"):
        assert any(a.upn == upn for a in demo.ACCOUNTS)
    for app_ in directory.applications.values():
        assert {"RoleEligibilitySchedule.Read.Directory",
                "PrivilegedEligibilitySchedule.Read.AzureADGroup",
                "Application.Read.All"} <= set(app_.application_permissions)


@pytest.mark.parametrize(("body", "line", "message"), [
    ("pim_licensed: maybe\n", 2, "'pim_licensed' must be true or false"),
    ("users:\n  - userPrincipalName: a@t.example\n    displayName: A\n"
     "    eligible_roles: [\"Supreme Leader\"]\n",
     5, "unknown role name 'Supreme Leader'"),
    ("users:\n  - userPrincipalName: a@t.example\n    displayName: A\n"
     "    eligible_roles:\n      - Global Administrator\n      - Global Administrator\n",
     7, "duplicate eligible role 'Global Administrator'"),
    ("users:\n  - userPrincipalName: a@t.example\n    displayName: A\n"
     "    eligible_roless: [\"Global Administrator\"]\n",
     5, "unknown key 'eligible_roless' in a user"),
    (USERS + "groups:\n  - displayName: G\n    owners:\n      - a@t.example\n"
     "      - ghost@t.example\n",
     9, "unknown owner 'ghost@t.example' (not a user UPN or id)"),
    (USERS + "groups:\n  - displayName: G\n  - displayName: H\n    owners: [G]\n",
     8, "unknown owner 'G'"),
    (USERS + "groups:\n  - displayName: G\n    eligible_members: [a@t.example, a@t.example]\n",
     7, "duplicate eligible member 'a@t.example'"),
    (USERS + "groups:\n  - displayName: G\n    eligible_owners: [nobody]\n",
     7, "unknown eligible owner 'nobody'"),
    (USERS + "groups:\n  - displayName: G\n    eligible_admins: [a@t.example]\n",
     7, "unknown key 'eligible_admins' in a group"),
    (USERS + f"applications:\n  - client_id: \"{APP}\"\n    owners: [z@t.example]\n",
     7, "unknown owner 'z@t.example'"),
    (USERS + f"applications:\n  - client_id: \"{APP}\"\n"
     "    service_principal_owners:\n      - Admins\n",
     8, "unknown owner 'Admins'"),
    (USERS + f"applications:\n  - client_id: \"{APP}\"\n    id: \"{B}\"\n",
     7, f"duplicate object id '{B}'"),
    (USERS + f"applications:\n  - client_id: \"{APP}\"\n    id: not-a-guid\n",
     7, "'id' is not a GUID"),
    (USERS + f"applications:\n  - client_id: \"{APP}\"\n    owner: [a@t.example]\n",
     7, "unknown key 'owner' in an application"),
])
def test_bad_values_name_the_line(tmp_path: Path, body: str, line: int, message: str) -> None:
    path = tmp_path / "tenant.yaml"
    path.write_text(HEADER + body)
    with pytest.raises(TenantFileError) as raised:
        load_tenant(path)
    text = str(raised.value)
    assert text.startswith(f"{path}:{line}: "), text
    assert message in text
