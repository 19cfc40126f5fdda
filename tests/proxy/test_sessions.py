from __future__ import annotations

import secrets

from mystaff_proxy.sessions import MemoryRevocations, Sealer, Session, SessionManager


def _manager(**kw: float) -> SessionManager:
    return SessionManager(secrets.token_bytes(32), max_age=kw.get("max_age", 3600),
                          idle=kw.get("idle", 600), revocations=MemoryRevocations())


def _session(now: float = 1_000_000.0) -> Session:
    return Session.new(oid="o1", upn="a@b.c", name="A", tid="t1", now=now)


async def test_round_trip_and_fresh_ids() -> None:
    mgr = _manager()
    s = _session()
    cookie = mgr.encode(s)
    assert "a@b.c" not in cookie  # encrypted, not just signed
    assert await mgr.decode(cookie, now=s.created + 1) == s
    other = _session()
    assert other.sid != s.sid and other.csrf != s.csrf


async def test_tampered_foreign_and_oversized_cookies_are_refused() -> None:
    mgr = _manager()
    s = _session()
    cookie = mgr.encode(s)
    flipped = cookie[:-3] + ("A" if cookie[-3] != "A" else "B") + cookie[-2:]
    assert await mgr.decode(flipped, now=s.created) is None
    assert await _manager().decode(cookie, now=s.created) is None  # another secret
    assert await mgr.decode("x" * 5000, now=s.created) is None
    assert await mgr.decode("", now=s.created) is None
    assert await mgr.decode("!!!", now=s.created) is None


async def test_idle_and_absolute_timeouts() -> None:
    mgr = _manager(max_age=3600, idle=600)
    s = _session()
    cookie = mgr.encode(s)
    assert await mgr.decode(cookie, now=s.created + 599) is not None
    assert await mgr.decode(cookie, now=s.created + 601) is None  # idle
    touched = mgr.touched(s, now=s.created + 590)
    assert touched is not None
    cookie2 = mgr.encode(touched)
    assert await mgr.decode(cookie2, now=s.created + 1100) is not None
    # Touching can never outlive the absolute limit.
    late = mgr.touched(s, now=s.created + 3500)
    assert late is not None
    assert await mgr.decode(mgr.encode(late), now=s.created + 3601) is None


async def test_touch_is_rate_limited() -> None:
    mgr = _manager()
    s = _session()
    assert mgr.touched(s, now=s.created + 10) is None


async def test_sign_out_revokes_a_replayed_cookie() -> None:
    mgr = _manager()
    s = Session.new(oid="o1", upn="a@b.c", name="A", tid="t1")
    cookie = mgr.encode(s)
    assert await mgr.decode(cookie) is not None
    await mgr.end(s)
    assert await mgr.decode(cookie) is None


def test_sealer_purposes_are_separate() -> None:
    secret = secrets.token_bytes(32)
    token = Sealer(secret, b"a").seal({"x": 1})
    assert Sealer(secret, b"a").open(token) == {"x": 1}
    assert Sealer(secret, b"b").open(token) is None
