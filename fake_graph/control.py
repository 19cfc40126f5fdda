"""``/_fake``: test control, as listed below. Never recorded, never faulted.

- ``GET /_fake/users/{id or upn}`` — a user's sign-in state, phone methods and Temporary
  Access Pass (``null`` or ``{"isUsableOnce", "lifetimeInMinutes"}``, never the pass);
- ``POST /_fake/faults`` — ``{"path" (regex, required), "method", "status", "retryAfter",
  "count", "latencyMs", "kind", "after"}``; ``DELETE /_fake/faults`` clears them.
  ``kind`` is ``"status"`` (the default: answer ``status``; without one, latency only),
  ``"reset"`` (abort the TCP connection with no HTTP answer at all; ``status`` not allowed;
  inside a ``$batch`` it aborts the whole outer batch) or ``"malformed"`` (``status``, by
  default the real answer's with ``after``, else 200, with ``Content-Type: application/json``
  and a truncated, unparseable body;
  inside a ``$batch`` the sub-response's ``body`` is that text as a JSON string).
  ``after: true`` applies the fault after the real handler ran: the request takes effect (a
  change is made, a token issued) and only its answer is replaced, lost or garbled;
- ``GET /_fake/requests?since=N`` — ``{"value": [...], "next": N}``, oldest first; a request
  whose connection a ``reset`` fault aborted is recorded with ``status`` 0;
- ``POST /_fake/reset`` — back to the tenant file.

Extra: ``POST /_fake/password-reset-failures`` — ``{"user" (id or UPN; default anyone),
"count" (default until deleted), "statusDetail"}``: the next resetPassword calls (of that user)
are accepted (202) but leave the password as it was, and their operation answers ``failed``
from its second poll on; ``DELETE /_fake/password-reset-failures`` clears the rules
(``/_fake/reset`` does too). See docs/fake_graph_manager_mode.md.

Extra: ``GET /_fake/mail`` — ``{"value": [{"from", "to", "subject", "body", "time"}]}``: every
message ``sendMail`` accepted since the last reset, oldest first (``to``: the addresses).

Extra: ``GET /_fake/tenant`` — ``{"id", "domain", "name", "authority", "graphUrl",
"applications": [{"clientId", "displayName", "redirectUris"}]}`` (no secrets).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from .faults import FAULT_KINDS, Fault
from .graph import mail, operations
from .state import FAKE

_FAULT_KEYS = {"method", "path", "status", "retryAfter", "count", "latencyMs", "kind", "after"}
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def _bad(message: str) -> web.Response:
    return _json({"error": {"code": "invalid_request", "message": message}}, 400)


async def get_user(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    key = request.match_info["user"]
    user = fake.directory.find_user(key)
    if user is None:
        return _json({"error": {"code": "not_found", "message": f"no user '{key}'"}}, 404)
    tap = user.temporary_access_pass
    return _json({
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "displayName": user.display_name,
        "password": user.password,
        "forceChangePasswordNextSignIn": user.force_change_password_next_sign_in,
        "accountEnabled": user.account_enabled,
        "phoneMethods": [
            {"id": p.id, "phoneType": p.phone_type, "phoneNumber": p.number,
             "smsSignInState": fake.directory.sms_sign_in_state(user, p)}
            for p in user.phones.values()
        ],
        # Never the pass itself (the fake keeps it to check sign-ins).
        "temporaryAccessPass": None if tap is None else {
            "isUsableOnce": tap.is_usable_once, "lifetimeInMinutes": tap.lifetime_minutes},
    })


def _int(body: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"'{key}' must be an integer from {low} to {high}")
    return value


def parse_fault(body: Any) -> Fault:
    """A fault from a ``POST /_fake/faults`` body; ValueError says what is wrong."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    unknown = set(body) - _FAULT_KEYS
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    path = body.get("path")
    if not isinstance(path, str) or not path:
        raise ValueError("'path' (a regular expression) is required")
    try:
        pattern = re.compile(path)
    except re.error as exc:
        raise ValueError(f"'path' is not a valid regular expression: {exc}") from None
    method = body.get("method")
    if method is not None and (not isinstance(method, str) or method.upper() not in _METHODS):
        raise ValueError(f"'method' must be one of {', '.join(sorted(_METHODS))}")
    kind = body.get("kind", "status")
    if kind not in FAULT_KINDS:
        raise ValueError(f"'kind' must be one of {', '.join(FAULT_KINDS)}")
    after = body.get("after", False)
    if not isinstance(after, bool):
        raise ValueError("'after' must be true or false")
    status = _int(body, "status", 100, 599)
    if kind == "reset" and status is not None:
        raise ValueError("a 'reset' fault sends no answer, so it takes no 'status'")
    if after and kind == "status" and status is None:
        raise ValueError("'after' needs a fault that changes the answer (a status or a kind)")
    return Fault(
        path=pattern,
        method=method.upper() if isinstance(method, str) else None,
        status=status,
        retry_after=_int(body, "retryAfter", 0, 86400),
        count=_int(body, "count", 1, 1_000_000),
        latency_ms=_int(body, "latencyMs", 0, 600_000) or 0,
        kind=kind,
        after=after,
    )


