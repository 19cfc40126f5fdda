"""``mystaff-proxy policy check --online`` against the fake: names, PIM, owners, renames."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from e2e_support import CLIENT_ID, POLICY_TEMPLATE, cli_config, render_policy, uid

from fake_graph.embedded import RunningFake
from fake_graph.faults import Fault
from mystaff_proxy.cli import main

CEO = "ceo@e2e.example"


def _config(fake: RunningFake, tmp: Path) -> Path:
    return cli_config(fake, tmp)


def _check(policy: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["policy", "check", str(policy), "--config", str(config), "--online"])
    return code, capsys.readouterr().out


def test_a_good_policy_reports_pim_and_owners(e2e_fake: RunningFake, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    e2e_fake.fake.reset()
    policy = render_policy(POLICY_TEMPLATE, tmp_path / "policy.yaml")
    code, out = _check(policy, _config(e2e_fake, tmp_path), capsys)
    assert code == 0, out
    assert "PIM: licensed" in out
    assert "owners of applications, service principals and role-assignable groups" in out
    e2e_fake.fake.directory.pim_licensed = False
    try:
        code, out = _check(policy, _config(e2e_fake, tmp_path), capsys)
    finally:
        e2e_fake.fake.directory.pim_licensed = True
    assert code == 0 and "PIM: not licensed in this tenant" in out


def test_a_renamed_protected_user_is_named_with_the_id_still_protected(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    e2e_fake.fake.reset()
    policy = render_policy(POLICY_TEMPLATE, tmp_path / "policy.yaml")
    # what the proxy remembered while the UPN resolved (its file beside the audit log)
    (tmp_path / "protected-ids.json").write_text(
        json.dumps({"protectedUsers": {CEO: [uid(CEO)]}}))
    directory = e2e_fake.fake.directory
    user = directory.find_user(CEO)
    del directory._upn_index[CEO]
    user.user_principal_name = "cleo.c@e2e.example"
    directory._upn_index["cleo.c@e2e.example"] = user.id
    try:
        code, out = _check(policy, _config(e2e_fake, tmp_path), capsys)
    finally:
        e2e_fake.fake.reset()
    assert code == 1
    assert f"protected user '{CEO}' no longer resolves (renamed?); the proxy still protects " \
           f"the object id it had: {uid(CEO)} (now 'cleo.c@e2e.example')" in out


def test_missing_permissions_are_reported(e2e_fake: RunningFake, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    policy = render_policy(POLICY_TEMPLATE, tmp_path / "policy.yaml")
    for removed in ({"RoleEligibilitySchedule.Read.Directory", "RoleManagement.Read.Directory"},
                    {"PrivilegedEligibilitySchedule.Read.AzureADGroup"}):
        e2e_fake.fake.reset()
        app = e2e_fake.fake.directory.applications[CLIENT_ID]
        app.application_permissions = [p for p in app.application_permissions
                                       if p not in removed]
        try:
            code, out = _check(policy, _config(e2e_fake, tmp_path), capsys)
        finally:
            e2e_fake.fake.reset()
        assert code == 1 and "cannot read PIM eligibility (403" in out, (removed, out)


def test_an_unreadable_owner_set_is_reported(e2e_fake: RunningFake, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    e2e_fake.fake.reset()
    policy = render_policy(POLICY_TEMPLATE, tmp_path / "policy.yaml")
    e2e_fake.fake.faults.add(Fault(path=re.compile(r"^/v1\.0/servicePrincipals"), status=403))
    try:
        code, out = _check(policy, _config(e2e_fake, tmp_path), capsys)
    finally:
        e2e_fake.fake.faults.clear()
    assert code == 1 and "cannot read the owners of applications and role-assignable groups " \
                         "(403" in out, out


def test_the_tenants_temporary_access_pass_state_is_reported(
        e2e_fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    e2e_fake.fake.reset()
    text = POLICY_TEMPLATE.read_text().replace(
        "    allow: [reset_password, manage_phone]\n",
        "    allow: [reset_password, manage_phone, issue_temporary_access_pass]\n", 1)
    template = tmp_path / "template.yaml"
    template.write_text(text)
    policy = render_policy(template, tmp_path / "policy.yaml")
    code, out = _check(policy, _config(e2e_fake, tmp_path), capsys)
    assert code == 0 and "Temporary Access Pass is on: 60 to 480 minutes" in out, out
    e2e_fake.fake.directory.methods_policy.temporary_access_pass.state = "disabled"
    try:
        code, out = _check(policy, _config(e2e_fake, tmp_path), capsys)
    finally:
        e2e_fake.fake.reset()
    assert code == 0 and "Temporary Access Pass is turned off in this tenant" in out, out
