"""The policy file (SPEC §6): who manages which location, and what they may do there.

Two stages:

* ``parse_policy`` / ``load_policy`` validate the YAML into a typed, frozen ``Policy`` and
  report *every* problem as ``PATH:LINE: message`` (``PolicyError.errors``), sorted by line.
* ``resolve`` turns a ``Policy`` plus the UPN → object id answers from Graph into a
  ``ResolvedPolicy``: dict indexes from a manager's object id and from a group id to the grants,
  so that ``locations_for_manager`` costs a few dict look-ups per request.

Object ids (GUIDs) are stored lower-cased; UPNs are stored lower-cased (Entra compares them
case-insensitively). Location keys are case-sensitive: they appear in URLs as written.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, NamedTuple

from mystaff_proxy.phones import NON_GEOGRAPHIC, is_valid_region
from mystaff_proxy.policy.passwords import PasswordStyle
from yaml_lines import LineDict, LineList, YamlFileError, loads_fast


class Action(StrEnum):
    """What a policy may allow at a location. Viewing staff is implied by any assignment."""

    RESET_PASSWORD = "reset_password"
    MANAGE_PHONE = "manage_phone"
    ISSUE_TEMPORARY_ACCESS_PASS = "issue_temporary_access_pass"
    MANAGE_SMS_SIGN_IN = "manage_sms_sign_in"


class PolicyError(ValueError):
    """The policy is invalid; ``errors`` holds every problem as ``PATH:LINE: message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Location:
    key: str
    administrative_unit: str  # lower-cased GUID
    name: str | None  # None: show the AU's displayName


@dataclass(frozen=True, slots=True)
class Assignment:
    managers: tuple[str, ...]  # lower-cased GUIDs or lower-cased UPNs
    manager_groups: tuple[str, ...]  # lower-cased GUIDs
    locations: tuple[str, ...]
    allow: frozenset[Action]
    line: int = field(default=0, compare=False)


class ManagerProtection(StrEnum):
    """``protected.managers``: when one manager may act on another (docs/authorization.md)."""

    OUTRANKED = "outranked"  # only by a manager whose grants strictly contain the target's
    ALWAYS = "always"  # never


@dataclass(frozen=True, slots=True)
class Protected:
    admins: bool = True
    users: tuple[str, ...] = ()  # lower-cased GUIDs or UPNs
    groups: tuple[str, ...] = ()  # lower-cased GUIDs
    managers: ManagerProtection = ManagerProtection.OUTRANKED
    owners: bool = True  # owners of applications, service principals, role-assignable groups


@dataclass(frozen=True, slots=True)
class PasswordRules:
    length: int = 16  # random: exactly; words: at least (docs/passwords.md)
    allow_manager_entered: bool = False
    style: PasswordStyle = PasswordStyle.WORDS


@dataclass(frozen=True, slots=True)
class Limits:
    password_resets_per_manager_per_hour: int = 30
    phone_changes_per_manager_per_hour: int = 60  # SMS sign-in switches count here too
    temporary_access_passes_per_manager_per_hour: int = 10


@dataclass(frozen=True, slots=True)
class PassRules:
    """``temporary_access_pass``: the passes a manager issues (the tenant's TAP configuration
    bounds them further: docs/sign-in-methods.md)."""

    lifetime_minutes: int = 60  # a pass's lifetime unless the manager asks for less or more
    max_lifetime_minutes: int = 480  # the most a manager may ask for
    one_time: bool = True  # every pass signs in once


@dataclass(frozen=True, slots=True)
class PhoneRules:
    """``phones``: which numbers a manager may put on someone's account (docs/phones.md)."""

    #: Regions (``US``, ``CA``) a number may belong to; None: every region. International
    #: non-geographic ranges (satellite, +800 ...) are refused whatever this says.
    allowed_regions: frozenset[str] | None = None
    #: Refuse the acting manager's own numbers (their phone methods, mobilePhone and
    #: businessPhones): their number on someone's account lets them sign in as that person.
    refuse_manager_numbers: bool = True


