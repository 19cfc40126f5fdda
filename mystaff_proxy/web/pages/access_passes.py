"""Temporary Access Passes: issue one (→ the pass, once), remove one (after a confirmation)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.errors import ApiError
from mystaff_proxy.policy.model import PassRules
from mystaff_proxy.staff.check import Caller
from mystaff_proxy.web.authenticate import posted_form
from mystaff_proxy.web.pages.common import (
    PASSES_DONE,
    change_page,
    done_before,
    page,
    profile_url,
    redirect,
    remember_done,
    render,
    services,
    text,
)
from mystaff_proxy.web.pages.profile_view import (
    ISSUE_PASS,
    ProfilePage,
    as_moment,
    duration,
    profile_page,
    require,
    until,
    when,
)

# Lifetimes the pass form offers (minutes), with the policy's default; none above its maximum.
PASS_LIFETIMES: Final = (60, 240, 480, 1440)
# A pass form's refusals a manager can read and act on (passes turned off for the
# organization, a person its policy does not cover: "ask IT"), shown on the form.
PASS_FORM_ERRORS: Final = frozenset({"forbidden", "invalid_request"})


def _pass_rules(request: web.Request) -> PassRules:
    current = services(request).policy.current
    return current.policy.temporary_access_pass if current is not None else PassRules()


def _lifetimes(rules: PassRules) -> list[tuple[int, str]]:
    """The form's choice: the policy's default and the usual hours, within its maximum."""
    offered = {m for m in PASS_LIFETIMES if m <= rules.max_lifetime_minutes}
    return [(m, duration(m)) for m in sorted(offered | {rules.lifetime_minutes})]


def _pass_form(request: web.Request, view: ProfilePage, *, error: str | None = None,
               status: int = 200, lifetime: int | None = None,
               single_use: bool = True) -> web.Response:
    rules = _pass_rules(request)
    return render(request, "pass_form.html", status=status if error else 200, view=view,
                  error=error, lifetimes=_lifetimes(rules),
                  chosen=lifetime or rules.lifetime_minutes, one_time_fixed=rules.one_time,
                  single_use=single_use or rules.one_time, once=secrets.token_urlsafe(12))


@page
async def pass_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await profile_page(request, caller)
    require(view, ISSUE_PASS)
    return _pass_form(request, view)


def _lifetime_field(form: Mapping[str, Any]) -> int | str | None:
    """The chosen lifetime in minutes; anything else is sent as it is, for the service to
    refuse (``invalid_request``), and nothing chosen means the policy's default."""
    raw = text(form, "lifetimeMinutes").strip()
    if not raw:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else raw


@change_page(EventType.TEMPORARY_ACCESS_PASS_ISSUED)
async def pass_issue(request: web.Request, caller: Caller) -> web.StreamResponse:
    # As for a password reset, the profile is read first: nothing may fail between the pass
    # being made and shown (a pass never shown would still replace the one the person has).
    view = await profile_page(request, caller, for_pass=True)
    form = await posted_form(request)
    once = text(form, "once")[:32]
    if done_before(request, PASSES_DONE, once):
        return redirect(f"{view.url}?done=pass_already")
    body: dict[str, Any] = {}
    lifetime = _lifetime_field(form)
    if lifetime is not None:
        body["lifetimeMinutes"] = lifetime
    single_use = True
    if not _pass_rules(request).one_time:  # else the policy's one-time use, not asked
        single_use = body["isUsableOnce"] = text(form, "isUsableOnce") == "true"
    try:
        issued = await services(request).staff.issue_access_pass(
            caller, view.location.id, view.profile.id, body)
    except ApiError as exc:
        if exc.code not in PASS_FORM_ERRORS:
            raise
        return _pass_form(request, view, error=exc.message, status=exc.status,
                          lifetime=lifetime if isinstance(lifetime, int) else None,
                          single_use=single_use)
    remember_done(request, PASSES_DONE, once)
    start = when(issued.start) or datetime.now(UTC)
    response = render(request, "pass_done.html", view=view, code=issued.code,
                      lifetime=duration(issued.lifetime_minutes),
                      until=as_moment(until(start, issued.lifetime_minutes)),
                      single_use=issued.usable_once, replaced=view.pass_row is not None)
    response.headers["Cache-Control"] = "no-store"
    return response


@page
async def pass_remove_form(request: web.Request, caller: Caller) -> web.StreamResponse:
    view = await profile_page(request, caller)
    require(view, ISSUE_PASS)
    if view.pass_row is None:
        return redirect(f"{view.url}?done=pass_gone")
    return render(request, "pass_remove.html", view=view)


@change_page(EventType.TEMPORARY_ACCESS_PASS_REMOVED)
async def pass_remove(request: web.Request, caller: Caller) -> web.StreamResponse:
    loc, uid = request.match_info["loc"], request.match_info["userId"]
    try:
        await services(request).staff.remove_access_pass(caller, loc, uid)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        # The person is here, without a pass (removed meanwhile, e.g. a second tap): say so.
        # Not here at all: the profile raises the same not_found.
        view = await profile_page(request, caller)
        if view.pass_row is not None:
            raise
        return redirect(f"{view.url}?done=pass_gone")
    return redirect(profile_url(loc, uid) + "?done=pass_removed")
