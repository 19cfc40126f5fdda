from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mystaff_proxy.audit.log import (
    AuditEvent,
    AuditLog,
    AuditUnavailable,
    EventType,
    Outcome,
    Principal,
)

ALICE = Principal("a11ce000-0000-4000-8000-000000000001", "alice@contoso.com")
BOB = Principal("b0b00000-0000-4000-8000-000000000002", "bob@contoso.com")


def _phone_event(**kw: Any) -> AuditEvent:
    base: dict[str, Any] = dict(
        request_id="req-1", event=EventType.PHONE_CHANGED, actor=ALICE, outcome=Outcome.SUCCESS,
        target=BOB, location="seattle",
        detail={"phoneType": "mobile", "phoneLast2": "00", "previousPhoneLast2": "42"})
    base.update(kw)
    return AuditEvent(**base)


def test_record_shape() -> None:
    when = datetime(2025, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
    record = json.loads(_phone_event(time=when).to_line())
    assert record == {
        "time": "2025-03-01T12:30:05.123Z", "requestId": "req-1", "event": "phone_changed",
        "actor": {"id": ALICE.id, "userPrincipalName": "alice@contoso.com"},
        "target": {"id": BOB.id, "userPrincipalName": "bob@contoso.com"},
        "location": "seattle", "outcome": "success",
        "detail": {"phoneType": "mobile", "phoneLast2": "00", "previousPhoneLast2": "42"},
    }
    assert list(record) == ["time", "requestId", "event", "actor", "target", "location",
                            "outcome", "detail"]


def test_optional_fields_are_absent_and_time_is_utc_z() -> None:
    event = AuditEvent(request_id="r", event=EventType.SIGN_IN, actor=None,
                       outcome=Outcome.DENIED, reason="sign_in_failed")
    record = json.loads(event.to_line())
    assert set(record) == {"time", "requestId", "event", "actor", "outcome", "reason"}
    assert record["actor"] == {"id": None, "userPrincipalName": None}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])


def test_reason_rules() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        _phone_event(outcome=Outcome.DENIED)
    with pytest.raises(ValueError, match="no reason"):
        _phone_event(reason="forbidden")
    with pytest.raises(ValueError, match="short code"):
        _phone_event(outcome=Outcome.FAILED, reason="Graph said: token eyJ... expired")
    assert json.loads(_phone_event(outcome=Outcome.DENIED, reason="protected_user")
                      .to_line())["reason"] == "protected_user"


