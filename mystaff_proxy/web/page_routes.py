"""The managers' web page: thin handlers over ``StaffService``.

Every decision about who may see or do what is the service's; a handler only finds the
session, checks the form's CSRF token before anything else happens, calls the service and
renders what it answered. Service errors propagate as ``ApiError`` to the middleware, which
renders the error page (``Pages.error``); the few a manager can fix by retyping (a bad phone
number, a refused password, a phone-type conflict) or act on (passes turned off for the
organization, a number that already signs someone else in) are shown on the form instead.

URL map (each form page answers GET with the form and POST with the change)::

    /                                             sign-in start, or the manager's location
    /locations                                    location picker
    /locations/{loc}?search=&cursor=              staff list (a multi-select where the
                                                  manager may reset passwords)
    /locations/{loc}/password-resets?id=...       confirm, then reset the selected people's
                                                  passwords → each one's, once, as slips
    /locations/{loc}/staff/{uid}                  profile (?done= shows what just happened)
    /locations/{loc}/staff/{uid}/password         reset password → the temporary password, once
    /locations/{loc}/staff/{uid}/phones/add       add a phone number
    /locations/{loc}/staff/{uid}/phones/{t}/edit  change a phone number
    /locations/{loc}/staff/{uid}/phones/{t}/remove  confirm, then remove a phone number
    /locations/{loc}/staff/{uid}/temporary-access-pass  issue a Temporary Access Pass → it, once
    /locations/{loc}/staff/{uid}/temporary-access-pass/remove  confirm, then remove the pass
    /locations/{loc}/staff/{uid}/phone-methods/mobile/sms-sign-in/{enable,disable}
                                                  confirm, then turn phone-number sign-in on
                                                  or off (the profile posts "off" directly)
    /static/{name}                                stylesheet and script, cached by content hash
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, urlencode

from aiohttp import web

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.auth.sessions import Session
from mystaff_proxy.errors import ApiError
from mystaff_proxy.graph.sign_in_methods import AccessPass
from mystaff_proxy.i18n import N_, gettext, ngettext
from mystaff_proxy.phones import display_national
from mystaff_proxy.policy.model import PassRules
from mystaff_proxy.policy.passwords import grouped
from mystaff_proxy.staff.bulk_reset import MAX_PEOPLE, ResetEntry, reset_passwords, selected
from mystaff_proxy.staff.check import Caller
from mystaff_proxy.staff.views import (
    PHONE_TYPES,
    SMS_NO_MOBILE_MESSAGE,
    SMS_REFUSALS,
    LocationView,
    ProfileView,
)
from mystaff_proxy.web.authenticate import NoSession, SessionEnded, authenticate, csrf_field
from mystaff_proxy.web.cookies import clear_session_cookie, session_from, set_session_cookie
from mystaff_proxy.web.keys import SESSION
from mystaff_proxy.web.services import SERVICES, Services

PAGE_SIZE: Final = 25
RESET_PASSWORD: Final = "reset_password"
MANAGE_PHONE: Final = "manage_phone"
ISSUE_PASS: Final = "issue_temporary_access_pass"
MANAGE_SMS: Final = "manage_sms_sign_in"

PHONE_LABELS: Final = {"mobile": N_("Mobile phone"),
                       "alternateMobile": N_("Alternate mobile phone"),
                       "office": N_("Office phone")}
DONE_MESSAGES: Final = {"phone_added": N_("Phone number added."),
                        "phone_changed": N_("Phone number changed."),
                        "phone_removed": N_("Phone number removed."),
                        "bulk_already": N_("Those password resets were already done, and "
                                           "their temporary passwords shown once. To set "
                                           "others, select the people again."),
                        "reset_already": N_("That password reset was already done, and its "
                                            "temporary password shown once. To set another, "
                                            "reset again."),
                        "pass_already": N_("That Temporary Access Pass was already issued, and "
                                           "shown once. To give another, issue a new one: it "
                                           "replaces that one."),
                        "pass_removed": N_("Temporary Access Pass removed."),
                        "pass_gone": N_("There is no Temporary Access Pass to remove."),
                        "sms_enabled": N_("Phone-number sign-in is on."),
                        "sms_disabled": N_("Phone-number sign-in is off.")}
# Resets and passes this session already sent (the forms' "once" values), newest last: a
# reload of the result page re-posts the form, which must not do it a second time (the
# password or pass just read out to the person would stop working).
RESETS_DONE: Final = "resets_done"
PASSES_DONE: Final = "passes_done"
ONCE_REMEMBERED: Final = 5
# Lifetimes the pass form offers (minutes), with the policy's default; none above its maximum.
PASS_LIFETIMES: Final = (60, 240, 480, 1440)
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
# Errors a manager can correct on the same form: shown there, not on an error page.
FORM_ERRORS: Final = frozenset({"invalid_phone_number", "phone_number_not_allowed",
                                "password_rejected", "conflict", "invalid_request"})
CONFLICT_REMOVE: Final = N_("Remove the alternate mobile number first; then the mobile number.")
CONFLICT_ADD: Final = N_("The person already has that type of number, or needs a mobile number " \
                         "before an alternate one.")
# A pass form's refusals a manager can read and act on (passes turned off for the
# organization, a person its policy does not cover: "ask IT"), shown on the form.
PASS_FORM_ERRORS: Final = frozenset({"forbidden", "invalid_request"})
# smsSignInState values in which phone-number sign-in is switched on (so it can be turned off).
SMS_ON: Final = frozenset({"ready", "phoneNumberNotUnique"})
STATIC_CACHE: Final = "public, max-age=31536000, immutable"

PageHandler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A session the handler changed (the remembered location): the cookie is written again.
RENEWED_SESSION: web.RequestKey[Session] = web.RequestKey("renewed_session", Session)


# -- plumbing --------------------------------------------------------------------------------

def _redirect(location: str) -> web.Response:
    # 303: after a POST the browser must GET the next page (no resubmission on reload).
    return web.Response(status=303, headers={"Location": location})


def _sign_in(request: web.Request) -> web.Response:
    # A POST cannot be replayed after sign-in; send the manager back to the same page's form.
    target = request.path_qs if request.method == "GET" else request.path
    return _redirect("/auth/login?next=" + quote(target, safe="/"))


def _signed_out(request: web.Request) -> web.Response:
    """The session was ended because of the manager's account (standing.py): the cookie
    goes, and the next step is Entra's sign-in, which explains a disabled account itself."""
    response = _sign_in(request)
    clear_session_cookie(request, response)
    return response