@dataclass(frozen=True, slots=True)
class Policy:
    version: int
    locations: Mapping[str, Location]
    assignments: tuple[Assignment, ...]
    protected: Protected = Protected()
    password: PasswordRules = PasswordRules()
    limits: Limits = Limits()
    source: str = field(default="<string>", compare=False)
    #: The first line each UPN appears on, for warnings about UPNs Graph does not know.
    upn_lines: Mapping[str, int] = field(default_factory=dict, compare=False)
    phones: PhoneRules = PhoneRules()
    temporary_access_pass: PassRules = PassRules()
    #: A change needs a sign-in (credentials entered at Entra) at most this many minutes
    #: old; 0: any session may change (README, "Re-authentication").
    reauthenticate_after_minutes: int = 0


PASSWORD_LENGTH_RANGE: Final = (12, 256)
LOCATION_KEY_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_GUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_UPN_RE: Final = re.compile(r"[^@\s]+@[^@\s]+")
_ACTIONS: Final = {a.value: a for a in Action}

_TOP_KEYS: Final = ("version", "locations", "assignments", "protected", "password", "limits",
                    "phones", "temporary_access_pass", "reauthenticate_after_minutes")
_LOCATION_KEYS: Final = ("administrative_unit", "name")
_ASSIGNMENT_KEYS: Final = ("managers", "manager_groups", "locations", "allow")
_PROTECTED_KEYS: Final = ("admins", "users", "groups", "managers", "owners")
_MANAGER_PROTECTION: Final = {m.value: m for m in ManagerProtection}
_PASSWORD_KEYS: Final = ("style", "length", "allow_manager_entered")
_PASSWORD_STYLES: Final = {s.value: s for s in PasswordStyle}
_LIMIT_KEYS: Final = ("password_resets_per_manager_per_hour", "phone_changes_per_manager_per_hour",
                      "temporary_access_passes_per_manager_per_hour")
_PASS_KEYS: Final = ("lifetime_minutes", "max_lifetime_minutes", "one_time")
PASS_LIFETIME_RANGE: Final = (10, 43_200)  # Entra's own bounds: 10 minutes to 30 days
REAUTHENTICATE_RANGE: Final = (0, 1440)  # off, up to a day
_PHONES_KEYS: Final = ("allowed_regions", "refuse_manager_numbers")


def is_guid(value: str) -> bool:
    return _GUID_RE.fullmatch(value) is not None


def is_upn(value: str) -> bool:
    """A UPN as the policy accepts it: exactly one '@', both sides non-empty, no spaces."""
    return _UPN_RE.fullmatch(value) is not None


def is_location_key(value: str) -> bool:
    return LOCATION_KEY_RE.fullmatch(value) is not None