@pytest.mark.parametrize(("detail", "message"), [
    ({"phoneNumber": "+1 2065550100"}, "not allowed"),
    ({"password": "x"}, "not allowed"),
    ({"phoneLast2": "2065550100"}, "last 4 digits"),
    ({"phoneLast2": 2065550100}, "number that long"),
    ({"phoneType": "+1 2065550100"}, "phone number"),
    ({"method": "2065550100"}, "phone number"),
    ({"graphCode": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.sig"}, "token"),
    ({"why": "Zk3xQ9vLm2PqR7sTuW8yAbCd"}, "token or a secret"),
    ({"graphCode": "x" * 65}, "too long"),
    ({"count": [1, 2]}, "only strings"),
    # a hash only where a hash belongs, and only a hash there
    ({"phoneHash": "+1 2065550100"}, "only a hash"),
    ({"phoneHash": "A" * 64}, "only a hash"),
    ({"previousPhoneHash": "0" * 63}, "only a hash"),
    ({"phoneHash": 12}, "number that long"),
    ({"why": "3f" * 32}, "too long|token or a secret"),
])
def test_detail_refuses_secrets_and_unknown_keys(detail: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _phone_event(detail=detail)


def test_detail_accepts_phone_hashes() -> None:
    digest = hashlib.sha256(b"x").hexdigest()  # 64 hex digits: a secret anywhere else
    event = _phone_event(detail={"phoneType": "mobile", "phoneHash": digest,
                                 "previousPhoneHash": "0" * 64})
    assert json.loads(event.to_line())["detail"]["phoneHash"] == digest


def test_detail_accepts_safe_values() -> None:
    event = _phone_event(detail={"method": "generated", "count": 25, "retryAfter": 60,
                                 "graphCode": "Authorization_RequestDenied", "why": "admin",
                                 "action": "reset_password", "graphStatus": 403})
    assert json.loads(event.to_line())["detail"]["graphCode"] == "Authorization_RequestDenied"


async def test_line_is_fsynced_before_write_returns(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    synced: list[bytes] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(path.read_bytes())

    monkeypatch.setattr("mystaff_proxy.audit.log.os.fsync", fsync)
    await log.write(_phone_event())
    # fsync ran after the whole line was in the file, and before write() returned
    assert len(synced) == 1 and synced[0].endswith(b"\n") and synced[0].count(b"\n") == 1
    assert json.loads(path.read_text())["event"] == "phone_changed"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


async def test_fsync_failure_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("mystaff_proxy.audit.log.os.fsync", fsync)
    with pytest.raises(AuditUnavailable, match="Input/output error"):
        await AuditLog(tmp_path / "a.jsonl").write(_phone_event())


async def test_unwritable_path_raises(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "missing-dir" / "audit.jsonl")
    with pytest.raises(AuditUnavailable):
        await log.write(_phone_event())
    with pytest.raises(AuditUnavailable):
        log.write_sync(_phone_event())
    with pytest.raises(AuditUnavailable):
        log.check()


async def test_short_write_is_taken_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    log.write_sync(_phone_event())
    before = path.read_bytes()
    real_write = os.write

    def short_write(fd: int, data: bytes) -> int:
        return real_write(fd, data[:10])

    monkeypatch.setattr("mystaff_proxy.audit.log.os.write", short_write)
    with pytest.raises(AuditUnavailable, match="full"):
        log.write_sync(_phone_event())
    assert path.read_bytes() == before


async def test_concurrent_writes_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    await asyncio.gather(*(log.write(_phone_event(request_id=f"req-{i}")) for i in range(200)))
    lines = path.read_text().splitlines()
    assert len(lines) == 200
    assert sorted(json.loads(line)["requestId"] for line in lines) == \
        sorted(f"req-{i}" for i in range(200))


def test_threads_and_sync_writers_share_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    big = {"why": "x" * 60}

    def work(n: int) -> None:
        for i in range(50):
            log.write_sync(_phone_event(request_id=f"{n}-{i}", detail=big))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([json.loads(x) for x in path.read_text().splitlines()]) == 200


def test_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    AuditLog("-").write_sync(_phone_event())
    out = capfd.readouterr().out
    assert json.loads(out)["requestId"] == "req-1" and out.endswith("\n")


def test_unicode_upn_is_utf8(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    AuditLog(path).write_sync(_phone_event(target=Principal(BOB.id, "jörg@contoso.com")))
    assert "jörg@contoso.com" in path.read_text(encoding="utf-8")


# -- provisional records: a change is on disk before it is sent ----------------------------------

def _change_event(n: int = 0) -> AuditEvent:
    return AuditEvent(request_id=f"r{n}", event=EventType.PHONE_ADDED,
                      actor=Principal("a1", "m@contoso.example"), outcome=Outcome.SUCCESS,
                      target=Principal("t1", "s@contoso.example"), location="seattle",
                      detail={"phoneType": "mobile", "phoneLast2": "00"})


async def test_begin_writes_interrupted_then_finish_rewrites_in_place(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    pending = await log.begin(_change_event())
    before = json.loads(path.read_text())
    assert before["outcome"] == "failed" and before["reason"] == "interrupted"
    size = path.stat().st_size
    await pending.finish(Outcome.SUCCESS)
    assert path.stat().st_size == size  # rewritten, not appended
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    after = json.loads(lines[0])
    assert after["outcome"] == "success" and "reason" not in after
    assert after["time"] == before["time"] and after["detail"]["phoneLast2"] == "00"


async def test_finish_with_failure_keeps_one_parseable_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    pending = await log.begin(_change_event())
    await pending.finish(Outcome.FAILED, "upstream_unavailable", {"graphStatus": 503})
    (record,) = [json.loads(x) for x in path.read_text().splitlines()]
    assert record["reason"] == "upstream_unavailable"
    assert record["detail"]["graphStatus"] == 503


async def test_interleaved_changes_each_finish_their_own_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    pendings = [await log.begin(_change_event(n)) for n in range(20)]
    await log.write(AuditEvent(request_id="x", event=EventType.SIGN_OUT,
                               actor=Principal("a1", "m@contoso.example"),
                               outcome=Outcome.SUCCESS))
    await asyncio.gather(*(p.finish(Outcome.SUCCESS if i % 2 else Outcome.DENIED,
                                    None if i % 2 else "conflict")
                           for i, p in enumerate(reversed(pendings))))
    records = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(records) == 21
    by_id = {r["requestId"]: r for r in records}
    for n in range(20):
        expected = "success" if (19 - n) % 2 else "denied"
        assert by_id[f"r{n}"]["outcome"] == expected


async def test_rotation_between_begin_and_finish_updates_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    pending = await log.begin(_change_event())
    rotated = tmp_path / "audit.jsonl.1"
    path.rename(rotated)
    await pending.finish(Outcome.SUCCESS)
    assert json.loads(rotated.read_text())["outcome"] == "success"
    assert not path.exists()


async def test_begin_on_an_unwritable_log_refuses(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "missing-dir" / "audit.jsonl")
    with pytest.raises(AuditUnavailable):
        await log.begin(_change_event())