def page(handler: PageHandler) -> RouteHandler:
    """A signed-in page: no session → sign-in; a POST without the right CSRF token → refused
    before the handler (and so the service) runs; the idle deadline moved when due."""
    return _page(handler, None)


def change_page(event: EventType) -> Callable[[PageHandler], RouteHandler]:
    """A form that changes something: a refused CSRF token is audited as that change
    refused (``event``, ``csrf_failed``), with the location and person the URL names."""
    return lambda handler: _page(handler, event)


def _page(handler: PageHandler, event: EventType | None) -> RouteHandler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            caller = await authenticate(
                request, csrf=csrf_field if request.method == "POST" else None, event=event)
        except NoSession:
            return _sign_in(request)
        except SessionEnded:
            return _signed_out(request)
        session = request[SESSION]
        response = await handler(request, caller)
        renewed = request.get(RENEWED_SESSION)
        renewed = _svc(request).sessions.touched(renewed or session) or renewed
        if renewed is not None:
            set_session_cookie(request, response, renewed)
        return response

    return wrapped


async def _form(request: web.Request) -> Mapping[str, Any]:
    return await request.post()


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _svc(request: web.Request) -> Services:
    return request.app[SERVICES]


def _render(request: web.Request, template: str, *, status: int = 200,
            **context: Any) -> web.Response:
    return _svc(request).pages.render(request, template, status=status, **context)


async def _location(request: web.Request, caller: Caller, loc: str) -> LocationView:
    for view in await _svc(request).staff.locations(caller):
        if view.id == loc:
            return view
    raise ApiError("not_found")  # the service refused first; this is only a safety net


def _profile_url(loc: str, uid: str) -> str:
    return f"/locations/{quote(loc, safe='')}/staff/{quote(uid, safe='')}"


# -- what a profile shows ------------------------------------------------------------------

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


