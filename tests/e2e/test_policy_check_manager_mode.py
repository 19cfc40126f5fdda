"""``policy check --online`` with ``[graph] identity = "manager"``: which grants an active Entra
role of the manager backs, and whether the app itself still holds write power
(docs/manager-mode.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from e2e_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    NORTH,
    SOUTH,
    cli_config,
    client_ssl,
    running_stack,
    uid,
)

from fake_graph.directory import ROLE_TEMPLATES, Group, RoleEligibility, derive_id
from fake_graph.embedded import RunningFake
from mystaff_proxy.cli import main
from mystaff_proxy.config import load_config
from mystaff_proxy.graph.client import GraphClient
from mystaff_proxy.graph.credentials import AppToken, build_credential
from mystaff_proxy.graph.operations import GraphOperations
from mystaff_proxy.staff.manager_mode import warn_app_write_power

MANAGER = "mgr.upn@e2e.example"  # north: reset_password and manage_phone in these policies
NORTH_SCOPE = f"/administrativeUnits/{NORTH}"
REFUSED = "so Graph will refuse the change"


@pytest.fixture(autouse=True)
def _fresh(e2e_fake: RunningFake) -> Iterator[None]:
    e2e_fake.fake.reset()
    yield
    e2e_fake.fake.reset()


def _config(fake: RunningFake, tmp: Path, identity: str = "manager") -> Path:
    return cli_config(fake, tmp, f'[graph]\nidentity = "{identity}"\n')


def _policy(tmp: Path, assignments: str) -> Path:
    path = tmp / "policy.yaml"
    path.write_text(f"""version: 1
locations:
  north: {{administrative_unit: "{NORTH}"}}
  south: {{administrative_unit: "{SOUTH}"}}
assignments:
{assignments}""")
    return path


ONE_MANAGER = f"""  - managers: ["{MANAGER}"]
    locations: [north]
    allow: [reset_password, manage_phone]
"""


def _give(fake: RunningFake, principal: str, role: str, scope: str = NORTH_SCOPE) -> None:
    fake.fake.directory.assign_role(principal, role, scope)


def _check(policy: Path, config: Path,
           capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["policy", "check", str(policy), "--config", str(config), "--online"])
    return code, capsys.readouterr().out.splitlines()


def _refused(lines: list[str]) -> list[str]:
    return [line for line in lines if REFUSED in line]


def test_authentication_administrator_for_the_unit_backs_everything(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _give(e2e_fake, uid(MANAGER), "Authentication Administrator")
    code, out = _check(_policy(tmp_path, ONE_MANAGER), _config(e2e_fake, tmp_path), capsys)
    assert code == 0, out
    assert not _refused(out) and not [line for line in out if "note:" in line], out


def test_a_role_for_another_unit_backs_nothing_here(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _give(e2e_fake, uid(MANAGER), "Authentication Administrator",
          f"/administrativeUnits/{SOUTH}")
    code, out = _check(_policy(tmp_path, ONE_MANAGER), _config(e2e_fake, tmp_path), capsys)
    assert code == 1 and len(_refused(out)) == 2, out


def test_helpdesk_only_backs_the_reset_unconfirmed_and_not_the_phones(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _give(e2e_fake, uid(MANAGER), "Helpdesk Administrator")
    policy = _policy(tmp_path, ONE_MANAGER)
    code, out = _check(policy, _config(e2e_fake, tmp_path), capsys)
    assert code == 1, out
    assert _refused(out) == [
        f"{policy}:6: '{MANAGER}' may manage phone numbers at location 'north', but holds no "
        f"active Entra role for its administrative unit ({NORTH}) that allows it, {REFUSED}: "
        "assign Authentication or Privileged Authentication Administrator scoped to that "
        "unit (or tenant-wide)"]
    assert f"{policy}:6: note: '{MANAGER}' may reset passwords at location 'north' through " \
           "Helpdesk Administrator, which may not read a reset's progress: Graph accepts the " \
           "reset but the proxy cannot confirm it, and shows the password as \"accepted, not " \
           "confirmed\" (Authentication Administrator for that unit would confirm it)" in out


def test_a_tenant_wide_role_counts_for_every_unit(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _give(e2e_fake, uid(MANAGER), "Privileged Authentication Administrator", "/")
    assignments = ONE_MANAGER.replace("[north]", "[north, south]")
    code, out = _check(_policy(tmp_path, assignments), _config(e2e_fake, tmp_path), capsys)
    assert code == 0 and not _refused(out), out


def test_no_role_leaves_both_actions_unbacked(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # by object id this time: the line names the account's UPN and its id
    oid = uid("mgr.oid@e2e.example")
    assignments = f"""  - managers: ["{oid}"]
    locations: [north]
    allow: [reset_password, manage_phone]
"""
    code, out = _check(_policy(tmp_path, assignments), _config(e2e_fake, tmp_path), capsys)
    refused = _refused(out)
    assert code == 1 and len(refused) == 2, out
    assert all(f":6: 'mgr.oid@e2e.example' ({oid}) may " in line for line in refused)
    phones, resets = refused  # actions in name order
    assert "may reset passwords" in resets and "assign Helpdesk, Password, User, " \
        "Authentication or Privileged Authentication Administrator" in resets
    assert "may manage phone numbers" in phones


def test_an_eligible_role_backs_nothing(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = ROLE_TEMPLATES["Authentication Administrator"]
    e2e_fake.fake.directory.role_eligibilities.append(RoleEligibility(
        id="test-eligible", principal_id=uid(MANAGER), role_definition_id=template,
        directory_scope_id=NORTH_SCOPE, schedule_id="test-schedule",
        start="2025-01-06T08:00:00Z"))
    code, out = _check(_policy(tmp_path, ONE_MANAGER), _config(e2e_fake, tmp_path), capsys)
    refused = _refused(out)
    assert code == 1 and len(refused) == 2, out
    assert all("(Authentication Administrator only eligible through PIM: an eligible role "
               "backs nothing until it is activated)" in line for line in refused), out


def test_a_role_of_a_role_assignable_group_backs_its_assignment(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = e2e_fake.fake.directory
    group = derive_id("group", "North phone admins")
    directory.groups[group] = Group(id=group, display_name="North phone admins",
                                    role_assignable=True, members=[uid("staff2@e2e.example")])
    _give(e2e_fake, group, "Authentication Administrator")
    assignments = f"""  - manager_groups: ["{group}"]
    locations: [north]
    allow: [reset_password, manage_phone]
  - managers: ["staff2@e2e.example"]      # its member: the group's role is theirs too
    locations: [north]
    allow: [manage_phone]
