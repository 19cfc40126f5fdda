from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from mystaff_proxy.policy.model import (
    Action,
    Limits,
    ManagerProtection,
    PassRules,
    PasswordRules,
    PhoneRules,
    PolicyError,
    Protected,
    is_location_key,
    policy_names,
    policy_user_ids,
)
from mystaff_proxy.policy.parse import load_policy, parse_policy
from mystaff_proxy.policy.passwords import PasswordStyle
from mystaff_proxy.policy.resolve import resolve

ROOT = Path(__file__).resolve().parents[3]
AU1 = "5b0c6e61-0000-4000-8000-000000000001"
AU2 = "5b0c6e61-0000-4000-8000-000000000002"
G1 = "2f41aaaa-0000-4000-8000-000000000001"
G2 = "2f41aaaa-0000-4000-8000-000000000002"
OID = "9c1e0000-0000-4000-8000-000000000001"

GOOD = f"""\
version: 1
locations:
  seattle:
    administrative_unit: "{AU1}"
    name: Seattle store
  tacoma-2:
    administrative_unit: "{AU2.upper()}"
assignments:
  - managers: [Alice@Contoso.com, "{OID}"]
    manager_groups: ["{G1}"]
    locations: [seattle, tacoma-2]
    allow: [reset_password, manage_phone]
  - manager_groups: ["{G2}"]
    locations: [seattle]
    allow: [reset_password]
  - managers: [carol@contoso.com]
    locations: [tacoma-2]
    allow: []
protected:
  admins: false
  users: [ceo@contoso.com, "{OID}"]
  groups: ["{G2}"]
password:
  style: random
  length: 20
  allow_manager_entered: true
limits:
  password_resets_per_manager_per_hour: 5
  phone_changes_per_manager_per_hour: 6
"""


def test_good_policy_is_typed_and_normalized() -> None:
    p = parse_policy(GOOD, "good.yaml")
    assert p.locations["tacoma-2"].administrative_unit == AU2  # lower-cased
    assert p.locations["seattle"].name == "Seattle store"
    assert p.locations["tacoma-2"].name is None
    first = p.assignments[0]
    assert first.managers == ("alice@contoso.com", OID)
    assert first.allow == frozenset({Action.RESET_PASSWORD, Action.MANAGE_PHONE})
    assert p.assignments[2].allow == frozenset()
    assert p.protected == Protected(False, ("ceo@contoso.com", OID), (G2,))
    assert p.password == PasswordRules(20, True, PasswordStyle.RANDOM)
    assert p.limits == Limits(5, 6)


def test_defaults() -> None:
    p = parse_policy("version: 1\n", "min.yaml")
    assert p.locations == {} and p.assignments == ()
    assert p.protected == Protected(True, (), ())
    assert p.password == PasswordRules(16, False)
    assert p.password.style is PasswordStyle.WORDS  # readable passwords unless IT says not
    assert p.limits == Limits(30, 60)


def test_example_policy_loads() -> None:
    p = load_policy(ROOT / "policies" / "example.yaml")
    assert set(p.locations) == {"seattle", "tacoma", "portland"}
    assert p.protected.admins is True
    assert p.phones.allowed_regions == {"US", "CA"} and p.phones.refuse_manager_numbers