async def _profile_page(request: web.Request, caller: Caller, *,
                        for_pass: bool = False) -> ProfilePage:
    """``for_pass``: the profile read also takes the tenant's pass settings, so the pass that
    follows in the same request needs no second check (2 round trips, as through the API)."""
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    svc = _svc(request)
    profile = await svc.staff.profile(caller, loc, uid, with_pass_policy=for_pass)
    location = await _location(request, caller, loc)
    region = svc.settings.phones.default_region
    phones = tuple(PhoneRow(p.phone_type, PHONE_LABELS.get(p.phone_type, p.phone_type),
                            display_national(p.phone_number, region))
                   for p in sorted(profile.phones, key=lambda p: _type_order(p.phone_type)))
    protected_why = None
    if profile.protected_reason is not None:
        protected_why = PROTECTED_REASONS.get(profile.protected_reason,
                                              PROTECTED_REASONS["protected_user"])
    return ProfilePage(profile, location, _profile_url(loc, profile.id), phones,
                       _why_not(RESET_PASSWORD, profile, location),
                       _why_not(MANAGE_PHONE, profile, location), _addable(profile),
                       protected_why, _pass_row(profile.access_pass),
                       _why_not(ISSUE_PASS, profile, location), _sms_row(profile, region),
                       _why_not(MANAGE_SMS, profile, location))


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _moment(moment: datetime | None) -> Moment | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return Moment(moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  gettext("%(month)s %(day)d, %(time)s UTC") % {
                      "month": gettext(_MONTHS[moment.month - 1]), "day": moment.day,
                      "time": f"{moment:%H:%M}"})


def _until(start: datetime | None, minutes: int | None) -> datetime | None:
    return start + timedelta(minutes=minutes) if start is not None and minutes else None


# Graph's methodUsabilityReason, as the profile tells it (PassRow.state).
_PASS_STATES: Final = {"OneTimeUsed": "used", "Expired": "expired", "NotYetValid": "not_yet",
                       "DisabledByPolicy": "blocked"}


