"""Phone numbers: add one, change one, remove one (after a confirmation)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.errors import ApiError
from mystaff_proxy.i18n import N_
from mystaff_proxy.staff.check import Caller
from mystaff_proxy.staff.views import PHONE_TYPES
from mystaff_proxy.web.authenticate import posted_form
from mystaff_proxy.web.pages.common import (
    FORM_ERRORS,
    change_page,
    page,
    profile_url,
    redirect,
    render,
    services,
    text,
)
from mystaff_proxy.web.pages.profile_view import (
    MANAGE_PHONE,
    PHONE_LABELS,
    PhoneRow,
    ProfilePage,
    profile_page,
    require,
)

CONFLICT_REMOVE: Final = N_("Remove the alternate mobile number first; then the mobile number.")
CONFLICT_ADD: Final = N_("The person already has that type of number, or needs a mobile number " \
                         "before an alternate one.")


def _phone_type(request: web.Request) -> str:
    value = request.match_info["phoneType"]
    return value if value in PHONE_TYPES else ""


def _phone_row(view: ProfilePage, phone_type: str) -> PhoneRow:
    for row in view.phones:
        if row.type == phone_type:
            return row
    raise ApiError("not_found")


def _phone_form(request: web.Request, view: ProfilePage, *, phone_type: str | None,
                number: str, error: str | None = None) -> web.Response:
    """The add form (``phone_type`` None: a choice of type) or the change form."""
    return render(request, "phone_form.html", status=400 if error else 200, view=view,
                  phone_type=phone_type, labels=PHONE_LABELS, number=number, error=error,
                  region=services(request).settings.phones.default_region)


@page
async def phone_add_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await profile_page(request, caller)
    require(view, MANAGE_PHONE)
    if not view.addable:
        raise ApiError("conflict")
    return _phone_form(request, view, phone_type=None, number="")


@change_page(EventType.PHONE_ADDED)
async def phone_add(request: web.Request, caller: Caller) -> web.StreamResponse:
    form = await posted_form(request)
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    number = text(form, "phoneNumber")
    try:
        await services(request).staff.add_phone(caller, loc, uid, {
            "phoneType": text(form, "phoneType"), "phoneNumber": number})
    except ApiError as exc:
        if exc.code not in FORM_ERRORS:
            raise
        view = await profile_page(request, caller)
        message = CONFLICT_ADD if exc.code == "conflict" else exc.message
        return _phone_form(request, view, phone_type=None, number=number, error=message)
    return redirect(profile_url(loc, uid) + "?done=phone_added")


@page
async def phone_edit_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await profile_page(request, caller)
    require(view, MANAGE_PHONE)
    row = _phone_row(view, _phone_type(request))
    return _phone_form(request, view, phone_type=row.type, number=row.display)


@change_page(EventType.PHONE_CHANGED)
async def phone_edit(request: web.Request, caller: Caller) -> web.StreamResponse:
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    phone_type = _phone_type(request)
    number = text(await posted_form(request), "phoneNumber")
    try:
        await services(request).staff.change_phone(caller, loc, uid, phone_type,
                                                   {"phoneNumber": number})
    except ApiError as exc:
        if exc.code not in FORM_ERRORS:
            raise
        view = await profile_page(request, caller)
        return _phone_form(request, view, phone_type=phone_type, number=number,
                           error=exc.message)
    return redirect(profile_url(loc, uid) + "?done=phone_changed")


def _remove_page(request: web.Request, view: ProfilePage, row: PhoneRow, *,
                 error: str | None = None) -> web.Response:
    return render(request, "phone_remove.html", status=409 if error else 200, view=view,
                  row=row, error=error)


@page
async def phone_remove_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await profile_page(request, caller)
    require(view, MANAGE_PHONE)
    return _remove_page(request, view, _phone_row(view, _phone_type(request)))


@change_page(EventType.PHONE_REMOVED)
async def phone_remove(request: web.Request, caller: Caller) -> web.StreamResponse:
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    try:
        await services(request).staff.remove_phone(caller, loc, uid, _phone_type(request))
    except ApiError as exc:
        if exc.code != "conflict":
            raise
        view = await profile_page(request, caller)
        return _remove_page(request, view, _phone_row(view, _phone_type(request)),
                            error=CONFLICT_REMOVE)
    return redirect(profile_url(loc, uid) + "?done=phone_removed")