# -- parsing ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[tuple[int, int, str]] = []
        self.upn_lines: dict[str, int] = {}

    def err(self, line: int, message: str) -> None:
        self.errors.append((line, len(self.errors), f"{self.path}:{line}: {message}"))

    def keys(self, mapping: LineDict, allowed: tuple[str, ...], where: str) -> None:
        for key in mapping:
            if key not in allowed:
                self.err(mapping.line_of(key),
                         f"{where}unknown key '{key}' (expected one of: {', '.join(allowed)})")

    def mapping(self, value: Any, line: int, where: str) -> LineDict | None:
        if isinstance(value, LineDict):
            return value
        self.err(line, f"{where}: must be a mapping")
        return None

    def str_list(self, parent: LineDict, key: str, where: str) -> list[tuple[str, int]]:
        """The strings of a list under ``key`` with their lines; errors for anything else."""
        if key not in parent or parent[key] is None:
            return []
        value = parent[key]
        if not isinstance(value, LineList):
            self.err(parent.line_of(key), f"{where}.{key}: must be a list")
            return []
        out = []
        for i, item in enumerate(value):
            line = value.line_of(i)
            if not isinstance(item, str):
                self.err(line, f"{where}.{key}[{i}]: must be a string, not {_kind(item)}")
            else:
                out.append((item.strip(), line))
        return out

    def guids(self, parent: LineDict, key: str, where: str, what: str) -> tuple[str, ...]:
        out = []
        for i, (item, line) in enumerate(self.str_list(parent, key, where)):
            if is_guid(item):
                out.append(item.lower())
            else:
                self.err(line, f"{where}.{key}[{i}]: '{item}' is not a {what} object id (GUID)")
        return tuple(out)

    def principals(self, parent: LineDict, key: str, where: str) -> tuple[str, ...]:
        out = []
        for i, (item, line) in enumerate(self.str_list(parent, key, where)):
            if is_guid(item) or is_upn(item):
                value = item.lower()
                out.append(value)
                if not is_guid(item):
                    self.upn_lines.setdefault(value, line)
            else:
                self.err(line, f"{where}.{key}[{i}]: '{item}' is neither an object id (GUID) "
                               "nor a user principal name (name@domain)")
        return tuple(out)

    def boolean(self, parent: LineDict, key: str, where: str, default: bool) -> bool:
        value = parent.get(key, default)
        if isinstance(value, bool):
            return value
        self.err(parent.line_of(key), f"{where}.{key}: must be true or false")
        return default

    def integer(self, parent: LineDict, key: str, where: str, default: int,
                low: int, high: int) -> int:
        value = parent.get(key, default)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        self.err(parent.line_of(key), f"{where}.{key}: must be a whole number from {low} "
                                      f"to {high}")
        return default

    # -- sections --

    def locations(self, doc: LineDict) -> dict[str, Location]:
        out: dict[str, Location] = {}
        if "locations" not in doc or doc["locations"] is None:
            return out
        section = self.mapping(doc["locations"], doc.line_of("locations"), "locations")
        if section is None:
            return out
        for key, value in section.items():
            line = section.line_of(key)
            where = f"locations.{key}"
            if not is_location_key(key):
                self.err(line, f"locations: '{key}' is not a valid location key (letters, "
                               "digits, '_' and '-', starting with a letter or digit, "
                               "at most 64 characters)")
            body = self.mapping(value, line, where)
            if body is None:
                continue
            self.keys(body, _LOCATION_KEYS, f"{where}: ")
            au = body.get("administrative_unit")
            if "administrative_unit" not in body:
                self.err(line, f"{where}: missing key 'administrative_unit'")
                continue
            if not isinstance(au, str) or not is_guid(au.strip()):
                self.err(body.line_of("administrative_unit"),
                         f"{where}.administrative_unit: '{au}' is not an administrative unit "
                         "object id (GUID)")
                continue
            name = body.get("name")
            if name is not None and (not isinstance(name, str) or not name.strip()):
                self.err(body.line_of("name"), f"{where}.name: must be a non-empty string")
                name = None
            out[key] = Location(key, au.strip().lower(), name.strip() if name else None)
        return out

    def assignments(self, doc: LineDict, defined: set[str]) -> list[Assignment]:
        out: list[Assignment] = []
        if "assignments" not in doc or doc["assignments"] is None:
            return out
        section = doc["assignments"]
        if not isinstance(section, LineList):
            self.err(doc.line_of("assignments"), "assignments: must be a list")
            return out
        for i, value in enumerate(section):
            line = section.line_of(i)
            where = f"assignments[{i}]"
            body = self.mapping(value, line, where)
            if body is None:
                continue
            self.keys(body, _ASSIGNMENT_KEYS, f"{where}: ")
            managers = self.principals(body, "managers", where)
            groups = self.guids(body, "manager_groups", where, "group")
            if not body.get("managers") and not body.get("manager_groups"):
                self.err(line, f"{where}: needs managers, manager_groups or both")
            locations = []
            if "locations" not in body:
                self.err(line, f"{where}: missing key 'locations'")
            else:
                items = self.str_list(body, "locations", where)
                raw = body["locations"]
                if raw is None or (isinstance(raw, LineList) and not raw):
                    self.err(body.line_of("locations"), f"{where}.locations: must not be empty")
                for key, key_line in items:
                    if key not in defined:
                        self.err(key_line, f"{where}.locations: undefined location '{key}'")
                    else:
                        locations.append(key)
            allow = set()
            for j, (name, name_line) in enumerate(self.str_list(body, "allow", where)):
                action = _ACTIONS.get(name)
                if action is None:
                    self.err(name_line, f"{where}.allow[{j}]: unknown action '{name}' "
                                        f"(expected one of: {', '.join(_ACTIONS)})")
                else:
                    allow.add(action)
            out.append(Assignment(managers, groups, tuple(locations), frozenset(allow), line))
        return out

    def protected(self, doc: LineDict) -> Protected:
        if "protected" not in doc:
            return Protected()
        body = self.mapping(doc["protected"], doc.line_of("protected"), "protected")
        if body is None:
            return Protected()
        self.keys(body, _PROTECTED_KEYS, "protected: ")
        managers = ManagerProtection.OUTRANKED
        if "managers" in body:
            value = body["managers"]
            if isinstance(value, str) and value in _MANAGER_PROTECTION:
                managers = _MANAGER_PROTECTION[value]
            else:
                self.err(body.line_of("managers"),
                         f"protected.managers: must be one of: {', '.join(_MANAGER_PROTECTION)}")
        return Protected(admins=self.boolean(body, "admins", "protected", True),
                         users=self.principals(body, "users", "protected"),
                         groups=self.guids(body, "groups", "protected", "group"),
                         managers=managers,
                         owners=self.boolean(body, "owners", "protected", True))

    def password(self, doc: LineDict) -> PasswordRules:
        if "password" not in doc:
            return PasswordRules()
        body = self.mapping(doc["password"], doc.line_of("password"), "password")
        if body is None:
            return PasswordRules()
        self.keys(body, _PASSWORD_KEYS, "password: ")
        low, high = PASSWORD_LENGTH_RANGE
        style = PasswordStyle.WORDS
        if "style" in body:
            value = body["style"]
            if isinstance(value, str) and value in _PASSWORD_STYLES:
                style = _PASSWORD_STYLES[value]
            else:
                self.err(body.line_of("style"),
                         f"password.style: must be one of: {', '.join(_PASSWORD_STYLES)}")
        return PasswordRules(
            length=self.integer(body, "length", "password", 16, low, high),
            allow_manager_entered=self.boolean(body, "allow_manager_entered", "password", False),
            style=style)

    def limits(self, doc: LineDict) -> Limits:
        if "limits" not in doc:
            return Limits()
        body = self.mapping(doc["limits"], doc.line_of("limits"), "limits")
        if body is None:
            return Limits()
        self.keys(body, _LIMIT_KEYS, "limits: ")
        return Limits(
            password_resets_per_manager_per_hour=self.integer(
                body, "password_resets_per_manager_per_hour", "limits", 30, 1, 100_000),
            phone_changes_per_manager_per_hour=self.integer(
                body, "phone_changes_per_manager_per_hour", "limits", 60, 1, 100_000),
            temporary_access_passes_per_manager_per_hour=self.integer(
                body, "temporary_access_passes_per_manager_per_hour", "limits", 10, 1,
                100_000))

    def temporary_access_pass(self, doc: LineDict) -> PassRules:
        key = "temporary_access_pass"
        if key not in doc:
            return PassRules()
        body = self.mapping(doc[key], doc.line_of(key), key)
        if body is None:
            return PassRules()
        self.keys(body, _PASS_KEYS, f"{key}: ")
        low, high = PASS_LIFETIME_RANGE
        maximum = self.integer(body, "max_lifetime_minutes", key, 480, low, high)
        lifetime = self.integer(body, "lifetime_minutes", key, min(60, maximum), low, high)
        if lifetime > maximum:
            self.err(body.line_of("lifetime_minutes"),
                     f"{key}.lifetime_minutes: must not exceed max_lifetime_minutes ({maximum})")
        return PassRules(lifetime_minutes=lifetime, max_lifetime_minutes=maximum,
                         one_time=self.boolean(body, "one_time", key, True))

    def reauthenticate_after_minutes(self, doc: LineDict) -> int:
        key, (low, high) = "reauthenticate_after_minutes", REAUTHENTICATE_RANGE
        value = doc.get(key, 0)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        self.err(doc.line_of(key), f"{key}: must be a whole number of minutes from {low} (off) "
                                   f"to {high}")
        return 0

    def phones(self, doc: LineDict) -> PhoneRules:
        if "phones" not in doc:
            return PhoneRules()
        body = self.mapping(doc["phones"], doc.line_of("phones"), "phones")
        if body is None:
            return PhoneRules()
        self.keys(body, _PHONES_KEYS, "phones: ")
        regions: frozenset[str] | None = None
        if "allowed_regions" in body:
            items = self.str_list(body, "allowed_regions", "phones")
            raw = body["allowed_regions"]
            if raw is None or (isinstance(raw, LineList) and not raw):
                self.err(body.line_of("allowed_regions"),
                         "phones.allowed_regions: must list at least one region (leave the "
                         "key out to allow every region)")
            for i, (item, line) in enumerate(items):
                if item == NON_GEOGRAPHIC:
                    self.err(line, f"phones.allowed_regions[{i}]: '{item}' (satellite and "
                                   "international network numbers) cannot be allowed")
                elif len(item) != 2 or not is_valid_region(item):
                    self.err(line, f"phones.allowed_regions[{i}]: '{item}' is not a region "
                                   "code (two letters, ISO 3166, such as US or GB)")
            regions = frozenset(item.upper() for item, _ in items)
        return PhoneRules(
            allowed_regions=regions,
            refuse_manager_numbers=self.boolean(body, "refuse_manager_numbers", "phones",
                                                True))


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    return "a number" if isinstance(value, int | float) else type(value).__name__


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while building a large policy (no cycles are made).

    A 20,000-assignment policy allocates millions of objects; the collector's passes over them
    cost ~40% of the load time. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_policy(text: str, path: str = "<string>") -> Policy:
    """Validate policy YAML; raises ``PolicyError`` listing every problem (sorted by line)."""
    with _no_gc():
        return _parse_policy(text, path)