BAD = [
    ("version: 2\n", ["P:1: version: must be 1, not 2"]),
    ("locations: {}\n", ["P:1: missing key 'version' (write 'version: 1')"]),
    ("- 1\n", ["P:1: the policy must be a mapping that starts with 'version: 1'"]),
    ("version: 1\nversion: 1\n", ["P:2: duplicate key 'version'"]),
    ("version: 1\nextra: 1\n",
     ["P:2: unknown key 'extra' (expected one of: version, locations, assignments, protected, "
      "password, limits, phones, temporary_access_pass, reauthenticate_after_minutes)"]),
    ("version: 1\nlocations: [a]\n", ["P:2: locations: must be a mapping"]),
    (f"version: 1\nlocations:\n  seattle:\n    administrative_unit: '{AU1}'\n"
     f"  seattle:\n    administrative_unit: '{AU2}'\n", ["P:5: duplicate key 'seattle'"]),
    (f"version: 1\nlocations:\n  'sea ttle':\n    administrative_unit: '{AU1}'\n",
     ["P:3: locations: 'sea ttle' is not a valid location key (letters, digits, '_' and '-', "
      "starting with a letter or digit, at most 64 characters)"]),
    ("version: 1\nlocations:\n  seattle:\n    administrative_unit: nope\n",
     ["P:4: locations.seattle.administrative_unit: 'nope' is not an administrative unit "
      "object id (GUID)"]),
    ("version: 1\nlocations:\n  seattle:\n    name: x\n",
     ["P:3: locations.seattle: missing key 'administrative_unit'"]),
    (f"version: 1\nlocations:\n  seattle:\n    administrative_unit: '{AU1}'\n    colour: red\n",
     ["P:5: locations.seattle: unknown key 'colour' (expected one of: administrative_unit, "
      "name)"]),
    ("version: 1\nassignments: {}\n", ["P:2: assignments: must be a list"]),
    (f"version: 1\nlocations:\n  s:\n    administrative_unit: '{AU1}'\nassignments:\n"
     "  - locations: [s]\n    allow: []\n",
     ["P:6: assignments[0]: needs managers, manager_groups or both"]),
    (f"version: 1\nlocations:\n  s:\n    administrative_unit: '{AU1}'\nassignments:\n"
     "  - managers: [a@b.c]\n    locations: []\n",
     ["P:7: assignments[0].locations: must not be empty"]),
    ("version: 1\nassignments:\n  - managers: [a@b.c]\n",
     ["P:3: assignments[0]: missing key 'locations'"]),
    (f"version: 1\nlocations:\n  s:\n    administrative_unit: '{AU1}'\nassignments:\n"
     "  - managers: [a@b.c]\n    locations: [s, S]\n",
     ["P:7: assignments[0].locations: undefined location 'S'"]),
    (f"version: 1\nlocations:\n  s:\n    administrative_unit: '{AU1}'\nassignments:\n"
     "  - managers: [a@b.c]\n    locations: [s]\n    allow: [reset_password, delete_user]\n",
     ["P:8: assignments[0].allow[1]: unknown action 'delete_user' (expected one of: "
      "reset_password, manage_phone, issue_temporary_access_pass, manage_sms_sign_in)"]),
    (f"version: 1\nlocations:\n  s:\n    administrative_unit: '{AU1}'\nassignments:\n"
     "  - managers:\n      - a@b.c\n      - bob\n      - a@b@c\n      - '@b.c'\n"
     "    locations: [s]\n",
     ["P:8: assignments[0].managers[1]: 'bob' is neither an object id (GUID) nor a user "
      "principal name (name@domain)",
      "P:9: assignments[0].managers[2]: 'a@b@c' is neither an object id (GUID) nor a user "
      "principal name (name@domain)",
      "P:10: assignments[0].managers[3]: '@b.c' is neither an object id (GUID) nor a user "
      "principal name (name@domain)"]),
    (f"version: 1\nlocations:\n  s:\n    administrative_unit: '{AU1}'\nassignments:\n"
     "  - manager_groups: [a@b.c]\n    locations: [s]\n    mangers: [x@y.z]\n",
     ["P:6: assignments[0].manager_groups[0]: 'a@b.c' is not a group object id (GUID)",
      "P:8: assignments[0]: unknown key 'mangers' (expected one of: managers, manager_groups, "
      "locations, allow)"]),
    ("version: 1\nprotected:\n  admins: maybe\n  groups: [x]\n  users: [1]\n",
     ["P:3: protected.admins: must be true or false",
      "P:4: protected.groups[0]: 'x' is not a group object id (GUID)",
      "P:5: protected.users[0]: must be a string, not a number"]),
    ("version: 1\npassword:\n  length: 11\n",
     ["P:3: password.length: must be a whole number from 12 to 256"]),
    ("version: 1\npassword:\n  length: 257\n  allow_manager_entered: 1\n",
     ["P:3: password.length: must be a whole number from 12 to 256",
      "P:4: password.allow_manager_entered: must be true or false"]),
    ("version: 1\npassword:\n  style: diceware\n  length: 16\n",
     ["P:3: password.style: must be one of: words, random"]),
    ("version: 1\npassword:\n  style: [words]\n  pattern: x\n",
     ["P:3: password.style: must be one of: words, random",
      "P:4: password: unknown key 'pattern' (expected one of: style, length, "
      "allow_manager_entered)"]),
    ("version: 1\nlimits:\n  password_resets_per_manager_per_hour: 0\n  burst: 3\n",
     ["P:3: limits.password_resets_per_manager_per_hour: must be a whole number from 1 to 100000",
      "P:4: limits: unknown key 'burst' (expected one of: password_resets_per_manager_per_hour, "
      "phone_changes_per_manager_per_hour, temporary_access_passes_per_manager_per_hour)"]),
    ("version: 1\nlocations: {a: [\n", ["P:3: invalid YAML: expected the node content, but "
                                        "found '<stream end>'"]),
]


