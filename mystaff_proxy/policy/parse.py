"""Reading the policy file: YAML validated into a typed, frozen ``Policy`` (docs/policy.md).

``parse_policy`` / ``load_policy`` report *every* problem as ``PATH:LINE: message``
(``PolicyError.errors``), sorted by line.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from mystaff_proxy.ids import is_guid
from mystaff_proxy.phones import NON_GEOGRAPHIC, is_valid_region
from mystaff_proxy.policy.model import (
    PASS_LIFETIME_RANGE,
    PASSWORD_LENGTH_RANGE,
    REAUTHENTICATE_RANGE,
    Action,
    Assignment,
    Limits,
    Location,
    ManagerProtection,
    PassRules,
    PasswordRules,
    PhoneRules,
    Policy,
    PolicyError,
    Protected,
    is_location_key,
    is_upn,
)
from mystaff_proxy.policy.passwords import PasswordStyle
from yaml_lines import LineDict, LineList, YamlFileError, loads_fast

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
_PHONES_KEYS: Final = ("allowed_regions", "refuse_manager_numbers")



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
def gc_paused() -> Iterator[None]:
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
    with gc_paused():
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
