"""The tenant's authentication methods policy, as far as the fake models it: the Temporary
Access Pass and SMS method configurations, and a user's Temporary Access Pass.

Plain state and pure rules, no HTTP: the Graph handlers (``graph/temporary_access_pass.py``,
``graph/method_configurations.py``, ``graph/auth_methods.py``) and the sign-in page read them.

- Targets (``includeTargets`` / ``excludeTargets``) name groups by id, or ``all_users``. A
  user is targeted through any group it is in, nested groups included (Learn does not say
  whether nesting counts; the fake lets it). Exclusion wins over inclusion.
- A pass is usable while the method is enabled for its user, from ``startDateTime`` for
  ``lifetimeInMinutes``, and, when one-time, until its first sign-in.
"""

from __future__ import annotations

import hmac
import secrets
import string
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

ALL_USERS = "all_users"
TAP_CONFIGURATION_ID = "TemporaryAccessPass"
SMS_CONFIGURATION_ID = "Sms"
# Learn: lifetimes are "between 10 and 43200 minutes (equivalent to 30 days)", the length
# "between 8 and 48 characters".
LIFETIME_RANGE = (10, 43200)
LENGTH_RANGE = (8, 48)

# Graph's passes mix letters, digits and symbols ("+drkzqAD", "TAPRocks!" in Learn's samples).
_PASS_ALPHABET = string.ascii_letters + string.digits + "!#$%&*+=?@"


@dataclass(frozen=True)
class MethodTarget:
    """An ``includeTargets`` entry: a group id or ``all_users``; SMS targets also say whether
    the method may be used to sign in (``isUsableForSignIn``), not only for MFA and SSPR."""

    id: str
    usable_for_sign_in: bool = True


def _everyone() -> list[MethodTarget]:
    return [MethodTarget(ALL_USERS)]


@dataclass
class TemporaryAccessPassPolicy:
    """``temporaryAccessPassAuthenticationMethodConfiguration``; the defaults are Entra's
    (Learn: "Configure Temporary Access Pass", default values table), enabled for all users."""

    state: str = "enabled"
    default_lifetime: int = 60
    minimum_lifetime: int = 60
    maximum_lifetime: int = 480
    is_usable_once: bool = False
    length: int = 8
    include: list[MethodTarget] = field(default_factory=_everyone)
    exclude: list[str] = field(default_factory=list)  # group ids


@dataclass
class SmsPolicy:
    """``smsAuthenticationMethodConfiguration``: enabled for all users, usable for sign-in."""

    state: str = "enabled"
    include: list[MethodTarget] = field(default_factory=_everyone)
    exclude: list[str] = field(default_factory=list)  # group ids


@dataclass
class AuthenticationMethodsPolicy:
    temporary_access_pass: TemporaryAccessPassPolicy = field(
        default_factory=TemporaryAccessPassPolicy)
    sms: SmsPolicy = field(default_factory=SmsPolicy)


def _matching(include: list[MethodTarget], exclude: list[str], state: str,
              groups: Collection[str]) -> list[MethodTarget]:
    """The include targets that reach a user in ``groups`` (ids), none when excluded."""
    if state != "enabled" or any(g in groups for g in exclude):
        return []
    return [t for t in include if t.id == ALL_USERS or t.id in groups]


def tap_allowed(policy: TemporaryAccessPassPolicy, groups: Collection[str]) -> bool:
    """Whether a user in ``groups`` may be given, and sign in with, a Temporary Access Pass."""
    return bool(_matching(policy.include, policy.exclude, policy.state, groups))


def sms_sign_in_allowed(policy: SmsPolicy, groups: Collection[str]) -> bool:
    """Whether a user in ``groups`` may use SMS to sign in: targeted, and by a target that is
    usable for sign-in (any one suffices)."""
    targets = _matching(policy.include, policy.exclude, policy.state, groups)
    return any(t.usable_for_sign_in for t in targets)


@dataclass
class TemporaryAccessPass:
    """A user's ``temporaryAccessPassAuthenticationMethod``; ``value`` is the pass itself."""

    id: str
    value: str
    created: datetime
    start: datetime
    lifetime_minutes: int
    is_usable_once: bool
    used: bool = False

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.lifetime_minutes)

    def matches(self, typed: str) -> bool:
        return hmac.compare_digest(self.value.encode(), typed.encode())

    def usability(self, allowed_by_policy: bool, now: datetime | None = None) -> str:
        """``methodUsabilityReason``: ``EnabledByPolicy`` when usable, else why not. The
        policy is checked first, then one-time use, then the validity window (Learn lists
        the reasons, not their order)."""
        now = now or datetime.now(UTC)
        if not allowed_by_policy:
            return "DisabledByPolicy"
        if self.is_usable_once and self.used:
            return "OneTimeUsed"
        if now >= self.end:
            return "Expired"
        if now < self.start:
            return "NotYetValid"
        return "EnabledByPolicy"


def new_pass(policy: TemporaryAccessPassPolicy, start: datetime | None, lifetime: int,
             is_usable_once: bool) -> TemporaryAccessPass:
    now = datetime.now(UTC)
    value = "".join(secrets.choice(_PASS_ALPHABET) for _ in range(policy.length))
    return TemporaryAccessPass(id=str(uuid.uuid4()), value=value, created=now,
                               start=start or now, lifetime_minutes=lifetime,
                               is_usable_once=is_usable_once)