@pytest.mark.parametrize(("text", "errors"), BAD)
def test_bad_policies(text: str, errors: list[str]) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "P")
    assert info.value.errors == errors


def test_all_errors_are_collected_in_line_order() -> None:
    text = dedent(f"""\
        version: 3
        locations:
          good:
            administrative_unit: "{AU1}"
          bad:
            administrative_unit: "x"
        assignments:
          - managers: [nobody]
            locations: [good, missing]
            allow: [fly]
        protected:
          admins: 1
        """)
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "policies/x.yaml")
    lines = [e.split(":")[1] for e in info.value.errors]
    assert lines == ["1", "6", "8", "9", "10", "12"]
    assert all(e.startswith("policies/x.yaml:") for e in info.value.errors)
    assert str(info.value) == "\n".join(info.value.errors)


def test_broken_location_is_not_reported_again_where_used() -> None:
    text = ("version: 1\nlocations:\n  s:\n    administrative_unit: x\nassignments:\n"
            "  - managers: [a@b.c]\n    locations: [s]\n")
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "P")
    assert len(info.value.errors) == 1


def test_load_policy_path_as_given(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "absent.yaml")
    assert info.value.errors[0].startswith(f"{tmp_path / 'absent.yaml'}:0: cannot read file")
    (tmp_path / "p.yaml").write_text("version: 9\n")
    with pytest.raises(PolicyError) as info:
        load_policy(str(tmp_path / "p.yaml"))
    assert info.value.errors == [f"{tmp_path / 'p.yaml'}:1: version: must be 1, not 9"]


@pytest.mark.parametrize(("key", "ok"), [
    ("seattle", True), ("Seattle_2", True), ("0", True), ("a" * 64, True), ("a-b", True),
    ("", False), ("-a", False), ("_a", False), ("a b", False), ("a/b", False), ("a" * 65, False),
    ("café", False), ("a.b", False),
])
def test_location_keys(key: str, ok: bool) -> None:
    assert is_location_key(key) is ok


def test_policy_names() -> None:
    p = parse_policy(GOOD, "good.yaml")
    names = policy_names(p)
    upns, groups, aus = names
    assert upns == ["alice@contoso.com", "carol@contoso.com", "ceo@contoso.com"]
    assert groups == sorted([G1, G2])
    assert aus == [AU1, AU2]
    assert policy_user_ids(p) == [OID]


def test_resolve_and_lookup() -> None:
    p = parse_policy(GOOD, "good.yaml")
    alice = "a11ce000-0000-4000-8000-000000000001"
    ceo = "cee00000-0000-4000-8000-000000000001"
    r = resolve(p, {"ALICE@contoso.com": alice.upper(), "ceo@contoso.com": ceo})
    both = frozenset({Action.RESET_PASSWORD, Action.MANAGE_PHONE})
    # by object id (UPN resolved), case-insensitive
    assert r.locations_for_manager(alice) == {"seattle": both, "tacoma-2": both}
    assert r.locations_for_manager(alice.upper()) == {"seattle": both, "tacoma-2": both}
    # by object id written in the file
    assert r.locations_for_manager(OID) == {"seattle": both, "tacoma-2": both}
    # by group: union over assignments
    someone = "50000000-0000-4000-8000-000000000001"
    assert r.locations_for_manager(someone, frozenset({G2})) == {
        "seattle": frozenset({Action.RESET_PASSWORD})}
    assert r.locations_for_manager(someone, frozenset({G1, G2})) == {
        "seattle": both, "tacoma-2": both}
    # nothing for anyone else, nor for an unresolved UPN
    assert r.locations_for_manager(someone, frozenset({"other"})) == {}
    assert r.warnings == ("good.yaml:16: no user 'carol@contoso.com' in the tenant; "
                          "this entry grants nothing",)
    assert r.protection.user_ids == frozenset({ceo, OID})
    assert r.protection.upns == frozenset({"ceo@contoso.com"})
    assert r.protection.group_ids == frozenset({G2})
    assert r.protection.admins is False
    assert r.manager_group_ids == frozenset({G1, G2})
    assert r.location("seattle") is not None and r.location("Seattle") is None


