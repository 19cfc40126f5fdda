"""Requests no client should send, from a signed-in manager over real HTTP: ids with control
characters, JSON nested thousands deep, bodies that are not UTF-8, forms that cannot be
parsed. Each is an ordinary 4xx in the API's error model or an error page — never a 500 —
nothing changes in the tenant, and the refusal is audited like any other. An unexpected
exception (a bug) still answers in the error model with its request id, and is logged once."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from e2e_checks import raw_call, state
from e2e_support import Stack, uid

from mystaff_proxy.web.services import SERVICES

from .support import error_code

MGR = "mgr.upn@e2e.example"
STAFF1 = uid("staff1@e2e.example")
NORTH = "/api/v1/locations/north/staff"
# A GUID followed by what `^...$` lets through (a trailing newline), and other controls.
BENT_IDS = [STAFF1 + "%0A", STAFF1 + "%0D%0A", STAFF1 + "%00", "%0A" + STAFF1,
            STAFF1 + "%E2%80%A8", STAFF1.upper() + "%0A", STAFF1 + "%09"]
DEEP = b"[" * 16_000 + b"]" * 16_000


@pytest.mark.parametrize("bent", BENT_IDS)
async def test_ids_with_control_characters_are_not_found(stack: Stack, bent: str) -> None:
    m = await stack.manager(MGR)
    before = state(stack, "staff1@e2e.example")
    for method, path, body in (
            ("GET", f"{NORTH}/{bent}", None),
            ("POST", f"{NORTH}/{bent}/password", b"{}"),
            ("POST", f"{NORTH}/{bent}/phone-methods",
             b'{"phoneType":"office","phoneNumber":"+1 2065550177"}'),
            ("PATCH", f"{NORTH}/{bent}/phone-methods/mobile", b'{"phoneNumber":"+1 2065550178"}'),
            ("DELETE", f"{NORTH}/{bent}/phone-methods/mobile", None)):
        status, raw, headers = await raw_call(m, method, path, body,
                                              headers={"Content-Type": "application/json"})
        assert status == 404, (method, path, status, raw[:300])
        assert headers["Content-Type"].startswith("application/json")
    for path in (f"/locations/north/staff/{bent}", f"/locations/north/staff/{bent}/password"):
        resp = await m.session.get(stack.proxy_url + path, allow_redirects=False)
        assert resp.status == 404, (path, resp.status)
        assert resp.content_type == "text/html"
    resp = await m.session.post(f"{stack.proxy_url}/locations/north/staff/{bent}/password",
                                data={"csrf": m.csrf, "mode": "generate"},
                                allow_redirects=False)
    assert resp.status == 404
    assert state(stack, "staff1@e2e.example") == before
    refusals = [r for r in stack.audit() if r["event"] != "sign_in"]
    assert len(refusals) == 8 and all(r["reason"] == "not_found" for r in refusals)


async def test_json_nested_too_deep_is_invalid_request(stack: Stack) -> None:
    """16 KB of ``[`` made ``json.loads`` raise RecursionError: a plain-text 500 with a
    traceback in the log, and no audit record."""
    m = await stack.manager(MGR)
    before = state(stack, "staff1@e2e.example")
    bodies = [DEEP, b'{"password":' + b"[" * 8000 + b"]" * 8000 + b"}",
              b'{"phoneType":"office","phoneNumber":' + b'{"a":' * 3000 + b"1" + b"}" * 3001]
    for body in bodies:
        for method, path in (("POST", f"{NORTH}/{STAFF1}/password"),
                             ("POST", f"{NORTH}/{STAFF1}/phone-methods"),
                             ("PATCH", f"{NORTH}/{STAFF1}/phone-methods/mobile")):
            status, raw, _ = await raw_call(m, method, path, body,
                                            headers={"Content-Type": "application/json"})
            assert status == 400, (method, path, status, raw[:200])
            assert b'"invalid_request"' in raw
    assert state(stack, "staff1@e2e.example") == before
    refusals = [r for r in stack.audit() if r["event"] != "sign_in"]
    assert len(refusals) == 9
    assert {r["reason"] for r in refusals} == {"invalid_request"}
    assert {r["event"] for r in refusals} == {"password_reset", "phone_added", "phone_changed"}


async def test_forms_that_cannot_be_read_are_refused(stack: Stack) -> None:
    """A page form whose body is not UTF-8, or a multipart body without its boundary: the
    CSRF token cannot be read, so the form is refused as a forgery would be."""
    m = await stack.manager(MGR)
    before = state(stack, "staff1@e2e.example")
    url = f"{stack.proxy_url}/locations/north/staff/{STAFF1}/password"
    for content_type, body in (
            ("application/x-www-form-urlencoded", b"csrf=" + m.csrf.encode() + b"&mode=\xff\xfe"),
            ("application/x-www-form-urlencoded; charset=utf-8", b"\xc3\x28=\xa0\xa1"),
            ("multipart/form-data", b"--x\r\n\r\n"),
            ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n")):
        resp = await m.session.post(url, data=body, headers={"Content-Type": content_type},
                                    allow_redirects=False)
        text = await resp.text()
        assert resp.status in (400, 403), (content_type, resp.status, text[:300])
        assert resp.content_type == "text/html"
    assert state(stack, "staff1@e2e.example") == before


async def test_non_utf8_json_body_is_invalid_request(stack: Stack) -> None:
    m = await stack.manager(MGR)
    status, raw, _ = await raw_call(m, "POST", f"{NORTH}/{STAFF1}/password", b'{"password":"\xff"}',
                                    headers={"Content-Type": "application/json"})
    assert (status, b'"invalid_request"' in raw) == (400, True)


async def test_an_unexpected_error_answers_in_the_error_model_and_is_logged_once(
        stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A bug (here: a handler raising KeyError with a secret-looking message) answers a JSON
    error (API) or an error page (page) carrying the request id, and one log record that
    names the request and route but not the exception's message."""
    m = await stack.manager(MGR)
    secret = "Hunter2-secret-value"

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError(secret)

    services = stack.app[SERVICES]
    monkeypatch.setattr(services.staff, "profile", broken)
    caplog.set_level(logging.INFO)
    caplog.clear()
    status, body, headers = await m.call("GET", f"{NORTH}/{STAFF1}")
    assert status == 500
    assert error_code(body) == "internal_error"
    request_id = {k.lower(): v for k, v in headers.items()}["x-request-id"]
    assert body["error"]["requestId"] == request_id
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    logged = errors[0].getMessage() + (caplog.text or "")
    assert request_id in logged and "KeyError" in logged
    assert secret not in caplog.text

    caplog.clear()
    resp = await m.session.get(f"{stack.proxy_url}/locations/north/staff/{STAFF1}")
    text = await resp.text()
    assert resp.status == 500 and resp.content_type == "text/html"
    assert resp.headers["X-Request-Id"] in text and secret not in text
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
