"""What the staff service answers with, and the sentences a manager reads when Graph's state
makes a change impossible: shared by the capabilities (staff/*.py) and the web layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mystaff_proxy.graph.operations import PhoneMethod, StaffSummary
from mystaff_proxy.graph.sign_in_methods import AccessPass
from mystaff_proxy.i18n import N_

PHONE_TYPES = ("mobile", "alternateMobile", "office")

SMS_NO_MOBILE_MESSAGE = N_("This person has no mobile number; add one first.")
#: smsSignInState values that make enabling impossible, as a manager can read them.
SMS_REFUSALS: Final = {
    "phoneNumberNotUnique": N_("This number already signs someone else in; each person needs "
                               "their own mobile number for phone sign-in."),
    "notAllowedByPolicy": N_("Your organization does not allow phone sign-in for this person "
                             "(SMS authentication policy). Ask IT."),
    "notSupported": N_("Phone sign-in is not available for this number."),
    "notConfigured": N_("Phone sign-in is not set up for this number yet; try again later."),
}


@dataclass(frozen=True)
class PasswordReset:
    """A reset's answer: the temporary password, shown once; ``confirmed`` False when Entra
    accepted it but the manager's role may not read its outcome (manager mode)."""

    password: str
    confirmed: bool = True


@dataclass(frozen=True)
class LocationView:
    id: str
    name: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class StaffPageView:
    items: tuple[StaffSummary, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class ProfileView:
    id: str
    display_name: str
    user_principal_name: str
    mail: str | None
    job_title: str | None
    actions: tuple[str, ...]
    phones: tuple[PhoneMethod, ...]
    protected_reason: str | None  # why no change is possible (for the page), else None
    access_pass: AccessPass | None = None  # the person's Temporary Access Pass (never the pass)