def _parse_policy(text: str, path: str) -> Policy:
    try:
        doc = loads_fast(text, path)
    except YamlFileError as exc:
        raise PolicyError([str(exc)]) from None
    p = _Parser(path)
    if not isinstance(doc, LineDict):
        p.err(getattr(doc, "line", 1) or 1,
              "the policy must be a mapping that starts with 'version: 1'")
        raise PolicyError([e for _, _, e in p.errors])
    p.keys(doc, _TOP_KEYS, "")
    if "version" not in doc:
        p.err(doc.line, "missing key 'version' (write 'version: 1')")
    elif doc["version"] != 1 or isinstance(doc["version"], bool):
        p.err(doc.line_of("version"), f"version: must be 1, not {doc['version']!r}")
    locations = p.locations(doc)
    defined = set(locations)
    if isinstance(doc.get("locations"), LineDict):
        defined |= set(doc["locations"])  # a broken location is reported once, not per use
    assignments = p.assignments(doc, defined)
    protected, password, limits = p.protected(doc), p.password(doc), p.limits(doc)
    phones = p.phones(doc)
    passes = p.temporary_access_pass(doc)
    reauthenticate = p.reauthenticate_after_minutes(doc)
    if p.errors:
        raise PolicyError([e for _, _, e in sorted(p.errors)])
    return Policy(1, locations, tuple(assignments), protected, password, limits, path,
                  p.upn_lines, phones, passes, reauthenticate_after_minutes=reauthenticate)


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; ``path`` appears in errors as given."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([f"{name}:0: cannot read file: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise PolicyError([f"{name}:0: not UTF-8 text: {exc.reason}"]) from None
    return parse_policy(text, name)