def test_union_of_partial_grants_for_one_manager() -> None:
    text = dedent(f"""\
        version: 1
        locations:
          s: {{administrative_unit: "{AU1}"}}
        assignments:
          - {{managers: ["{OID}"], locations: [s], allow: [reset_password]}}
          - {{managers: ["{OID}"], locations: [s], allow: [manage_phone]}}
        """)
    r = resolve(parse_policy(text, "P"), {})
    assert r.locations_for_manager(OID) == {
        "s": frozenset({Action.RESET_PASSWORD, Action.MANAGE_PHONE})}
    assert r.warnings == ()


def test_large_policy_loads_and_resolves() -> None:
    # Correctness at scale only; the speed is measured in bench/bench_policy.py.
    import sys
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from bench_policy import build_policy
    finally:
        sys.path.remove(str(ROOT / "bench"))
    text, upns = build_policy(20_000, 5_000)
    r = resolve(parse_policy(text, "big.yaml"), upns)
    assert len(r.policy.assignments) == 20_000 and len(r.locations) == 5_000
    assert not r.warnings


def test_protected_managers_and_owners_keys() -> None:
    base = GOOD.replace("  admins: false\n",
                        "  admins: false\n  managers: always\n  owners: false\n")
    p = parse_policy(base, "good.yaml")
    assert p.protected.managers is ManagerProtection.ALWAYS
    assert p.protected.owners is False
    r = resolve(p, {})
    assert r.protection.managers is ManagerProtection.ALWAYS and r.protection.owners is False
    # defaults: outranked, owners protected
    default = parse_policy(GOOD, "good.yaml").protected
    assert default.managers is ManagerProtection.OUTRANKED and default.owners is True


@pytest.mark.parametrize(("line", "error"), [
    ("  managers: sometimes\n",
     "bad.yaml:50: protected.managers: must be one of: outranked, always"),
    ("  managers: true\n",
     "bad.yaml:50: protected.managers: must be one of: outranked, always"),
    ("  owners: maybe\n", "bad.yaml:50: protected.owners: must be true or false"),
])
def test_bad_protected_managers_and_owners(line: str, error: str) -> None:
    text = GOOD.replace("  admins: false\n", "  admins: false\n" + line)
    lineno = text.splitlines().index(line.rstrip("\n")) + 1
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "bad.yaml")
    assert info.value.errors == [error.replace(":50:", f":{lineno}:")]


def test_phones_keys() -> None:
    p = parse_policy("version: 1\nphones:\n  allowed_regions: [US, ca]\n"
                     "  refuse_manager_numbers: false\n", "p.yaml")
    assert p.phones == PhoneRules(frozenset({"US", "CA"}), False)
    # defaults: every region, the manager's own numbers refused
    assert parse_policy("version: 1\n", "p.yaml").phones == PhoneRules(None, True)
    assert parse_policy("version: 1\nphones: {}\n", "p.yaml").phones == PhoneRules(None, True)


@pytest.mark.parametrize(("body", "errors"), [
    ("  allowed_regions: [US, XX, usa, '001', 1]\n",
     ["p.yaml:3: phones.allowed_regions[4]: must be a string, not a number",
      "p.yaml:3: phones.allowed_regions[1]: 'XX' is not a region code (two letters, ISO 3166, "
      "such as US or GB)",
      "p.yaml:3: phones.allowed_regions[2]: 'usa' is not a region code (two letters, "
      "ISO 3166, such as US or GB)",
      "p.yaml:3: phones.allowed_regions[3]: '001' (satellite and international network "
      "numbers) cannot be allowed"]),
    ("  allowed_regions: []\n",
     ["p.yaml:3: phones.allowed_regions: must list at least one region (leave the key out to "
      "allow every region)"]),
    ("  allowed_regions: US\n", ["p.yaml:3: phones.allowed_regions: must be a list"]),
    ("  refuse_manager_numbers: yes please\n",
     ["p.yaml:3: phones.refuse_manager_numbers: must be true or false"]),
    ("  regions: [US]\n",
     ["p.yaml:3: phones: unknown key 'regions' (expected one of: allowed_regions, "
      "refuse_manager_numbers)"]),
])
def test_bad_phones_keys(body: str, errors: list[str]) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("version: 1\nphones:\n" + body, "p.yaml")
    assert info.value.errors == errors