def _pass_row(found: AccessPass | None) -> PassRow | None:
    if found is None:
        return None
    start = _when(found.start)
    state = "usable" if found.usable else _PASS_STATES.get(found.usability_reason or "",
                                                           "unusable")
    return PassRow(state, _moment(start), _moment(_until(start, found.lifetime_minutes)),
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


def _duration(minutes: int) -> str:
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


def _require(view: ProfilePage, action: str) -> None:
    """A form page for an action the profile does not offer: the error the service would give."""
    if action not in view.profile.actions:
        raise ApiError("protected_user" if view.profile.protected_reason else "forbidden")


def _phone_type(request: web.Request) -> str:
    value = request.match_info["phoneType"]
    return value if value in PHONE_TYPES else ""


def _phone_row(view: ProfilePage, phone_type: str) -> PhoneRow:
    for row in view.phones:
        if row.type == phone_type:
            return row
    raise ApiError("not_found")


# -- pages -----------------------------------------------------------------------------------

async def index(request: web.Request) -> web.StreamResponse:
    """Signed out: the sign-in start. Signed in: straight to the location to work in."""
    try:
        caller = await authenticate(request)
    except NoSession:
        return _render(request, "signin.html", sign_in="/auth/login?next=/")
    except SessionEnded:
        return _signed_out(request)
    return await _pick_location(request, caller, remembered=True)


@page
async def locations(request: web.Request, caller: Caller) -> web.StreamResponse:
    return await _pick_location(request, caller, remembered=False)


async def _pick_location(request: web.Request, caller: Caller, *,
                         remembered: bool) -> web.StreamResponse:
    views = await _svc(request).staff.locations(caller)  # a non-manager: insufficient_permissions
    session = request[SESSION]
    if len(views) == 1:
        return _redirect(f"/locations/{quote(views[0].id, safe='')}")
    if remembered and any(v.id == session.last_location for v in views):
        return _redirect(f"/locations/{quote(session.last_location or '', safe='')}")
    return _render(request, "locations.html", locations=views)


@page
async def staff_list(request: web.Request, caller: Caller) -> web.StreamResponse:
    svc = _svc(request)
    loc = request.match_info["loc"]
    search = request.query.get("search", "")
    cursor = request.query.get("cursor") or None
    result = await svc.staff.staff_page(caller, loc, search=search, top=PAGE_SIZE,
                                        cursor=cursor)
    views = await svc.staff.locations(caller)
    here = next((v for v in views if v.id == loc), None)
    if here is None:
        raise ApiError("not_found")
    session = request[SESSION]
    done = DONE_MESSAGES.get(request.query.get("done", "")) if not cursor else None
    if session.last_location != loc:
        request[RENEWED_SESSION] = replace(session, last_location=loc)
    next_url = None
    if result.next_cursor:
        query = {"search": search, "cursor": result.next_cursor} if search \
            else {"cursor": result.next_cursor}
        next_url = "?" + urlencode(query)
    first_url = ("?" + urlencode({"search": search})) if search else "?"
    return _render(request, "staff.html", location=here, several=len(views) > 1,
                   search=search, staff=result.items, next_url=next_url,
                   first_url=first_url if cursor else None,
                   base=f"/locations/{quote(loc, safe='')}", done=done,
                   bulk=RESET_PASSWORD in here.actions, max_people=MAX_PEOPLE)


@page
async def profile(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await _profile_page(request, caller)
    done = DONE_MESSAGES.get(request.query.get("done", ""))
    return _render(request, "profile.html", view=view, done=done)


def _password_form(request: web.Request, view: ProfilePage, *, error: str | None = None,
                   mode: str = "generate") -> web.Response:
    current = _svc(request).policy.current
    typed_allowed = current is not None and current.policy.password.allow_manager_entered
    return _render(request, "password.html", status=400 if error else 200, view=view,
                   typed_allowed=typed_allowed, error=error, mode=mode,
                   once=secrets.token_urlsafe(12))


@page
async def password_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await _profile_page(request, caller)
    _require(view, RESET_PASSWORD)
    return _password_form(request, view)


@change_page(EventType.PASSWORD_RESET)
async def password_reset(request: web.Request, caller: Caller) -> web.StreamResponse:
    # The profile is read first so that nothing can fail after the password has changed:
    # a temporary password that is set but never shown would lock the person out.
    view = await _profile_page(request, caller)
    form = await _form(request)
    once = _text(form, "once")[:32]
    if _done_before(request, RESETS_DONE, once):
        return _redirect(f"{view.url}?done=reset_already")
    mode = "enter" if _text(form, "mode") == "enter" else "generate"
    body = {"password": _text(form, "password")} if mode == "enter" else {}
    try:
        reset = await _svc(request).staff.reset_password(
            caller, view.location.id, view.profile.id, body)
    except ApiError as exc:
        if exc.code not in FORM_ERRORS:
            raise
        return _password_form(request, view, error=exc.message, mode=mode)
    _remember_done(request, RESETS_DONE, once)
    response = _render(request, "password_done.html", view=view, password=reset.password,
                       confirmed=reset.confirmed)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- bulk reset: the staff list's multi-select, a confirmation, the slips --------------------

@dataclass(frozen=True)
class Slip:
    """One person's outcome of a bulk reset as the result page (and its print) shows it."""

    entry: ResetEntry
    groups: tuple[str, ...]  # the password in groups for reading aloud; () without one
    separator: str  # what joins the groups back into the password


def _slip(entry: ResetEntry) -> Slip:
    if entry.password is None:
        return Slip(entry, (), "")
    groups = grouped(entry.password)
    return Slip(entry, groups, "-" if "-".join(groups) == entry.password else "")


def _bulk_ids(values: list[str]) -> list[str]:
    """The selected ids as sent (duplicates dropped, at most one over the limit kept, so
    that too many is refused rather than cut short)."""
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))[:MAX_PEOPLE + 1]


@page
async def bulk_reset_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    loc = request.match_info["loc"]
    base = f"/locations/{quote(loc, safe='')}"
    ids = _bulk_ids(request.query.getall("id", []))
    if not ids:  # nobody selected (a page without JavaScript): back to the list
        return _redirect(base)
    people = await selected(_svc(request).staff, caller, loc, ids)
    if not people:
        raise ApiError("not_found")
    location = await _location(request, caller, loc)
    return _render(request, "bulk_confirm.html", location=location, people=people, base=base,
                   once=secrets.token_urlsafe(12))