"""
    code, out = _check(_policy(tmp_path, assignments), _config(e2e_fake, tmp_path), capsys)
    assert code == 0 and not _refused(out), out


def test_members_of_a_group_without_roles_are_checked_one_by_one(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Store leads > Shift leads > Greta: a nested group cannot hold roles; Greta's own can
    store_leads = derive_id("group", "Store leads")
    assignments = f"""  - manager_groups: ["{store_leads}"]
    locations: [north]
    allow: [reset_password, manage_phone]
"""
    code, out = _check(_policy(tmp_path, assignments), _config(e2e_fake, tmp_path), capsys)
    refused = _refused(out)
    assert code == 1 and len(refused) == 2, out
    assert all(f":6: 'mgr.group@e2e.example' (through manager group {store_leads}) may "
               in line for line in refused), out
    _give(e2e_fake, uid("mgr.group@e2e.example"), "Authentication Administrator")
    code, out = _check(_policy(tmp_path, assignments), _config(e2e_fake, tmp_path), capsys)
    assert code == 0 and not _refused(out), out


def test_the_app_holding_write_permissions_and_roles_is_warned_about(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _give(e2e_fake, uid(MANAGER), "Authentication Administrator")
    policy = _policy(tmp_path, ONE_MANAGER)
    code, out = _check(policy, _config(e2e_fake, tmp_path), capsys)
    assert code == 0, out  # a warning, not a problem
    assert f"{policy}: warning: manager mode, but the app itself still holds application " \
           "permissions User-PasswordProfile.ReadWrite.All, " \
           "UserAuthenticationMethod.ReadWrite.All and directory roles Authentication " \
           "Administrator, User Administrator: then a stolen app credential could still " \
           "change what a manager may not. Remove them (manager mode needs read permissions " \
           "only; see docs/manager-mode.md)" in out


def _read_only_app(fake: RunningFake) -> None:
    directory = fake.fake.directory
    app = directory.applications[CLIENT_ID]
    app.application_permissions = [
        "UserAuthenticationMethod.Read.All" if p == "UserAuthenticationMethod.ReadWrite.All"
        else p for p in app.application_permissions if p != "User-PasswordProfile.ReadWrite.All"]
    directory.unassign_roles(app.service_principal_id)


def test_an_app_with_read_permissions_only_is_not_warned_about(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _give(e2e_fake, uid(MANAGER), "Authentication Administrator")
    _read_only_app(e2e_fake)
    code, out = _check(_policy(tmp_path, ONE_MANAGER), _config(e2e_fake, tmp_path), capsys)
    assert code == 0 and not [line for line in out if "warning" in line], out


def test_a_write_role_alone_is_warned_about(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _give(e2e_fake, uid(MANAGER), "Authentication Administrator")
    _read_only_app(e2e_fake)
    app = e2e_fake.fake.directory.applications[CLIENT_ID]
    _give(e2e_fake, app.service_principal_id, "Helpdesk Administrator")  # AU-scoped counts
    code, out = _check(_policy(tmp_path, ONE_MANAGER), _config(e2e_fake, tmp_path), capsys)
    assert code == 0, out
    assert any("warning: manager mode, but the app itself still holds directory roles "
               "Helpdesk Administrator: then" in line for line in out), out


def test_app_mode_checks_no_roles(e2e_fake: RunningFake, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _check(_policy(tmp_path, ONE_MANAGER), _config(e2e_fake, tmp_path, "app"),
                       capsys)
    assert code == 0 and not _refused(out) and not [line for line in out if "warning" in line]


async def _start_up_warning(fake: RunningFake, tmp: Path, identity: str) -> str | None:
    settings = load_config(str(_config(fake, tmp, identity)))
    token = AppToken(build_credential(
        tenant_id=settings.tenant.id, client_id=settings.app.client_id,
        authority_host=settings.tenant.authority_host, client_secret=CLIENT_SECRET,
        ca_file=settings.tenant.ca_file))
    connector = aiohttp.TCPConnector(ssl=client_ssl(settings.tenant.ca_file))
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            ops = GraphOperations(GraphClient(settings.tenant.graph_url, http, token))
            return await warn_app_write_power(settings, ops, token)
    finally:
        await token.close()


async def test_start_up_warns_in_manager_mode_only(
        e2e_fake: RunningFake, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert await _start_up_warning(e2e_fake, tmp_path, "app") is None
    message = await _start_up_warning(e2e_fake, tmp_path, "manager")
    assert message is not None and "a stolen app credential could still change" in message
    assert message in caplog.text
    _read_only_app(e2e_fake)
    assert await _start_up_warning(e2e_fake, tmp_path, "manager") is None


async def test_the_proxy_warns_at_start_up(e2e_fake: RunningFake, tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    async with running_stack(e2e_fake, tmp_path, graph={"identity": "manager"}):
        pass
    assert "a stolen app credential could still change what a manager may not" in caplog.text
