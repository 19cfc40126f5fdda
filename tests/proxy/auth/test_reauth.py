"""Re-authentication's rules: when a caller last entered credentials, and when that is too
long ago for a change (reauth.py)."""

from __future__ import annotations

import json
import secrets

import pytest

from mystaff_proxy.auth.reauth import (
    TOO_OLD,
    UNKNOWN,
    auth_time,
    page_redirect,
    profile_path,
    refusal,
    sign_in_again_url,
)
from mystaff_proxy.auth.sessions import SessionManager
from mystaff_proxy.auth.signin import authenticated_at
from mystaff_proxy.sealing import Sealer
from mystaff_proxy.stores.revocations import MemoryRevocations

NOW = 1_700_000_000.0


@pytest.mark.parametrize(("claims", "expected"), [
    ({"auth_time": 1_699_999_000}, 1_699_999_000.0),
    ({"auth_time": 1_699_999_000.5}, 1_699_999_000.5),
    ({"auth_time": NOW + 3600}, NOW),  # a clock ahead of ours does not stretch the limit
    ({}, None), ({"auth_time": None}, None), ({"auth_time": True}, None),
    ({"auth_time": "1699999000"}, None), ({"auth_time": 0}, None), ({"auth_time": -5}, None),
    ({"iat": NOW}, None),  # never iat
])
def test_auth_time_of_a_token(claims: dict[str, object], expected: float | None) -> None:
    assert auth_time(claims, NOW) == expected


def test_a_session_s_sign_in_time() -> None:
    assert authenticated_at({"auth_time": 1_699_999_000}, prompted=False, now=NOW) == 1.699999e9
    # Entra was asked for its form: the code's redemption is when the manager typed.
    assert authenticated_at({"iat": NOW - 5000}, prompted=True, now=NOW) == NOW
    assert authenticated_at({"iat": NOW - 5000}, prompted=False, now=NOW) is None
    assert authenticated_at({"auth_time": NOW - 900}, prompted=True, now=NOW) == NOW - 900


@pytest.mark.parametrize(("at", "limit", "why"), [
    (None, 0, None), (NOW - 86_400, 0, None),  # off
    (None, 15, UNKNOWN),
    (NOW - 15 * 60, 15, None), (NOW - 15 * 60 - 1, 15, TOO_OLD), (NOW, 15, None),
    (NOW + 30, 15, None),
])
def test_when_a_change_must_wait_for_a_new_sign_in(at: float | None, limit: int,
                                                   why: str | None) -> None:
    assert refusal(at, limit, NOW) == why


def test_where_to_sign_in_again() -> None:
    uid = "a0000000-0000-4000-8000-00000000000a"
    assert sign_in_again_url(profile_path("north", uid)) == (
        f"/auth/login?prompt=login&next=/locations/north/staff/{uid}")
    assert profile_path("north", None) == "/locations/north"
    assert profile_path("a/b", "x?y") == "/locations/a%2Fb/staff/x%3Fy"
    assert sign_in_again_url("//evil.example/") == "/auth/login?prompt=login&next=/"
    assert sign_in_again_url("/x", prompt_login=False) == "/auth/login?next=/x"
    assert page_redirect(f"/locations/north/staff/{uid}/password") == (
        f"/auth/login?prompt=login&next=/locations/north/staff/{uid}/password")


async def test_a_cookie_from_before_keeps_working_with_an_unknown_time() -> None:
    """Sessions sealed before the field existed decode, as signed in at an unknown time."""
    secret = secrets.token_bytes(32)
    manager = SessionManager(secret, max_age=3600, idle=600, revocations=MemoryRevocations())
    old = {"sid": "s", "oid": "o", "upn": "a@b.c", "name": "A", "tid": "t", "csrf": "c",
           "created": NOW, "last_seen": NOW, "last_location": None, "extra": {},
           "signed_in_at": NOW}
    cookie = Sealer(secret, b"session-v1").seal(json.loads(json.dumps(old)))
    session = await manager.decode(cookie, now=NOW + 1)
    assert session is not None and session.authenticated_at is None