class PolicyNames(NamedTuple):
    """What must be resolved (or checked) against Graph, each sorted and unique."""

    upns: list[str]
    group_ids: list[str]
    au_ids: list[str]


def policy_names(policy: Policy) -> PolicyNames:
    """The UPNs to resolve, and the group and AU ids to check (``policy check --online``)."""
    upns: set[str] = set()
    groups: set[str] = set(policy.protected.groups)
    for a in policy.assignments:
        upns.update(m for m in a.managers if not is_guid(m))
        groups.update(a.manager_groups)
    upns.update(u for u in policy.protected.users if not is_guid(u))
    aus = {loc.administrative_unit for loc in policy.locations.values()}
    return PolicyNames(sorted(upns), sorted(groups), sorted(aus))


def policy_user_ids(policy: Policy) -> list[str]:
    """Users the policy names by object id (for ``policy check --online``)."""
    ids = {m for a in policy.assignments for m in a.managers if is_guid(m)}
    ids.update(u for u in policy.protected.users if is_guid(u))
    return sorted(ids)


# -- resolution ---------------------------------------------------------------------------------

Grants = Mapping[str, frozenset[Action]]


@dataclass(frozen=True, slots=True)
class Protection:
    """Who is never managed, in the form the per-request decision needs."""

    admins: bool = True
    user_ids: frozenset[str] = frozenset()  # lower-cased object ids
    upns: frozenset[str] = frozenset()  # lower-cased; also matched, in case ids are stale
    group_ids: frozenset[str] = frozenset()
    managers: ManagerProtection = ManagerProtection.OUTRANKED
    owners: bool = True


