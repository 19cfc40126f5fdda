"""The policy file's model (docs/policy.md): who manages which location, and what they may do.

Frozen, typed values that ``policy.parse`` builds from the YAML file and ``policy.resolve``
turns into per-request look-ups. Object ids (GUIDs) are stored lower-cased; UPNs are stored
lower-cased (Entra compares them case-insensitively). Location keys are case-sensitive: they
appear in URLs as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, NamedTuple

from mystaff_proxy.ids import is_guid
from mystaff_proxy.policy.passwords import PasswordStyle


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
_UPN_RE: Final = re.compile(r"[^@\s]+@[^@\s]+")

PASS_LIFETIME_RANGE: Final = (10, 43_200)  # Entra's own bounds: 10 minutes to 30 days
REAUTHENTICATE_RANGE: Final = (0, 1440)  # off, up to a day


def is_upn(value: str) -> bool:
    """A UPN as the policy accepts it: exactly one '@', both sides non-empty, no spaces."""
    return _UPN_RE.fullmatch(value) is not None


def is_location_key(value: str) -> bool:
    return LOCATION_KEY_RE.fullmatch(value) is not None


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
