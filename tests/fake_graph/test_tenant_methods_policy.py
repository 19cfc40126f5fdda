"""Tenant-file key ``authentication_methods_policy``: the Temporary Access Pass and SMS method
configurations, their defaults (Entra's: Learn, "Configure Temporary Access Pass",
https://learn.microsoft.com/entra/identity/authentication/howto-authentication-temporary-access-pass),
their targets, and bad values named by line (``PATH:LINE: message``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_graph.directory import Directory, derive_id
from fake_graph.methods_policy import ALL_USERS, MethodTarget
from fake_graph.tenant import TenantFileError, load_tenant

HEADER = ('tenant: {id: "11111111-2222-3333-4444-555555555555", domain: "t.example"}\n'
          "users:\n"
          "  - {userPrincipalName: a@t.example, displayName: A}\n"
          "  - {userPrincipalName: b@t.example, displayName: B}\n"
          "groups:\n"
          "  - {displayName: Staff, members: [a@t.example, Leads]}\n"
          "  - {displayName: Leads, members: [b@t.example]}\n"
          '  - {displayName: Kiosk, id: "0c000000-0000-4000-8000-00000000000c"}\n')
STAFF = derive_id("group", "Staff")
LEADS = derive_id("group", "Leads")
KIOSK = "0c000000-0000-4000-8000-00000000000c"


def load(tmp_path: Path, policy: str) -> Directory:
    path = tmp_path / "tenant.yaml"
    path.write_text(HEADER + policy)
    return load_tenant(path)


def test_defaults_without_the_key(tmp_path: Path) -> None:
    directory = load(tmp_path, "")
    tap = directory.methods_policy.temporary_access_pass
    assert (tap.state, tap.minimum_lifetime, tap.default_lifetime, tap.maximum_lifetime,
            tap.is_usable_once, tap.length) == ("enabled", 60, 60, 480, False, 8)
    assert tap.include == [MethodTarget(ALL_USERS)] and tap.exclude == []
    sms = directory.methods_policy.sms
    assert (sms.state, sms.include, sms.exclude) == (
        "enabled", [MethodTarget(ALL_USERS, usable_for_sign_in=True)], [])
    a = derive_id("user", "a@t.example")
    assert directory.tap_allowed(a) and directory.sms_sign_in_allowed(a)


def test_every_key_loads(tmp_path: Path) -> None:
    directory = load(tmp_path, (
        "authentication_methods_policy:\n"
        "  temporary_access_pass:\n"
        "    state: enabled\n"
        "    default_lifetime_minutes: 120\n"
        "    minimum_lifetime_minutes: 10\n"
        "    maximum_lifetime_minutes: 43200\n"
        "    is_usable_once: true\n"
        "    length: 12\n"
        f"    include_groups: [Staff, \"{KIOSK}\"]\n"
        "    exclude_groups: [leads]\n"
        "  sms:\n"
        "    state: disabled\n"
        "    include_groups: [all_users, {group: Kiosk, is_usable_for_sign_in: false}]\n"
        "    exclude_groups: [Staff]\n"))
    tap = directory.methods_policy.temporary_access_pass
    assert (tap.minimum_lifetime, tap.default_lifetime, tap.maximum_lifetime,
            tap.is_usable_once, tap.length) == (10, 120, 43200, True, 12)
    assert tap.include == [MethodTarget(STAFF), MethodTarget(KIOSK)]
    assert tap.exclude == [LEADS]  # group names are case-insensitive, as elsewhere
    sms = directory.methods_policy.sms
    assert sms.state == "disabled"
    assert sms.include == [MethodTarget(ALL_USERS), MethodTarget(KIOSK, False)]
    assert sms.exclude == [STAFF]


def test_targets_reach_nested_members_and_exclusion_wins(tmp_path: Path) -> None:
    directory = load(tmp_path, (
        "authentication_methods_policy:\n"
        "  temporary_access_pass: {include_groups: [Staff], exclude_groups: [Leads]}\n"
        "  sms: {include_groups: [{group: Staff, is_usable_for_sign_in: false}, Leads]}\n"))
    a, b = derive_id("user", "a@t.example"), derive_id("user", "b@t.example")
    assert directory.tap_allowed(a)
    assert not directory.tap_allowed(b)  # in Staff through Leads, but Leads is excluded
    assert not directory.sms_sign_in_allowed(a)  # only a target not usable for sign-in
    assert directory.sms_sign_in_allowed(b)  # one usable target suffices


@pytest.mark.parametrize(("policy", "line", "message"), [
    ("authentication_methods_policy: [x]\n", 9, "must be a mapping"),
    ("authentication_methods_policy:\n  voice: {}\n", 10, "unknown key 'voice'"),
    ("authentication_methods_policy:\n  sms: {state: on}\n", 10,
     "'state' must be enabled or disabled"),
    ("authentication_methods_policy:\n  temporary_access_pass:\n    length: 7\n", 11,
     "'length' must be an integer from 8 to 48"),
    ("authentication_methods_policy:\n  temporary_access_pass:\n"
     "    maximum_lifetime_minutes: 50000\n", 11,
     "'maximum_lifetime_minutes' must be an integer from 10 to 43200"),
    ("authentication_methods_policy:\n  temporary_access_pass:\n"
     "    default_lifetime_minutes: \"60\"\n", 11, "'default_lifetime_minutes' must be an"),
    ("authentication_methods_policy:\n  temporary_access_pass:\n"
     "    minimum_lifetime_minutes: 120\n    maximum_lifetime_minutes: 100\n", 11,
     "minimum_lifetime_minutes (120) is more than maximum_lifetime_minutes (100)"),
    ("authentication_methods_policy:\n  temporary_access_pass:\n"
     "    default_lifetime_minutes: 500\n", 11,
     "default_lifetime_minutes (500) must be between"),
    ("authentication_methods_policy:\n  temporary_access_pass:\n    is_usable_once: 1\n", 11,
     "'is_usable_once' must be true or false"),
    ("authentication_methods_policy:\n  temporary_access_pass:\n"
     "    include_groups: [Staff, Nobody]\n", 11, "unknown group 'Nobody'"),
    ("authentication_methods_policy:\n  temporary_access_pass:\n"
     "    include_groups: [Staff, staff]\n", 11, "duplicate include_groups entry 'staff'"),
    ("authentication_methods_policy:\n  temporary_access_pass:\n"
     "    include_groups: [{group: Staff}]\n", 11, "'include_groups' items must be"),
    ("authentication_methods_policy:\n  temporary_access_pass:\n"
     "    exclude_groups: [all_users]\n", 11, "all_users cannot be excluded"),
    ("authentication_methods_policy:\n  sms:\n"
     "    include_groups:\n      - {group: Staff, usable: false}\n", 12, "unknown key 'usable'"),
    ("authentication_methods_policy:\n  sms:\n"
     "    include_groups:\n      - {group: Staff, is_usable_for_sign_in: 0}\n", 12,
     "'is_usable_for_sign_in' must be true or false"),
])
def test_bad_values_name_the_line(tmp_path: Path, policy: str, line: int,
                                  message: str) -> None:
    with pytest.raises(TenantFileError) as caught:
        load(tmp_path, policy)
    assert str(caught.value).startswith(f"{tmp_path / 'tenant.yaml'}:{line}: ")
    assert message in str(caught.value)
