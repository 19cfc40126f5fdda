"""What a profile shows (``ProfilePage``): the person's phones, pass and phone-number sign-in
as rows, and for each action either nothing (possible now) or why not, in the manager's
words; with the time and duration wording the pass pages share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from aiohttp import web

from mystaff_proxy.errors import ApiError
from mystaff_proxy.graph.sign_in_methods import AccessPass
from mystaff_proxy.i18n import N_, gettext, ngettext
from mystaff_proxy.phones import display_national
from mystaff_proxy.staff.check import Caller
from mystaff_proxy.staff.views import PHONE_TYPES, LocationView, ProfileView
from mystaff_proxy.web.pages.common import find_location, profile_url, services

RESET_PASSWORD: Final = "reset_password"
MANAGE_PHONE: Final = "manage_phone"
ISSUE_PASS: Final = "issue_temporary_access_pass"
MANAGE_SMS: Final = "manage_sms_sign_in"

PHONE_LABELS: Final = {"mobile": N_("Mobile phone"),
                       "alternateMobile": N_("Alternate mobile phone"),
                       "office": N_("Office phone")}
# Why an action is greyed out on a profile, in the manager's words.
PROTECTED_REASONS: Final = {
    "self": N_("You can't manage your own account here."),
    "admin": N_("Administrators can't be managed here."),
    "eligible_admin": N_("Administrators can't be managed here."),
    "owner": N_("This account owns applications or admin groups; contact your admin."),
    "manager": N_("Managers can't be managed here by someone who doesn't manage more; "
                  "contact your admin."),
    "protected_user": N_("This account is protected; contact your admin."),
    "protected_group": N_("This account is protected; contact your admin."),
}
NOT_HERE: Final = N_("Not allowed at this location.")
NOT_NOW: Final = N_("Not available right now; try again in a minute.")
# smsSignInState values in which phone-number sign-in is switched on (so it can be turned off).
SMS_ON: Final = frozenset({"ready", "phoneNumberNotUnique"})


@dataclass(frozen=True)
class PhoneRow:
    type: str
    label: str
    display: str


@dataclass(frozen=True)
class Moment:
    """A time as a page shows it: UTC in the HTML, the device's own zone once app.js ran."""

    iso: str  # for <time datetime>
    text: str


@dataclass(frozen=True)
class PassRow:
    """The person's Temporary Access Pass, as the profile tells it (never the pass)."""

    #: usable | used | expired | not_yet | blocked (by the tenant's policy) | unusable
    state: str
    start: Moment | None
    end: Moment | None
    usable_once: bool


@dataclass(frozen=True)
class SmsRow:
    """Phone-number sign-in on the person's mobile: its state, and what this manager may do."""

    state: str  # Graph's smsSignInState ("" when Graph did not say)
    number: str
    can_enable: bool
    can_disable: bool


@dataclass(frozen=True)
class ProfilePage:
    """A profile as the templates see it: actions possible now, or why not."""

    profile: ProfileView
    location: LocationView
    url: str
    phones: tuple[PhoneRow, ...]
    reset_why_not: str | None
    phone_why_not: str | None
    addable: tuple[str, ...]
    protected_why: str | None = None  # the one explanation for a protected person
    pass_row: PassRow | None = None
    pass_why_not: str | None = None
    sms: SmsRow | None = None  # None: no mobile
    sms_why_not: str | None = None

    @property
    def offers_pass(self) -> bool:
        """Passes are something this manager does here (else the page does not mention them)."""
        return ISSUE_PASS in self.location.actions

    @property
    def offers_sms(self) -> bool:
        return MANAGE_SMS in self.location.actions


def _why_not(action: str, profile: ProfileView, location: LocationView) -> str | None:
    if action in profile.actions:
        return None
    if action not in location.actions:
        return NOT_HERE
    if profile.protected_reason is not None:
        return PROTECTED_REASONS.get(profile.protected_reason, PROTECTED_REASONS["protected_user"])
    return NOT_NOW


