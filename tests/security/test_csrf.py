"""CSRF on every unsafe route of the API and of the page, found by walking the router (so a
route added later is covered without editing this file): a missing, wrong or another
session's token is refused with ``csrf_failed`` and nothing changes in the tenant."""

from __future__ import annotations

import re
from typing import Any

from e2e_support import Manager, Stack, uid

from .support import error_code

MGR = "mgr.upn@e2e.example"
TARGET = "staff1@e2e.example"  # has a mobile phone: every phone route has something to change
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
PARAMS = {"loc": "north", "userId": uid(TARGET), "phoneType": "mobile"}
# Known unsafe routes: the walk must find at least these (a broken walk would test nothing).
KNOWN_API = {("POST", "/api/v1/locations/{loc}/staff/{userId}/password"),
             ("POST", "/api/v1/locations/{loc}/staff/{userId}/phone-methods"),
             ("PATCH", "/api/v1/locations/{loc}/staff/{userId}/phone-methods/{phoneType}"),
             ("DELETE", "/api/v1/locations/{loc}/staff/{userId}/phone-methods/{phoneType}")}
KNOWN_PAGE = {("POST", "/auth/logout"),
              ("POST", "/locations/{loc}/staff/{userId}/password")}
# A body that would succeed with the right token, per kind of route.
API_BODIES = {"password": {}, "phone-methods": {"phoneType": "office",
                                                "phoneNumber": "+1 2065550177"}}
PAGE_FORM = {"mode": "generate", "phoneType": "office", "phoneNumber": "+1 2065550177"}


def _unsafe_routes(stack: Stack, api: bool) -> list[tuple[str, str]]:
    out = set()
    for route in stack.app.router.routes():
        resource = route.resource
        if route.method not in UNSAFE or resource is None:
            continue
        path = resource.canonical
        if path.startswith("/api/") == api:
            out.add((route.method, path))
    return sorted(out)


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: PARAMS[m.group(1)], path)


def _tenant_state(stack: Stack) -> Any:
    user = stack.fake_user(TARGET)
    return (user.password, user.force_change_password_next_sign_in,
            sorted((t, p.number) for t, p in user.phones.items()))


def _changes(stack: Stack) -> list[dict[str, Any]]:
    """Records of anything past the CSRF check (a refused token is recorded as the change it
    tried, ``denied`` / ``csrf_failed``: not one of these)."""
    return [r for r in stack.audit() if r["event"] not in ("sign_in", "access_denied")
            and r.get("reason") != "csrf_failed"]


def _csrf_refusals(stack: Stack, m: Manager) -> int:
    """Audited CSRF refusals: the caller is known (a genuine session), so they are recorded."""
    me = [r for r in stack.audit() if r.get("reason") == "csrf_failed"]
    assert all(r["actor"]["userPrincipalName"] == m.upn and r["outcome"] == "denied" for r in me)
    return len(me)


async def test_every_unsafe_api_route_needs_the_csrf_token(stack: Stack) -> None:
    routes = _unsafe_routes(stack, api=True)
    assert set(routes) >= KNOWN_API
    m = await stack.manager(MGR)
    other = await stack.manager("mgr.oid@e2e.example")
    assert m.csrf and other.csrf and m.csrf != other.csrf
    before = _tenant_state(stack)
    for method, path in routes:
        body = API_BODIES.get(path.rsplit("/", 1)[-1], {"phoneNumber": "+1 2065550177"})
        for headers in ({}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": "wrong"},
                        {"X-CSRF-Token": other.csrf}, {"X-CSRF-Token": m.csrf + "x"},
                        {"X-CSRF-Token": m.csrf[:-1]}, {"X-CSRF-Token": m.csrf.upper()}):
            status, answer, _ = await m.call(method, _fill(path), body, csrf=False,
                                             headers=headers)
            assert (status, error_code(answer)) == (403, "csrf_failed"), (method, path, headers)
        # The token in the body or the query instead of the header does not count either.
        status, answer, _ = await m.call(method, _fill(path) + f"?csrf={m.csrf}",
                                         {**body, "csrf": m.csrf}, csrf=False)
        assert (status, error_code(answer)) == (403, "csrf_failed")
    assert _tenant_state(stack) == before
    assert _changes(stack) == []
    assert _csrf_refusals(stack, m) == 8 * len(routes)  # each refusal audited, as m's
    # The same session with its token: the routes do work (so the refusals above mean it).
    status, answer, _ = await m.call("POST", _fill(
        "/api/v1/locations/{loc}/staff/{userId}/password"), {})
    assert status == 200, answer
    assert _tenant_state(stack) != before


