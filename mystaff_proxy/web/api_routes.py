"""The JSON API under ``/api/v1`` (docs/api.md; its OpenAPI document is ``openapi.py``). Thin:
authenticate, read parameters, call StaffService, answer."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.graph.operations import PhoneMethod
from mystaff_proxy.graph.sign_in_methods import AccessPass
from mystaff_proxy.staff.bulk_reset import ResetEntry, reset_passwords
from mystaff_proxy.staff.check import Caller
from mystaff_proxy.staff.views import PHONE_TYPES, LocationView
from mystaff_proxy.web.authenticate import authenticate, csrf_header
from mystaff_proxy.web.cookies import set_session_cookie
from mystaff_proxy.web.keys import SESSION
from mystaff_proxy.web.openapi import build_openapi
from mystaff_proxy.web.services import SERVICES

Handler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_INVALID_BODY = object()  # a body that is not JSON: refused as invalid_request, in turn


def api(handler: Handler) -> RouteHandler:
    return _api(handler, None)


def api_change(event: EventType) -> Callable[[Handler], RouteHandler]:
    """An API route that changes something: ``event`` is what its audit records say."""
    return lambda handler: _api(handler, event)


def _api(handler: Handler, event: EventType | None) -> RouteHandler:
    """The caller from a bearer token or a session cookie (``authenticate``); for a cookie,
    a request that changes something needs the ``X-CSRF-Token`` header. ``event``: what the
    change's audit records say (a forged reset reads as a refused ``password_reset``)."""
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
        caller = await authenticate(request, bearer=True,
                                    csrf=csrf_header if unsafe else None, event=event)
        response = await handler(request, caller)
        _keep_session_alive(request, response)
        return response

    return wrapped


def _keep_session_alive(request: web.Request, response: web.StreamResponse) -> None:
    """A call with the session cookie is activity, as a page view is: the idle deadline
    moves (a busy script's session died at idle_minutes). The cookie is re-issued at most
    once a minute (SessionManager.touched), so most answers carry no Set-Cookie."""
    session = request.get(SESSION)
    if session is None:
        return  # a bearer token: no session to keep
    svc = request.app[SERVICES]
    renewed = svc.sessions.touched(session)
    if renewed is not None:
        set_session_cookie(request, response, renewed)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), status=status,
                        content_type="application/json")


async def _body(request: web.Request) -> Any:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _INVALID_BODY  # refused as invalid_request after authorization, not as a 413
    if not raw.strip():
        return {}
    if request.content_type != "application/json":
        return _INVALID_BODY
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        # RecursionError: 16 KB of "[[[[" nests deeper than the parser's stack allows (it
        # was a 500). Not UTF-8: UnicodeDecodeError, a ValueError. Both: invalid_request.
        return _INVALID_BODY


def _location(view: LocationView) -> dict[str, Any]:
    return {"id": view.id, "name": view.name, "actions": list(view.actions)}


def _phone(p: PhoneMethod) -> dict[str, Any]:
    return {"phoneType": p.phone_type, "phoneNumber": p.phone_number,
            "smsSignInState": p.sms_sign_in_state}


@api
async def me(request: web.Request, caller: Caller) -> web.StreamResponse:
    svc = request.app[SERVICES]
    locations = await svc.staff.locations(caller, required=False)
    out: dict[str, Any] = {"id": caller.oid, "displayName": caller.name,
                           "userPrincipalName": caller.upn,
                           "locations": [_location(v) for v in locations]}
    session = request.get(SESSION)
    if session is not None:
        out["csrfToken"] = session.csrf
    return _json(out)


@api
async def locations(request: web.Request, caller: Caller) -> web.StreamResponse:
    views = await request.app[SERVICES].staff.locations(caller)
    return _json({"value": [_location(v) for v in views]})


def _top(raw: str | None) -> int:
    if raw is None:
        return 25
    try:
        return int(raw) if raw.isdigit() and len(raw) <= 3 else 0
    except ValueError:
        return 0


@api
async def staff_list(request: web.Request, caller: Caller) -> web.StreamResponse:
    q = request.query
    page = await request.app[SERVICES].staff.staff_page(
        caller, request.match_info["loc"], search=q.get("search", ""), top=_top(q.get("top")),
        cursor=q.get("cursor") or None)
    return _json({
        "value": [{"id": s.id, "displayName": s.display_name,
                   "userPrincipalName": s.user_principal_name, "jobTitle": s.job_title}
                  for s in page.items],
        "nextCursor": page.next_cursor,
    })


@api
async def staff_profile(request: web.Request, caller: Caller) -> web.StreamResponse:
    p = await request.app[SERVICES].staff.profile(caller, request.match_info["loc"],
                                                  request.match_info["userId"])
    return _json({"id": p.id, "displayName": p.display_name,
                  "userPrincipalName": p.user_principal_name, "mail": p.mail,
                  "jobTitle": p.job_title, "actions": list(p.actions),
                  "phoneMethods": [_phone(m) for m in p.phones],
                  "temporaryAccessPass": _access_pass(p.access_pass)})


def _access_pass(found: AccessPass | None) -> dict[str, Any] | None:
    """Whether the person has a pass and until when; never the pass itself."""
    if found is None:
        return None
    return {"createdDateTime": found.created, "startDateTime": found.start,
            "lifetimeInMinutes": found.lifetime_minutes, "isUsableOnce": found.usable_once,
            "isUsable": found.usable, "methodUsabilityReason": found.usability_reason}


