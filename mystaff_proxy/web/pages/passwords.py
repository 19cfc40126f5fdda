"""Password resets: one person's (the profile's form → the temporary password, once) and a
bulk reset (the staff list's multi-select, a confirmation, the slips)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.errors import ApiError
from mystaff_proxy.policy.passwords import grouped
from mystaff_proxy.staff.bulk_reset import MAX_PEOPLE, ResetEntry, reset_passwords, selected
from mystaff_proxy.staff.check import Caller
from mystaff_proxy.web.authenticate import posted_form
from mystaff_proxy.web.pages.common import (
    FORM_ERRORS,
    RESETS_DONE,
    change_page,
    done_before,
    find_location,
    page,
    redirect,
    remember_done,
    render,
    services,
    text,
)
from mystaff_proxy.web.pages.profile_view import (
    RESET_PASSWORD,
    ProfilePage,
    profile_page,
    require,
)


def _password_form(request: web.Request, view: ProfilePage, *, error: str | None = None,
                   mode: str = "generate") -> web.Response:
    current = services(request).policy.current
    typed_allowed = current is not None and current.policy.password.allow_manager_entered
    return render(request, "password.html", status=400 if error else 200, view=view,
                  typed_allowed=typed_allowed, error=error, mode=mode,
                  once=secrets.token_urlsafe(12))


@page
async def password_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await profile_page(request, caller)
    require(view, RESET_PASSWORD)
    return _password_form(request, view)


@change_page(EventType.PASSWORD_RESET)
async def password_reset(request: web.Request, caller: Caller) -> web.StreamResponse:
    # The profile is read first so that nothing can fail after the password has changed:
    # a temporary password that is set but never shown would lock the person out.
    view = await profile_page(request, caller)
    form = await posted_form(request)
    once = text(form, "once")[:32]
    if done_before(request, RESETS_DONE, once):
        return redirect(f"{view.url}?done=reset_already")
    mode = "enter" if text(form, "mode") == "enter" else "generate"
    body = {"password": text(form, "password")} if mode == "enter" else {}
    try:
        reset = await services(request).staff.reset_password(
            caller, view.location.id, view.profile.id, body)
    except ApiError as exc:
        if exc.code not in FORM_ERRORS:
            raise
        return _password_form(request, view, error=exc.message, mode=mode)
    remember_done(request, RESETS_DONE, once)
    response = render(request, "password_done.html", view=view, password=reset.password,
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
        return redirect(base)
    people = await selected(services(request).staff, caller, loc, ids)
    if not people:
        raise ApiError("not_found")
    location = await find_location(request, caller, loc)
    return render(request, "bulk_confirm.html", location=location, people=people, base=base,
                  once=secrets.token_urlsafe(12))


@change_page(EventType.PASSWORD_RESET)
async def bulk_reset(request: web.Request, caller: Caller) -> web.StreamResponse:
    loc = request.match_info["loc"]
    base = f"/locations/{quote(loc, safe='')}"
    form = await request.post()  # read already, by the CSRF check
    once = text(form, "once")[:32]
    if done_before(request, RESETS_DONE, once):
        return redirect(f"{base}?done=bulk_already")
    ids = _bulk_ids([v for v in form.getall("id", []) if isinstance(v, str)])
    location = await find_location(request, caller, loc)
    entries = await reset_passwords(services(request).staff, caller, loc, {"userIds": ids})
    remember_done(request, RESETS_DONE, once)
    slips = [_slip(e) for e in entries]
    response = render(request, "bulk_done.html", location=location, base=base, slips=slips,
                      reset=sum(1 for s in slips if s.groups))
    response.headers["Cache-Control"] = "no-store"
    return response
