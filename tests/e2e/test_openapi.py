"""The OpenAPI document is the API: same routes and methods, and every answer fits its schema.

(Every ``Manager.call`` in the e2e suite is checked against the document by conftest; this file
checks the document itself and the checker.)
"""

from __future__ import annotations

import pytest
from e2e_checks import OPENAPI, SchemaError, check_api_answer, validate
from e2e_support import Stack, uid

from mystaff_proxy.web.openapi import build_openapi

METHODS = {"get", "post", "put", "patch", "delete"}


def app_routes(stack: Stack) -> set[tuple[str, str]]:
    routes = set()
    for route in stack.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/v1") and route.method.lower() in METHODS:
            routes.add((path, route.method.lower()))
    return routes


async def test_the_document_lists_exactly_the_api_routes(stack: Stack) -> None:
    m = await stack.manager()
    status, served, _ = await m.call("GET", "/api/v1/openapi.json")
    assert status == 200
    assert served == OPENAPI == build_openapi()
    documented = {(path, method) for path, item in served["paths"].items()
                  for method in item if method in METHODS}
    assert documented == app_routes(stack)
    # 9, then Temporary Access Pass and SMS sign-in (2 each), then the bulk password reset
    assert len(documented) == 14


def test_every_reference_resolves_and_every_operation_is_complete() -> None:
    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                part: object = OPENAPI
                for key in node["$ref"][2:].split("/"):
                    assert isinstance(part, dict) and key in part, node["$ref"]
                    part = part[key]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(OPENAPI)
    assert OPENAPI["openapi"].startswith("3.1")
    ids = []
    for path, item in OPENAPI["paths"].items():
        for method, op in item.items():
            ids.append(op["operationId"])
            assert op["responses"], (path, method)
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}
    assert len(ids) == len(set(ids))


async def test_error_answers_of_every_code_fit_the_document(stack: Stack) -> None:
    """One request per error status the API gives, checked against its documented schema."""
    m = await stack.manager("mgr.upn@e2e.example")
    anonymous = await stack.manager()
    staff1 = uid("staff1@e2e.example")
    base = f"/api/v1/locations/north/staff/{staff1}"
    seen = set()
    for who, method, path, body in [
        (anonymous, "GET", "/api/v1/locations", None),                     # 401
        (m, "GET", f"/api/v1/locations/south/staff/{staff1}", None),     # 404
        (m, "POST", f"{base}/password", {"junk": 1}),                     # 400
        (m, "POST", f"{base}/phone-methods",
         {"phoneType": "mobile", "phoneNumber": "2065550100"}),           # 409
        (m, "POST", f"/api/v1/locations/north/staff/{uid('ceo@e2e.example')}/password",
         {}),                                                             # 403
    ]:
        status, _data, _ = await who.call(method, path, body)  # checked by the conftest hook
        seen.add(status)
    assert seen == {400, 401, 403, 404, 409}


def test_the_checker_can_fail() -> None:
    """The hand-written validator must reject what the document does not allow."""
    staff = {"$ref": "#/components/schemas/Staff"}
    good = {"id": "x", "displayName": "y", "userPrincipalName": "z", "jobTitle": None}
    validate(staff, good)
    for bad in [{**good, "extra": 1}, {k: v for k, v in good.items() if k != "id"},
                {**good, "jobTitle": 5}, [good], None]:
        with pytest.raises(SchemaError):
            validate(staff, bad)
    with pytest.raises(SchemaError):
        validate({"type": "string", "enum": ["a"]}, "b")
    with pytest.raises(SchemaError):
        validate({"unknownKeyword": True}, "b")
    with pytest.raises(AssertionError):  # an undocumented status
        check_api_answer("GET", "/api/v1/locations", 418, {}, {})
    with pytest.raises(AssertionError):  # a body that is not the documented error shape
        check_api_answer("GET", "/api/v1/locations", 403,
                         {"error": {"code": "nope", "message": "", "requestId": "1"}},
                         {"X-Request-ID": "1"})
    with pytest.raises(AssertionError):  # an error whose requestId is not the header's
        check_api_answer("GET", "/api/v1/locations", 403,
                         {"error": {"code": "forbidden", "message": "", "requestId": "1"}},
                         {"X-Request-ID": "2"})