@api_change(EventType.PASSWORD_RESET)
async def reset_password(request: web.Request, caller: Caller) -> web.StreamResponse:
    reset = await request.app[SERVICES].staff.reset_password(
        caller, request.match_info["loc"], request.match_info["userId"], await _body(request))
    answer: dict[str, Any] = {"temporaryPassword": reset.password,
                              "forceChangePasswordNextSignIn": True}
    if not reset.confirmed:
        answer["confirmed"] = False
    response = _json(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


@api_change(EventType.PASSWORD_RESET)
async def bulk_reset(request: web.Request, caller: Caller) -> web.StreamResponse:
    """Up to 50 people of one location: one entry each, a password or an error."""
    entries = await reset_passwords(request.app[SERVICES].staff, caller,
                                    request.match_info["loc"], await _body(request))
    response = _json({"value": [_reset_entry(e) for e in entries]})
    response.headers["Cache-Control"] = "no-store"
    return response


def _reset_entry(entry: ResetEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": entry.id, "displayName": entry.display_name,
        "userPrincipalName": entry.user_principal_name, "temporaryPassword": entry.password,
        "error": None if entry.error is None else {"code": entry.error.code,
                                                   "message": entry.error.message}}
    if entry.password is not None and not entry.confirmed:
        out["confirmed"] = False
    return out


@api_change(EventType.PHONE_ADDED)
async def add_phone(request: web.Request, caller: Caller) -> web.StreamResponse:
    stored = await request.app[SERVICES].staff.add_phone(
        caller, request.match_info["loc"], request.match_info["userId"], await _body(request))
    return _json(_phone(stored), status=201)


def _phone_type(request: web.Request) -> str:
    value = request.match_info["phoneType"]
    return value if value in PHONE_TYPES else ""


@api_change(EventType.PHONE_CHANGED)
async def change_phone(request: web.Request, caller: Caller) -> web.StreamResponse:
    stored = await request.app[SERVICES].staff.change_phone(
        caller, request.match_info["loc"], request.match_info["userId"], _phone_type(request),
        await _body(request))
    return _json(_phone(stored))


@api_change(EventType.PHONE_REMOVED)
async def remove_phone(request: web.Request, caller: Caller) -> web.StreamResponse:
    await request.app[SERVICES].staff.remove_phone(
        caller, request.match_info["loc"], request.match_info["userId"], _phone_type(request))
    return web.Response(status=204)


@api_change(EventType.TEMPORARY_ACCESS_PASS_ISSUED)
async def issue_access_pass(request: web.Request, caller: Caller) -> web.StreamResponse:
    issued = await request.app[SERVICES].staff.issue_access_pass(
        caller, request.match_info["loc"], request.match_info["userId"], await _body(request))
    response = _json({"temporaryAccessPass": issued.code, "startDateTime": issued.start,
                      "lifetimeInMinutes": issued.lifetime_minutes,
                      "isUsableOnce": issued.usable_once}, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@api_change(EventType.TEMPORARY_ACCESS_PASS_REMOVED)
async def remove_access_pass(request: web.Request, caller: Caller) -> web.StreamResponse:
    await request.app[SERVICES].staff.remove_access_pass(
        caller, request.match_info["loc"], request.match_info["userId"])
    return web.Response(status=204)


@api_change(EventType.SMS_SIGN_IN_ENABLED)
async def enable_sms_sign_in(request: web.Request, caller: Caller) -> web.StreamResponse:
    mobile = await request.app[SERVICES].staff.switch_sms_sign_in(
        caller, request.match_info["loc"], request.match_info["userId"], True)
    return _json(_phone(mobile))


@api_change(EventType.SMS_SIGN_IN_DISABLED)
async def disable_sms_sign_in(request: web.Request, caller: Caller) -> web.StreamResponse:
    mobile = await request.app[SERVICES].staff.switch_sms_sign_in(
        caller, request.match_info["loc"], request.match_info["userId"], False)
    return _json(_phone(mobile))


async def openapi(request: web.Request) -> web.StreamResponse:
    return _json(build_openapi())


def setup_api_routes(app: web.Application) -> None:
    base = "/api/v1"
    staff = base + "/locations/{loc}/staff/{userId}"
    app.router.add_get(base + "/me", me)
    app.router.add_get(base + "/locations", locations)
    app.router.add_get(base + "/locations/{loc}/staff", staff_list)
    app.router.add_post(base + "/locations/{loc}/password-resets", bulk_reset)
    app.router.add_get(staff, staff_profile)
    app.router.add_post(staff + "/password", reset_password)
    app.router.add_post(staff + "/phone-methods", add_phone)
    app.router.add_patch(staff + "/phone-methods/{phoneType}", change_phone)
    app.router.add_delete(staff + "/phone-methods/{phoneType}", remove_phone)
    app.router.add_post(staff + "/temporary-access-pass", issue_access_pass)
    app.router.add_delete(staff + "/temporary-access-pass", remove_access_pass)
    app.router.add_post(staff + "/phone-methods/mobile/sms-sign-in", enable_sms_sign_in)
    app.router.add_delete(staff + "/phone-methods/mobile/sms-sign-in", disable_sms_sign_in)
    app.router.add_get(base + "/openapi.json", openapi)
