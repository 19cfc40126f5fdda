from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import pytest

from mystaff_proxy.auth.sessions import Session, SessionManager
from mystaff_proxy.sealing import Sealer
from mystaff_proxy.stores.revocations import FileRevocations, MemoryRevocations


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


# -- signed-out ids kept in a file (one instance, across restarts) ---------------------------

def _lines(path: Path | str) -> list[str]:
    return Path(path).read_text().splitlines()


def _replace_with_a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_revocations_survive_a_restart(tmp_path: Path) -> None:
    path, clock = str(tmp_path / "revoked"), Clock()
    first = FileRevocations(path, clock=clock)
    await first.revoke("sid-a", clock.now + 100)
    await first.revoke("sid-b", clock.now + 10)
    assert all("sid-" not in line for line in _lines(path))  # only digests of the ids
    again = FileRevocations(path, clock=clock)  # the next process
    assert await again.is_revoked("sid-a") and await again.is_revoked("sid-b")
    assert not await again.is_revoked("sid-c")
    clock.now += 50  # sid-b's session would have expired anyway: forgotten, and compacted
    third = FileRevocations(path, clock=clock)
    assert await third.is_revoked("sid-a") and not await third.is_revoked("sid-b")
    assert len(_lines(path)) == 1


async def test_a_torn_or_foreign_line_is_skipped(tmp_path: Path) -> None:
    path, clock = tmp_path / "revoked", Clock()
    first = FileRevocations(str(path), clock=clock)
    await first.revoke("sid-a", clock.now + 100)
    _append(path, "garbage\n0123456789abcdef0123456789abcdef not-a-time\n0123456789ab")
    again = FileRevocations(str(path), clock=clock)
    assert await again.is_revoked("sid-a")
    assert len(_lines(path)) == 1


async def test_the_file_is_compacted_as_it_grows(tmp_path: Path) -> None:
    path, clock = tmp_path / "revoked", Clock()
    store = FileRevocations(str(path), clock=clock)
    for i in range(300):
        await store.revoke(f"sid-{i}", clock.now + 10)
        clock.now += 1  # each expires ten seconds after it was revoked
    assert len(_lines(path)) < 100
    assert await store.is_revoked("sid-299") and not await store.is_revoked("sid-0")


async def test_an_unwritable_file_still_revokes_in_memory(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "revoked"
    store = FileRevocations(str(path))
    _replace_with_a_directory(path)  # appending now fails
    with caplog.at_level(logging.ERROR, "mystaff_proxy"):
        await store.revoke("sid-a", 2e9)
    assert await store.is_revoked("sid-a")
    assert "not after a restart" in caplog.text


def test_an_unusable_path_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        FileRevocations(str(tmp_path / "missing-dir" / "revoked"))
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(OSError):
            FileRevocations(str(locked / "revoked"))
