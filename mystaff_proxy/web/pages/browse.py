"""Finding someone: the start page, the location picker, a location's staff list, a
person's profile; and the page's static files and its not-found page."""

from __future__ import annotations

from dataclasses import replace
from typing import Final
from urllib.parse import quote, urlencode

from aiohttp import web

from mystaff_proxy.errors import ApiError
from mystaff_proxy.i18n import N_
from mystaff_proxy.staff.bulk_reset import MAX_PEOPLE
from mystaff_proxy.staff.check import Caller
from mystaff_proxy.web.authenticate import NoSession, SessionEnded, authenticate
from mystaff_proxy.web.cookies import session_from
from mystaff_proxy.web.keys import SESSION
from mystaff_proxy.web.pages.common import (
    RENEWED_SESSION,
    page,
    redirect,
    render,
    services,
    signed_out,
)
from mystaff_proxy.web.pages.profile_view import RESET_PASSWORD, profile_page

PAGE_SIZE: Final = 25
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
STATIC_CACHE: Final = "public, max-age=31536000, immutable"


async def index(request: web.Request) -> web.StreamResponse:
    """Signed out: the sign-in start. Signed in: straight to the location to work in."""
    try:
        caller = await authenticate(request)
    except NoSession:
        return render(request, "signin.html", sign_in="/auth/login?next=/")
    except SessionEnded:
        return signed_out(request)
    return await _pick_location(request, caller, remembered=True)


@page
async def locations(request: web.Request, caller: Caller) -> web.StreamResponse:
    return await _pick_location(request, caller, remembered=False)


async def _pick_location(request: web.Request, caller: Caller, *,
                         remembered: bool) -> web.StreamResponse:
    # A non-manager: insufficient_permissions.
    views = await services(request).staff.locations(caller)
    session = request[SESSION]
    if len(views) == 1:
        return redirect(f"/locations/{quote(views[0].id, safe='')}")
    if remembered and any(v.id == session.last_location for v in views):
        return redirect(f"/locations/{quote(session.last_location or '', safe='')}")
    return render(request, "locations.html", locations=views)


@page
async def staff_list(request: web.Request, caller: Caller) -> web.StreamResponse:
    svc = services(request)
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
    return render(request, "staff.html", location=here, several=len(views) > 1,
                  search=search, staff=result.items, next_url=next_url,
                  first_url=first_url if cursor else None,
                  base=f"/locations/{quote(loc, safe='')}", done=done,
                  bulk=RESET_PASSWORD in here.actions, max_people=MAX_PEOPLE)


@page
async def profile(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await profile_page(request, caller)
    done = DONE_MESSAGES.get(request.query.get("done", ""))
    return render(request, "profile.html", view=view, done=done)


async def static(request: web.Request) -> web.StreamResponse:
    asset = services(request).pages.static.get(request.match_info["name"])
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