@change_page(EventType.PASSWORD_RESET)
async def bulk_reset(request: web.Request, caller: Caller) -> web.StreamResponse:
    loc = request.match_info["loc"]
    base = f"/locations/{quote(loc, safe='')}"
    form = await request.post()  # read already, by the CSRF check
    once = _text(form, "once")[:32]
    if _done_before(request, RESETS_DONE, once):
        return _redirect(f"{base}?done=bulk_already")
    ids = _bulk_ids([v for v in form.getall("id", []) if isinstance(v, str)])
    location = await _location(request, caller, loc)
    entries = await reset_passwords(_svc(request).staff, caller, loc, {"userIds": ids})
    _remember_done(request, RESETS_DONE, once)
    slips = [_slip(e) for e in entries]
    response = _render(request, "bulk_done.html", location=location, base=base, slips=slips,
                       reset=sum(1 for s in slips if s.groups))
    response.headers["Cache-Control"] = "no-store"
    return response


def _done_before(request: web.Request, key: str, once: str) -> bool:
    """Whether this session already sent the form whose one-time value is ``once``."""
    session: Session = request[SESSION]
    return bool(once) and once in session.extra.get(key, [])


def _remember_done(request: web.Request, key: str, once: str) -> None:
    """Remember a form sent (in the session the response writes back)."""
    if not once:
        return
    session: Session = request.get(RENEWED_SESSION) or request[SESSION]
    done: list[str] = list(session.extra.get(key, []))
    request[RENEWED_SESSION] = replace(
        session, extra={**session.extra, key: [*done, once][-ONCE_REMEMBERED:]})


def _phone_form(request: web.Request, view: ProfilePage, *, phone_type: str | None,
                number: str, error: str | None = None) -> web.Response:
    """The add form (``phone_type`` None: a choice of type) or the change form."""
    return _render(request, "phone_form.html", status=400 if error else 200, view=view,
                   phone_type=phone_type, labels=PHONE_LABELS, number=number, error=error,
                   region=_svc(request).settings.phones.default_region)


@page
async def phone_add_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await _profile_page(request, caller)
    _require(view, MANAGE_PHONE)
    if not view.addable:
        raise ApiError("conflict")
    return _phone_form(request, view, phone_type=None, number="")


@change_page(EventType.PHONE_ADDED)
async def phone_add(request: web.Request, caller: Caller) -> web.StreamResponse:
    form = await _form(request)
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    number = _text(form, "phoneNumber")
    try:
        await _svc(request).staff.add_phone(caller, loc, uid, {
            "phoneType": _text(form, "phoneType"), "phoneNumber": number})
    except ApiError as exc:
        if exc.code not in FORM_ERRORS:
            raise
        view = await _profile_page(request, caller)
        message = CONFLICT_ADD if exc.code == "conflict" else exc.message
        return _phone_form(request, view, phone_type=None, number=number, error=message)
    return _redirect(_profile_url(loc, uid) + "?done=phone_added")


@page
async def phone_edit_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await _profile_page(request, caller)
    _require(view, MANAGE_PHONE)
    row = _phone_row(view, _phone_type(request))
    return _phone_form(request, view, phone_type=row.type, number=row.display)


@change_page(EventType.PHONE_CHANGED)
async def phone_edit(request: web.Request, caller: Caller) -> web.StreamResponse:
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    phone_type = _phone_type(request)
    number = _text(await _form(request), "phoneNumber")
    try:
        await _svc(request).staff.change_phone(caller, loc, uid, phone_type,
                                               {"phoneNumber": number})
    except ApiError as exc:
        if exc.code not in FORM_ERRORS:
            raise
        view = await _profile_page(request, caller)
        return _phone_form(request, view, phone_type=phone_type, number=number,
                           error=exc.message)
    return _redirect(_profile_url(loc, uid) + "?done=phone_changed")


def _remove_page(request: web.Request, view: ProfilePage, row: PhoneRow, *,
                 error: str | None = None) -> web.Response:
    return _render(request, "phone_remove.html", status=409 if error else 200, view=view,
                   row=row, error=error)


@page
async def phone_remove_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await _profile_page(request, caller)
    _require(view, MANAGE_PHONE)
    return _remove_page(request, view, _phone_row(view, _phone_type(request)))


@change_page(EventType.PHONE_REMOVED)
async def phone_remove(request: web.Request, caller: Caller) -> web.StreamResponse:
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    try:
        await _svc(request).staff.remove_phone(caller, loc, uid, _phone_type(request))
    except ApiError as exc:
        if exc.code != "conflict":
            raise
        view = await _profile_page(request, caller)
        return _remove_page(request, view, _phone_row(view, _phone_type(request)),
                            error=CONFLICT_REMOVE)
    return _redirect(_profile_url(loc, uid) + "?done=phone_removed")