def _union(parts: list[Grants]) -> dict[str, frozenset[Action]]:
    if len(parts) == 1:
        return dict(parts[0])
    out: dict[str, frozenset[Action]] = {}
    for grants in parts:
        for loc, actions in grants.items():
            have = out.get(loc)
            out[loc] = actions if have is None else have | actions
    return out


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    policy: Policy
    by_oid: Mapping[str, Grants]
    by_group: Mapping[str, Grants]
    protection: Protection
    warnings: tuple[str, ...] = ()
    #: Grants of managers named by UPN, by UPN: a target is a manager by its UPN too, even
    #: when that UPN did not resolve (the decision must not depend on Graph being quick).
    by_upn: Mapping[str, Grants] = field(default_factory=dict)
    #: Each protected UPN -> every object id it has resolved to (now or before): remembered
    #: across renames (``RememberedIds``), so renaming a protected person does not unprotect.
    protected_ids: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def locations(self) -> Mapping[str, Location]:
        return self.policy.locations

    @property
    def manager_group_ids(self) -> frozenset[str]:
        """Groups that grant something: the only ones worth looking up for a manager."""
        return frozenset(self.by_group)

    def location(self, key: str) -> Location | None:
        return self.policy.locations.get(key)

    def locations_for_manager(
            self, oid: str, group_ids: Iterable[str] = frozenset(),
    ) -> dict[str, frozenset[Action]]:
        """location key → allowed actions: the union over every matching assignment.

        ``group_ids`` are the manager's transitive group ids (lower-cased). An empty dict means
        the user manages nothing (``insufficient_permissions``). A signed-in manager is matched
        by object id only: a UPN can be given to someone else.
        """
        return self._grants_of(oid, None, group_ids)

    def grants_of_target(self, oid: str, upn: str | None,
                         group_ids: Iterable[str]) -> dict[str, frozenset[Action]]:
        """What the policy grants a person someone wants to change: by object id, by UPN
        (matched even when it did not resolve) and through ``manager_groups``. Non-empty
        means the target is a manager (``protected.managers``)."""
        return self._grants_of(oid, upn, group_ids)

    def _grants_of(self, oid: str, upn: str | None,
                   group_ids: Iterable[str]) -> dict[str, frozenset[Action]]:
        parts: list[Grants] = []
        own = self.by_oid.get(oid.lower())
        if own is not None:
            parts.append(own)
        named = self.by_upn.get(upn.lower()) if upn else None
        if named is not None:
            parts.append(named)
        by_group = self.by_group
        if by_group:
            parts += [g for g in map(by_group.get, group_ids) if g is not None]
        return _union(parts) if parts else {}