def _addable(profile: ProfileView) -> tuple[str, ...]:
    """Phone types an add can offer (the service decides; this only avoids a useless choice)."""
    have = {p.phone_type for p in profile.phones}
    return tuple(t for t in PHONE_TYPES
                 if t not in have and (t != "alternateMobile" or "mobile" in have))


async def profile_page(request: web.Request, caller: Caller, *,
                       for_pass: bool = False) -> ProfilePage:
    """``for_pass``: the profile read also takes the tenant's pass settings, so the pass that
    follows in the same request needs no second check (2 round trips, as through the API)."""
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    svc = services(request)
    profile = await svc.staff.profile(caller, loc, uid, with_pass_policy=for_pass)
    location = await find_location(request, caller, loc)
    region = svc.settings.phones.default_region
    phones = tuple(PhoneRow(p.phone_type, PHONE_LABELS.get(p.phone_type, p.phone_type),
                            display_national(p.phone_number, region))
                   for p in sorted(profile.phones, key=lambda p: _type_order(p.phone_type)))
    protected_why = None
    if profile.protected_reason is not None:
        protected_why = PROTECTED_REASONS.get(profile.protected_reason,
                                              PROTECTED_REASONS["protected_user"])
    return ProfilePage(profile, location, profile_url(loc, profile.id), phones,
                       _why_not(RESET_PASSWORD, profile, location),
                       _why_not(MANAGE_PHONE, profile, location), _addable(profile),
                       protected_why, _pass_row(profile.access_pass),
                       _why_not(ISSUE_PASS, profile, location), _sms_row(profile, region),
                       _why_not(MANAGE_SMS, profile, location))


def when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def as_moment(moment: datetime | None) -> Moment | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return Moment(moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  gettext("%(month)s %(day)d, %(time)s UTC") % {
                      "month": gettext(_MONTHS[moment.month - 1]), "day": moment.day,
                      "time": f"{moment:%H:%M}"})


def until(start: datetime | None, minutes: int | None) -> datetime | None:
    return start + timedelta(minutes=minutes) if start is not None and minutes else None


# Graph's methodUsabilityReason, as the profile tells it (PassRow.state).
_PASS_STATES: Final = {"OneTimeUsed": "used", "Expired": "expired", "NotYetValid": "not_yet",
                       "DisabledByPolicy": "blocked"}


def _pass_row(found: AccessPass | None) -> PassRow | None:
    if found is None:
        return None
    start = when(found.start)
    state = "usable" if found.usable else _PASS_STATES.get(found.usability_reason or "",
                                                           "unusable")
    return PassRow(state, as_moment(start), as_moment(until(start, found.lifetime_minutes)),
                   found.usable_once is True)


def _sms_row(profile: ProfileView, region: str) -> SmsRow | None:
    mobile = next((p for p in profile.phones if p.phone_type == "mobile"), None)
    if mobile is None:
        return None
    state = mobile.sms_sign_in_state or ""
    allowed = MANAGE_SMS in profile.actions
    return SmsRow(state, display_national(mobile.phone_number, region),
                  can_enable=allowed and state == "notEnabled",
                  can_disable=allowed and state in SMS_ON)


_MONTHS: Final = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"), N_("Jul"),
                  N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))


def duration(minutes: int) -> str:
    """``90`` → "1 hour 30 minutes"; ``1440`` → "1 day" (in the request's language)."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [ngettext("%(num)d day", "%(num)d days", days) % {"num": days} if days else "",
             ngettext("%(num)d hour", "%(num)d hours", hours) % {"num": hours} if hours else "",
             ngettext("%(num)d minute", "%(num)d minutes", mins) % {"num": mins} if mins else ""]
    return " ".join(p for p in parts if p) or ngettext(
        "%(num)d minute", "%(num)d minutes", 0) % {"num": 0}


def _type_order(phone_type: str) -> int:
    return PHONE_TYPES.index(phone_type) if phone_type in PHONE_TYPES else len(PHONE_TYPES)


def require(view: ProfilePage, action: str) -> None:
    """A form page for an action the profile does not offer: the error the service would give."""
    if action not in view.profile.actions:
        raise ApiError("protected_user" if view.profile.protected_reason else "forbidden")