# -- sign-in methods: Temporary Access Pass, phone-number (SMS) sign-in -----------------------

def _pass_rules(request: web.Request) -> PassRules:
    current = _svc(request).policy.current
    return current.policy.temporary_access_pass if current is not None else PassRules()


def _lifetimes(rules: PassRules) -> list[tuple[int, str]]:
    """The form's choice: the policy's default and the usual hours, within its maximum."""
    offered = {m for m in PASS_LIFETIMES if m <= rules.max_lifetime_minutes}
    return [(m, _duration(m)) for m in sorted(offered | {rules.lifetime_minutes})]


def _pass_form(request: web.Request, view: ProfilePage, *, error: str | None = None,
               status: int = 200, lifetime: int | None = None,
               single_use: bool = True) -> web.Response:
    rules = _pass_rules(request)
    return _render(request, "pass_form.html", status=status if error else 200, view=view,
                   error=error, lifetimes=_lifetimes(rules),
                   chosen=lifetime or rules.lifetime_minutes, one_time_fixed=rules.one_time,
                   single_use=single_use or rules.one_time, once=secrets.token_urlsafe(12))


@page
async def pass_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await _profile_page(request, caller)
    _require(view, ISSUE_PASS)
    return _pass_form(request, view)


def _lifetime_field(form: Mapping[str, Any]) -> int | str | None:
    """The chosen lifetime in minutes; anything else is sent as it is, for the service to
    refuse (``invalid_request``), and nothing chosen means the policy's default."""
    raw = _text(form, "lifetimeMinutes").strip()
    if not raw:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else raw


@change_page(EventType.TEMPORARY_ACCESS_PASS_ISSUED)
async def pass_issue(request: web.Request, caller: Caller) -> web.StreamResponse:
    # As for a password reset, the profile is read first: nothing may fail between the pass
    # being made and shown (a pass never shown would still replace the one the person has).
    view = await _profile_page(request, caller, for_pass=True)
    form = await _form(request)
    once = _text(form, "once")[:32]
    if _done_before(request, PASSES_DONE, once):
        return _redirect(f"{view.url}?done=pass_already")
    body: dict[str, Any] = {}
    lifetime = _lifetime_field(form)
    if lifetime is not None:
        body["lifetimeMinutes"] = lifetime
    single_use = True
    if not _pass_rules(request).one_time:  # else the policy's one-time use, not asked
        single_use = body["isUsableOnce"] = _text(form, "isUsableOnce") == "true"
    try:
        issued = await _svc(request).staff.issue_access_pass(
            caller, view.location.id, view.profile.id, body)
    except ApiError as exc:
        if exc.code not in PASS_FORM_ERRORS:
            raise
        return _pass_form(request, view, error=exc.message, status=exc.status,
                          lifetime=lifetime if isinstance(lifetime, int) else None,
                          single_use=single_use)
    _remember_done(request, PASSES_DONE, once)
    start = _when(issued.start) or datetime.now(UTC)
    response = _render(request, "pass_done.html", view=view, code=issued.code,
                       lifetime=_duration(issued.lifetime_minutes),
                       until=_moment(_until(start, issued.lifetime_minutes)),
                       single_use=issued.usable_once, replaced=view.pass_row is not None)
    response.headers["Cache-Control"] = "no-store"
    return response


@page
async def pass_remove_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await _profile_page(request, caller)
    _require(view, ISSUE_PASS)
    if view.pass_row is None:
        return _redirect(f"{view.url}?done=pass_gone")
    return _render(request, "pass_remove.html", view=view)


@change_page(EventType.TEMPORARY_ACCESS_PASS_REMOVED)
async def pass_remove(request: web.Request, caller: Caller) -> web.StreamResponse:
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    try:
        await _svc(request).staff.remove_access_pass(caller, loc, uid)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        # The person is here, without a pass (removed meanwhile, e.g. a second tap): say so.
        # Not here at all: the profile raises the same not_found.
        view = await _profile_page(request, caller)
        if view.pass_row is not None:
            raise
        return _redirect(f"{view.url}?done=pass_gone")
    return _redirect(_profile_url(loc, uid) + "?done=pass_removed")