def resolve(policy: Policy, upn_to_oid: Mapping[str, str],
            remembered: Mapping[str, Iterable[str]] | None = None) -> ResolvedPolicy:
    """Index the policy by manager object id and group id.

    A UPN missing from ``upn_to_oid`` grants nothing and is reported in ``warnings``.
    ``remembered``: protected UPN -> object ids it resolved to before; they stay protected
    (a rename must not unprotect anyone) for as long as the UPN stays in ``protected.users``.
    """
    with _no_gc():
        return _resolve(policy, upn_to_oid, remembered or {})


def _resolve(policy: Policy, upn_to_oid: Mapping[str, str],
             remembered: Mapping[str, Iterable[str]]) -> ResolvedPolicy:
    lookup = {k.lower(): v.lower() for k, v in upn_to_oid.items()}
    warnings: list[str] = []
    warned: set[str] = set()

    def oid_of(name: str, what: str) -> str | None:
        if is_guid(name):
            return name
        oid = lookup.get(name)
        if oid is None and name not in warned:
            warned.add(name)
            line = policy.upn_lines.get(name, 0)
            warnings.append(f"{policy.source}:{line}: no user '{name}' in the tenant; {what}")
        return oid

    by_oid: dict[str, dict[str, frozenset[Action]]] = {}
    by_group: dict[str, dict[str, frozenset[Action]]] = {}
    by_upn: dict[str, dict[str, frozenset[Action]]] = {}

    def add(index: dict[str, dict[str, frozenset[Action]]], principal: str,
            a: Assignment) -> None:
        grants = index.get(principal)
        if grants is None:
            index[principal] = dict.fromkeys(a.locations, a.allow)
            return
        for loc in a.locations:
            have = grants.get(loc)
            grants[loc] = a.allow if have is None or have == a.allow else have | a.allow

    for a in policy.assignments:
        for m in a.managers:
            oid = oid_of(m, "this entry grants nothing")
            if oid is not None:
                add(by_oid, oid, a)
            if not is_guid(m):
                add(by_upn, m, a)
        for g in a.manager_groups:
            add(by_group, g, a)

    prot = policy.protected
    user_ids = set()
    protected_ids: dict[str, frozenset[str]] = {}
    for u in prot.users:
        if is_guid(u):
            user_ids.add(u)
            continue
        before = frozenset(i.lower() for i in remembered.get(u, ()))
        oid = lookup.get(u)
        if oid is None and before:
            if u not in warned:
                warned.add(u)
                line = policy.upn_lines.get(u, 0)
                warnings.append(
                    f"{policy.source}:{line}: protected user '{u}' no longer resolves (renamed "
                    f"or deleted?); still protected by the object id it had: "
                    f"{', '.join(sorted(before))}")
        else:
            oid = oid_of(u, "protected by name only until it resolves")
        ids = before | ({oid} if oid is not None else set())
        if ids:
            protected_ids[u] = ids
            user_ids.update(ids)
    protection = Protection(
        admins=prot.admins,
        user_ids=frozenset(user_ids),
        upns=frozenset(u for u in prot.users if not is_guid(u)),
        group_ids=frozenset(prot.groups),
        managers=prot.managers,
        owners=prot.owners,
    )
    return ResolvedPolicy(policy, by_oid, by_group, protection, tuple(warnings), by_upn,
                          protected_ids)
