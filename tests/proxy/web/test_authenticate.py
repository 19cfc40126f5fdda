"""``authenticate`` and ``check_csrf``, the one way every route (page, API, sign-out) learns
who is asking and refuses a forged change — driven directly, on mocked requests, with a real
SessionManager and a recording audit log. (The routes' own answers to these refusals are
pinned end to end by tests/security and tests/e2e/test_error_codes.py.)"""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from mystaff_proxy.audit.log import AuditEvent, EventType, Outcome, Principal
from mystaff_proxy.auth.sessions import Session, SessionManager
from mystaff_proxy.auth.standing import EndedBecause
from mystaff_proxy.errors import ApiError
from mystaff_proxy.stores.revocations import MemoryRevocations
from mystaff_proxy.web.authenticate import (
    NoSession,
    SessionEnded,
    authenticate,
    check_csrf,
    csrf_field,
    csrf_header,
)
from mystaff_proxy.web.keys import REQUEST_ID, SESSION
from mystaff_proxy.web.services import SERVICES

TARGET = "5E7F0000-0000-4000-8000-0000000000AB"


class Standing:
    def __init__(self) -> None:
        self.why: EndedBecause | None = None

    async def refusal(self, oid: str, signed_in_at: float) -> EndedBecause | None:
        return self.why


class Audit:
    def __init__(self) -> None:
        self.records: list[AuditEvent] = []

    async def write(self, record: AuditEvent) -> None:
        self.records.append(record)


@pytest.fixture
def svc() -> Any:
    return SimpleNamespace(
        settings=SimpleNamespace(cookie_secure=False),  # cookie "mystaff": plain http
        sessions=SessionManager(secrets.token_bytes(32), max_age=3600, idle=600,
                                revocations=MemoryRevocations()),
        standing=Standing(), audit=Audit(), bearer=None)


@pytest.fixture
def session() -> Session:
    return Session.new(oid="0b1d0000-0000-4000-8000-000000000001", upn="mgr@x.example",
                       name="Manager", tid="t1")


def request(svc: Any, method: str = "GET", *, cookie: str | None = None,
            headers: dict[str, str] | None = None, form: str | None = None,
            match_info: dict[str, str] | None = None) -> web.Request:
    app = web.Application()
    app[SERVICES] = svc
    sent = dict(headers or {})
    if cookie is not None:
        sent["Cookie"] = f"mystaff={cookie}"
    if form is not None:
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    req = make_mocked_request(method, "/locations/north/staff/x", headers=sent, app=app,
                              match_info=match_info or {})
    if form is not None:
        async def read() -> bytes:
            return form.encode()
        req.read = read  # type: ignore[method-assign]
    req[REQUEST_ID] = "req-1"
    return req


async def test_no_cookie_is_no_session_and_nothing_is_audited(svc: Any) -> None:
    with pytest.raises(NoSession) as raised:
        await authenticate(request(svc))
    assert isinstance(raised.value, ApiError) and raised.value.code == "unauthenticated"
    assert svc.audit.records == []


async def test_a_genuine_session_is_the_caller(svc: Any, session: Session) -> None:
    req = request(svc, cookie=svc.sessions.encode(session))
    caller = await authenticate(req)
    assert (caller.oid, caller.upn, caller.name) == (session.oid, session.upn, session.name)
    assert caller.session_id == session.sid and caller.assertion is None
    assert caller.request_id == "req-1"
    assert req[SESSION].sid == session.sid
    assert svc.audit.records == []


async def test_a_page_ignores_an_authorization_header(svc: Any, session: Session) -> None:
    """Pages know sessions only; a bearer token is for the API (``bearer=True``)."""
    req = request(svc, cookie=svc.sessions.encode(session),
                  headers={"Authorization": "Basic whatever"})
    assert (await authenticate(req)).session_id == session.sid
    with pytest.raises(ApiError) as raised:
        await authenticate(req, bearer=True)
    assert raised.value.code == "unauthenticated" and not isinstance(raised.value, NoSession)


async def test_the_right_csrf_token_passes(svc: Any, session: Session) -> None:
    req = request(svc, "POST", cookie=svc.sessions.encode(session),
                  headers={"X-CSRF-Token": session.csrf})
    assert (await authenticate(req, csrf=csrf_header)).oid == session.oid
    req = request(svc, "POST", cookie=svc.sessions.encode(session),
                  form=f"csrf={session.csrf}&x=1")
    assert (await authenticate(req, csrf=csrf_field)).oid == session.oid
    assert svc.audit.records == []


async def test_a_forged_change_is_refused_and_audited_as_that_change(
        svc: Any, session: Session) -> None:
    req = request(svc, "POST", cookie=svc.sessions.encode(session),
                  headers={"X-CSRF-Token": "forged"},
                  match_info={"loc": "north", "userId": TARGET})
    with pytest.raises(ApiError) as raised:
        await authenticate(req, csrf=csrf_header, event=EventType.PASSWORD_RESET)
    assert raised.value.code == "csrf_failed"
    [record] = svc.audit.records
    assert (record.event, record.outcome, record.reason) == (
        EventType.PASSWORD_RESET, Outcome.DENIED, "csrf_failed")
    assert record.actor == Principal(session.oid, session.upn)
    assert record.location == "north" and record.target == Principal(TARGET.lower(), "")


async def test_a_forged_request_without_an_event_is_an_access_refused(
        svc: Any, session: Session) -> None:
    """No token at all (a form without the field), and a URL naming no GUID: no target."""
    req = request(svc, "POST", cookie=svc.sessions.encode(session), form="x=1",
                  match_info={"loc": "north", "userId": "not-a-guid"})
    with pytest.raises(ApiError) as raised:
        await authenticate(req, csrf=csrf_field)
    assert raised.value.code == "csrf_failed"
    [record] = svc.audit.records
    assert (record.event, record.reason, record.location, record.target) == (
        EventType.ACCESS_DENIED, "csrf_failed", None, None)


@pytest.mark.parametrize("sent", [None, "", b"token", 42])
async def test_only_the_sessions_own_string_passes_the_csrf_check(
        svc: Any, session: Session, sent: object) -> None:
    with pytest.raises(ApiError, match="csrf_failed"):
        await check_csrf(request(svc, "POST"), session, sent)
    await check_csrf(request(svc, "POST"), session, session.csrf)


async def test_a_session_of_a_disabled_account_ends_here(svc: Any, session: Session) -> None:
    svc.standing.why = EndedBecause.ACCOUNT_DISABLED
    cookie = svc.sessions.encode(session)
    with pytest.raises(SessionEnded) as raised:
        await authenticate(request(svc, cookie=cookie))
    assert raised.value.code == "unauthenticated"
    [record] = svc.audit.records
    assert (record.event, record.outcome, record.reason, record.detail) == (
        EventType.SIGN_OUT, Outcome.DENIED, "unauthenticated", {"why": "account_disabled"})
    svc.standing.why = None
    with pytest.raises(NoSession):  # ended on the server: the cookie is worth nothing now
        await authenticate(request(svc, cookie=cookie))


async def test_the_csrf_check_comes_before_the_account_check(svc: Any,
                                                             session: Session) -> None:
    """A forged change is refused as such, and does not end the session."""
    svc.standing.why = EndedBecause.SESSIONS_REVOKED
    req = request(svc, "POST", cookie=svc.sessions.encode(session),
                  headers={"X-CSRF-Token": "forged"})
    with pytest.raises(ApiError, match="csrf_failed"):
        await authenticate(req, csrf=csrf_header)
    assert [r.reason for r in svc.audit.records] == ["csrf_failed"]
