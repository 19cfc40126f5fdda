"""Phone-number (SMS) sign-in on the person's mobile: turn it on or off (after a
confirmation; the profile posts "off" directly)."""

from __future__ import annotations

from aiohttp import web

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.errors import ApiError
from mystaff_proxy.staff.check import Caller
from mystaff_proxy.staff.views import SMS_NO_MOBILE_MESSAGE, SMS_REFUSALS
from mystaff_proxy.web.pages.common import (
    change_page,
    page,
    profile_url,
    redirect,
    render,
    services,
)
from mystaff_proxy.web.pages.profile_view import MANAGE_SMS, ProfilePage, profile_page, require


def _sms_page(request: web.Request, view: ProfilePage, *, enable: bool,
              error: str | None = None) -> web.Response:
    return render(request, "sms_sign_in.html", status=409 if error else 200, view=view,
                  enable=enable, error=error)


async def _sms_form(request: web.Request, caller: Caller, enable: bool) -> web.Response:
    """The confirmation; or, when it cannot work, why (what the service would answer)."""
    view = await profile_page(request, caller)
    require(view, MANAGE_SMS)
    if view.sms is None:
        error: str | None = SMS_NO_MOBILE_MESSAGE
    else:
        error = SMS_REFUSALS.get(view.sms.state) if enable else None
    return _sms_page(request, view, enable=enable, error=error)


async def _sms_switch(request: web.Request, caller: Caller, enable: bool) -> web.Response:
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    try:
        await services(request).staff.switch_sms_sign_in(caller, loc, uid, enable)
    except ApiError as exc:
        if exc.code != "conflict":  # no mobile, a number not unique, not allowed: in words
            raise
        view = await profile_page(request, caller)
        return _sms_page(request, view, enable=enable, error=exc.message)
    return redirect(profile_url(loc, uid) + ("?done=sms_enabled" if enable
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