async def add_fault(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _bad("the body must be JSON")
    try:
        fault = parse_fault(body)
    except ValueError as exc:
        return _bad(str(exc))
    request.app[FAKE].faults.add(fault)
    return _json({"path": fault.path.pattern, "method": fault.method, "status": fault.status,
                  "retryAfter": fault.retry_after, "count": fault.count,
                  "latencyMs": fault.latency_ms, "kind": fault.kind, "after": fault.after}, 201)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[FAKE].faults.clear()
    return web.Response(status=204)


async def list_requests(request: web.Request) -> web.Response:
    raw = request.query.get("since", "0")
    try:
        since = int(raw)
    except ValueError:
        return _bad("'since' must be an integer")
    items, last = request.app[FAKE].recorder.since(since)
    return _json({"value": [r.to_json() for r in items], "next": last})


_FAILURE_KEYS = {"user", "count", "statusDetail"}


async def add_reset_failure(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    try:
        body = await request.json()
    except ValueError:
        return _bad("the body must be JSON")
    if not isinstance(body, dict):
        return _bad("the body must be a JSON object")
    unknown = set(body) - _FAILURE_KEYS
    if unknown:
        return _bad(f"unknown key(s): {', '.join(sorted(unknown))}")
    user_id = None
    if body.get("user") is not None:
        user = fake.directory.find_user(str(body["user"]))
        if user is None:
            return _bad(f"no user '{body['user']}'")
        user_id = user.id
    detail = body.get("statusDetail", operations.FAILED_DETAIL)
    if not isinstance(detail, str) or not detail:
        return _bad("'statusDetail' must be a non-empty string")
    try:
        count = _int(body, "count", 1, 1_000_000)
    except ValueError as exc:
        return _bad(str(exc))
    operations.store(fake).add_failure(operations.FailureRule(user_id, count, detail))
    return _json({"user": user_id, "count": count, "statusDetail": detail}, 201)


async def clear_reset_failures(request: web.Request) -> web.Response:
    operations.store(request.app[FAKE]).clear_failures()
    return web.Response(status=204)


async def reset(request: web.Request) -> web.Response:
    request.app[FAKE].reset()
    return web.Response(status=204)


async def sent_mail(request: web.Request) -> web.Response:
    return _json({"value": list(mail.outbox(request.app[FAKE]))})


async def tenant(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    t = fake.directory.tenant
    return _json({
        "id": t.id, "domain": t.domain, "name": t.name,
        "authority": f"{fake.base_url}/{t.id}", "graphUrl": f"{fake.base_url}/v1.0",
        "applications": [
            {"clientId": a.client_id, "displayName": a.display_name,
             "redirectUris": a.redirect_uris}
            for a in fake.directory.applications.values()
        ],
    })


def setup(app: web.Application) -> None:
    """Register /_fake routes."""
    r = app.router
    r.add_get("/_fake/users/{user}", get_user)
    r.add_post("/_fake/faults", add_fault)
    r.add_delete("/_fake/faults", clear_faults)
    r.add_get("/_fake/requests", list_requests)
    r.add_post("/_fake/reset", reset)
    r.add_post("/_fake/password-reset-failures", add_reset_failure)
    r.add_delete("/_fake/password-reset-failures", clear_reset_failures)
    r.add_get("/_fake/tenant", tenant)
    r.add_get("/_fake/mail", sent_mail)
