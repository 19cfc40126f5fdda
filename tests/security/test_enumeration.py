"""No enumeration: an unknown user, a user outside the manager's locations, an unknown
location and a location the manager does not manage are answered identically (status,
headers and body, request ids aside), on every API route and page, and each refusal is
audited; nothing is changed."""

from __future__ import annotations

from typing import Any

from e2e_support import Manager, Stack, uid

MGR = "mgr.upn@e2e.example"  # manages "north" only
STAFF = uid("staff1@e2e.example")  # in north
SOUTH1 = uid("south1@e2e.example")  # only in south (a real location, not this manager's)
UNKNOWN = "00000000-0000-4000-8000-00000000beef"  # nobody
# (location, user) pairs that must all look alike, and why each is refused.
TARGETS = {
    "unknown user": ("north", UNKNOWN),
    "user outside the manager's locations": ("north", SOUTH1),
    "user in a location the manager does not manage": ("south", SOUTH1),
    "known user, unmanaged location": ("south", STAFF),
    "unknown location": ("nowhere", STAFF),
    "unknown location, unknown user": ("nowhere", UNKNOWN),
    "a manager (in north) by the wrong location": ("south", uid("mgr.oid@e2e.example")),
    "not a GUID": ("north", "staff1@e2e.example"),
}
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "", None),
    ("POST", "/password", {}),
    ("POST", "/phone-methods", {"phoneType": "office", "phoneNumber": "+1 2065550177"}),
    ("PATCH", "/phone-methods/mobile", {"phoneNumber": "+1 2065550178"}),
    ("DELETE", "/phone-methods/mobile", None),
]
PAGES = ["", "/password", "/phones/add", "/phones/mobile/edit", "/phones/mobile/remove"]
VOLATILE = {"x-request-id", "date", "content-length"}


def _shape(status: int, body: Any, headers: dict[str, str]) -> tuple[Any, ...]:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = {"error": {k: v for k, v in body["error"].items() if k != "requestId"}}
    kept = tuple(sorted((k.lower(), v) for k, v in headers.items()
                        if k.lower() not in VOLATILE))
    return status, body, kept


def _page_shape(status: int, text: str, headers: dict[str, str], request_id: str) -> Any:
    kept = tuple(sorted((k.lower(), v) for k, v in headers.items()
                        if k.lower() not in VOLATILE))
    return status, text.replace(request_id, "<id>"), kept


def _state(stack: Stack) -> Any:
    out = []
    for upn in ("staff1@e2e.example", "south1@e2e.example", "mgr.oid@e2e.example"):
        u = stack.fake_user(upn)
        out.append((u.password, sorted((t, p.number) for t, p in u.phones.items())))
    return out


async def test_api_answers_identically_for_every_kind_of_not_yours(stack: Stack) -> None:
    m = await stack.manager(MGR)
    before = _state(stack)
    for method, suffix, body in ROUTES:
        shapes = {}
        for name, (loc, user) in TARGETS.items():
            status, answer, headers = await m.call(
                method, f"/api/v1/locations/{loc}/staff/{user}{suffix}", body)
            shapes[name] = _shape(status, answer, headers)
        first = next(iter(shapes.values()))
        assert first[0] == 404 and first[1]["error"]["code"] == "not_found"
        different = {k: v for k, v in shapes.items() if v != first}
        assert not different, (method, suffix, first, different)
    assert _state(stack) == before
    # Each refusal is audited once, as a refusal, with the reason the manager was given.
    refused = [r for r in stack.audit() if r["event"] != "sign_in"]
    assert len(refused) == len(ROUTES) * len(TARGETS)
    assert {(r["outcome"], r["reason"]) for r in refused} == {("denied", "not_found")}
    assert len({r["requestId"] for r in refused}) == len(refused)
    events = {r["event"] for r in refused}
    assert events == {"access_denied", "password_reset", "phone_added", "phone_changed",
                      "phone_removed"}


async def test_staff_lists_of_unknown_and_unmanaged_locations_look_alike(stack: Stack) -> None:
    m = await stack.manager(MGR)
    shapes = []
    for loc in ("south", "nowhere", "North", "north%00", "north ", "n\u00f6rth"):
        status, body, headers = await m.call("GET", f"/api/v1/locations/{loc}/staff")
        shapes.append(_shape(status, body, headers))
    assert shapes[0][0] == 404
    assert all(s == shapes[0] for s in shapes), [s[:2] for s in shapes]
    # ...and a location that is the manager's answers (the comparison can fail).
    status, body, _ = await m.call("GET", "/api/v1/locations/north/staff")
    assert status == 200 and body["value"]
    refused = [r for r in stack.audit() if r["event"] == "access_denied"]
    assert len(refused) == 6 and {r["reason"] for r in refused} == {"not_found"}


async def test_pages_answer_identically_for_every_kind_of_not_yours(stack: Stack) -> None:
    m: Manager = await stack.manager(MGR)
    for suffix in PAGES:
        shapes = {}
        for name, (loc, user) in TARGETS.items():
            resp = await m.session.get(f"{stack.proxy_url}/locations/{loc}/staff/{user}{suffix}",
                                       allow_redirects=False)
            text = await resp.text()
            shapes[name] = _page_shape(resp.status, text, dict(resp.headers),
                                       resp.headers["X-Request-Id"])
        first = next(iter(shapes.values()))
        assert first[0] == 404
        different = {k: v[0] for k, v in shapes.items() if v != first}
        assert not different, (suffix, different)


async def test_a_non_manager_learns_nothing_about_people(stack: Stack) -> None:
    """Signed in but managing nothing: the same answer for a real and an unknown person."""
    m = await stack.manager("nobody@e2e.example")
    shapes = []
    for loc, user in (("north", STAFF), ("north", UNKNOWN), ("nowhere", UNKNOWN)):
        status, body, headers = await m.call("GET", f"/api/v1/locations/{loc}/staff/{user}")
        shapes.append(_shape(status, body, headers))
    assert shapes[0][0] == 403 and shapes[0][1]["error"]["code"] == "insufficient_permissions"
    assert all(s == shapes[0] for s in shapes)