def _sms_page(request: web.Request, view: ProfilePage, *, enable: bool,
              error: str | None = None) -> web.Response:
    return _render(request, "sms_sign_in.html", status=409 if error else 200, view=view,
                   enable=enable, error=error)


async def _sms_form(request: web.Request, caller: Caller, enable: bool) -> web.Response:
    """The confirmation; or, when it cannot work, why (what the service would answer)."""
    view = await _profile_page(request, caller)
    _require(view, MANAGE_SMS)
    if view.sms is None:
        error: str | None = SMS_NO_MOBILE_MESSAGE
    else:
        error = SMS_REFUSALS.get(view.sms.state) if enable else None
    return _sms_page(request, view, enable=enable, error=error)


async def _sms_switch(request: web.Request, caller: Caller, enable: bool) -> web.Response:
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    try:
        await _svc(request).staff.switch_sms_sign_in(caller, loc, uid, enable)
    except ApiError as exc:
        if exc.code != "conflict":  # no mobile, a number not unique, not allowed: in words
            raise
        view = await _profile_page(request, caller)
        return _sms_page(request, view, enable=enable, error=exc.message)
    return _redirect(_profile_url(loc, uid) + ("?done=sms_enabled" if enable
                                                else "?done=sms_disabled"))


@page
async def sms_enable_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    return await _sms_form(request, caller, True)


@change_page(EventType.SMS_SIGN_IN_ENABLED)
async def sms_enable(request: web.Request, caller: Caller) -> web.StreamResponse:
    return await _sms_switch(request, caller, True)


@page
async def sms_disable_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    return await _sms_form(request, caller, False)


@change_page(EventType.SMS_SIGN_IN_DISABLED)
async def sms_disable(request: web.Request, caller: Caller) -> web.StreamResponse:
    return await _sms_switch(request, caller, False)


async def static(request: web.Request) -> web.StreamResponse:
    asset = _svc(request).pages.static.get(request.match_info["name"])
    if asset is None:
        raise ApiError("not_found")
    # Versioned URLs (?v=hash) never change content: cache them for a year.
    cache = STATIC_CACHE if request.query.get("v") == asset.etag else "no-cache"
    headers = {"Cache-Control": cache, "ETag": f'"{asset.etag}"'}
    if request.headers.get("If-None-Match") == f'"{asset.etag}"':
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, content_type=asset.content_type, charset="utf-8",
                        headers=headers)


async def not_found(request: web.Request) -> web.StreamResponse:
    session = await session_from(request)
    if session is not None:
        request[SESSION] = session
    raise ApiError("not_found")


def setup_page_routes(app: web.Application) -> None:
    person = "/locations/{loc}/staff/{userId}"
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/locations", locations)
    app.router.add_get("/locations/{loc}", staff_list)
    app.router.add_get("/locations/{loc}/password-resets", bulk_reset_form)
    app.router.add_post("/locations/{loc}/password-resets", bulk_reset)
    app.router.add_get(person, profile)
    app.router.add_get(person + "/password", password_form)
    app.router.add_post(person + "/password", password_reset)
    app.router.add_get(person + "/phones/add", phone_add_form)
    app.router.add_post(person + "/phones/add", phone_add)
    app.router.add_get(person + "/phones/{phoneType}/edit", phone_edit_form)
    app.router.add_post(person + "/phones/{phoneType}/edit", phone_edit)
    app.router.add_get(person + "/phones/{phoneType}/remove", phone_remove_form)
    app.router.add_post(person + "/phones/{phoneType}/remove", phone_remove)
    app.router.add_get(person + "/temporary-access-pass", pass_form)
    app.router.add_post(person + "/temporary-access-pass", pass_issue)
    app.router.add_get(person + "/temporary-access-pass/remove", pass_remove_form)
    app.router.add_post(person + "/temporary-access-pass/remove", pass_remove)
    sms = person + "/phone-methods/mobile/sms-sign-in"
    app.router.add_get(sms + "/enable", sms_enable_form)
    app.router.add_post(sms + "/enable", sms_enable)
    app.router.add_get(sms + "/disable", sms_disable_form)
    app.router.add_post(sms + "/disable", sms_disable)
    # Any other page (not the JSON API, which answers for itself): the not-found page.
    app.router.add_get(r"/{tail:(?!api/).*}", not_found)