async def test_every_unsafe_page_route_needs_the_form_token(stack: Stack) -> None:
    routes = _unsafe_routes(stack, api=False)
    assert set(routes) >= KNOWN_PAGE
    m = await stack.manager(MGR)
    other = await stack.manager("mgr.oid@e2e.example")
    before = _tenant_state(stack)
    for method, path in routes:
        for token in (None, "", "wrong", other.csrf, m.csrf + "x"):
            form = dict(PAGE_FORM) if token is None else {**PAGE_FORM, "csrf": token}
            resp = await m.session.request(method, stack.proxy_url + _fill(path), data=form,
                                           allow_redirects=False)
            text = await resp.text()
            assert resp.status == 403, (method, path, token, resp.status)
            assert resp.content_type == "text/html" and "form has expired" in text
        # The token in the X-CSRF-Token header alone is not a form token (except sign-out,
        # which also serves API clients).
        if path != "/auth/logout":
            resp = await m.session.request(method, stack.proxy_url + _fill(path),
                                           data=PAGE_FORM, allow_redirects=False,
                                           headers={"X-CSRF-Token": other.csrf})
            assert resp.status == 403
    assert _tenant_state(stack) == before
    assert _changes(stack) == []
    assert _csrf_refusals(stack, m) == 5 * len(routes) + len(routes) - 1
    status, _, _ = await m.call("GET", "/api/v1/me")
    assert status == 200  # still signed in: the refused sign-outs did nothing
    # With its token, a page form does change things.
    resp = await m.session.post(stack.proxy_url + _fill(
        "/locations/{loc}/staff/{userId}/password"), data={"csrf": m.csrf, "mode": "generate"},
        allow_redirects=False)
    assert resp.status == 200
    assert _tenant_state(stack) != before


async def test_csrf_is_checked_before_anything_is_looked_up(stack: Stack) -> None:
    """A forged request learns nothing: the same answer for a real and an unknown target."""
    m = await stack.manager(MGR)
    answers = []
    for user_id in (uid(TARGET), "00000000-0000-4000-8000-00000000dead"):
        status, body, _ = await m.call(
            "POST", f"/api/v1/locations/north/staff/{user_id}/password", {}, csrf=False)
        answers.append((status, error_code(body)))
    for loc in ("north", "nowhere"):
        status, body, _ = await m.call(
            "POST", f"/api/v1/locations/{loc}/staff/{uid(TARGET)}/password", {}, csrf=False)
        answers.append((status, error_code(body)))
    assert set(answers) == {(403, "csrf_failed")}


async def test_bearer_callers_need_no_csrf_token_and_cookies_do_not_ride_along(
        stack: Stack) -> None:
    """CSRF protects cookie sessions; a bearer token is not sent by browsers on their own.
    A request with an Authorization header is judged by the token alone, never the cookie."""
    m: Manager = await stack.manager(MGR)
    status, body, _ = await m.call("POST", _fill(
        "/api/v1/locations/{loc}/staff/{userId}/password"), {}, csrf=False,
        headers={"Authorization": "Bearer not-a-token"})
    assert (status, error_code(body)) == (401, "unauthenticated")