def test_phones_must_be_a_mapping() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("version: 1\nphones: [US]\n", "p.yaml")
    assert info.value.errors == ["p.yaml:2: phones: must be a mapping"]


def test_grants_of_target_by_id_upn_and_group() -> None:
    p = parse_policy(GOOD, "good.yaml")
    alice = "a11ce000-0000-4000-8000-000000000001"
    r = resolve(p, {"alice@contoso.com": alice})
    both = frozenset({Action.RESET_PASSWORD, Action.MANAGE_PHONE})
    someone = "50000000-0000-4000-8000-000000000001"
    assert r.grants_of_target(alice, None, ()) == {"seattle": both, "tacoma-2": both}
    # carol's UPN did not resolve: as a target she is still a manager, by her UPN
    assert r.grants_of_target(someone, "Carol@contoso.com", ()) == {"tacoma-2": frozenset()}
    # but signing in as an unresolved UPN grants nothing (managers match by object id only)
    assert r.locations_for_manager(someone) == {}
    # through a manager group (the target's transitive groups)
    assert r.grants_of_target(someone, "x@contoso.com", {G2}) == {
        "seattle": frozenset({Action.RESET_PASSWORD})}
    assert r.grants_of_target(someone, "x@contoso.com", {"other"}) == {}


def test_protected_ids_are_remembered_across_renames() -> None:
    p = parse_policy(GOOD, "good.yaml")
    ceo = "cee00000-0000-4000-8000-000000000001"
    first = resolve(p, {"ceo@contoso.com": ceo})
    assert first.protected_ids == {"ceo@contoso.com": frozenset({ceo})}
    # renamed: the UPN no longer resolves, the id it had stays protected
    renamed = resolve(p, {}, first.protected_ids)
    assert ceo in renamed.protection.user_ids
    assert renamed.protected_ids == {"ceo@contoso.com": frozenset({ceo})}
    assert any("protected user 'ceo@contoso.com' no longer resolves" in w and ceo in w
               for w in renamed.warnings)
    # the UPN given to someone new: both stay protected until IT edits the entry
    newcomer = "11111111-0000-4000-8000-000000000009"
    reused = resolve(p, {"ceo@contoso.com": newcomer}, renamed.protected_ids)
    assert {ceo, newcomer} <= reused.protection.user_ids
    # IT removes the entry: nothing is remembered for it any more
    gone = parse_policy(GOOD.replace("users: [ceo@contoso.com, ", "users: ["), "good.yaml")
    assert resolve(gone, {}, reused.protected_ids).protected_ids == {}
    assert ceo not in resolve(gone, {}, reused.protected_ids).protection.user_ids


def test_temporary_access_pass_section() -> None:
    base = "version: 1\n"
    assert parse_policy(base, "P").temporary_access_pass == PassRules()
    rules = parse_policy(base + "temporary_access_pass:\n  lifetime_minutes: 30\n"
                         "  max_lifetime_minutes: 120\n  one_time: false\n", "P")
    assert rules.temporary_access_pass == PassRules(30, 120, False)
    with pytest.raises(PolicyError) as info:
        parse_policy(base + "temporary_access_pass:\n  lifetime_minutes: 600\n"
                     "  max_lifetime_minutes: 120\n  colour: red\n", "P")
    assert info.value.errors == [
        "P:3: temporary_access_pass.lifetime_minutes: must not exceed max_lifetime_minutes (120)",
        "P:5: temporary_access_pass: unknown key 'colour' (expected one of: lifetime_minutes, "
        "max_lifetime_minutes, one_time)"]


@pytest.mark.parametrize(("line", "minutes"), [("", 0), ("reauthenticate_after_minutes: 0\n", 0),
                                               ("reauthenticate_after_minutes: 15\n", 15),
                                               ("reauthenticate_after_minutes: 1440\n", 1440)])
def test_reauthenticate_after_minutes(line: str, minutes: int) -> None:
    assert parse_policy("version: 1\n" + line, "P").reauthenticate_after_minutes == minutes


@pytest.mark.parametrize("value", ["-1", "1441", "true", "'15'", "1.5", "[15]"])
def test_bad_reauthenticate_after_minutes(value: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(f"version: 1\nreauthenticate_after_minutes: {value}\n", "P")
    assert info.value.errors == ["P:2: reauthenticate_after_minutes: must be a whole number of "
                                 "minutes from 0 (off) to 1440"]
