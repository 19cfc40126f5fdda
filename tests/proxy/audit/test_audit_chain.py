"""The audit log's chain (docs/audit.md): ``seq`` and ``prev`` on every line, in completion
order, across restarts and rotations; ``audit verify`` finds a line removed, changed, added
or moved, names it, and accepts every log the proxy itself writes."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mystaff_proxy.audit.log import (
    GENESIS,
    AuditEvent,
    AuditLog,
    EventType,
    Outcome,
    Principal,
    line_hash,
)
from mystaff_proxy.audit.verify import ChainBroken, verify

MGR = Principal("a11ce000-0000-4000-8000-000000000001", "alice@contoso.com")
BOB = Principal("b0b00000-0000-4000-8000-000000000002", "bob@contoso.com")


def _simple(n: int) -> AuditEvent:
    return AuditEvent(request_id=f"s{n}", event=EventType.SIGN_IN, actor=MGR,
                      outcome=Outcome.SUCCESS)


def _change(n: int) -> AuditEvent:
    return AuditEvent(request_id=f"c{n}", event=EventType.PHONE_ADDED, actor=MGR,
                      outcome=Outcome.SUCCESS, target=BOB, location="seattle",
                      detail={"phoneType": "mobile", "phoneLast2": "00"})


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def _busy_log(path: Path) -> AuditLog:
    """Simple records and changes interleaved: changes completed out of order."""
    log = AuditLog(path)
    await log.write(_simple(0))
    pending = [await log.begin(_change(n)) for n in range(4)]
    await log.write(_simple(1))
    await pending[2].finish(Outcome.SUCCESS)
    await log.write(_simple(2))
    await pending[0].finish(Outcome.DENIED, "conflict", {"graphStatus": 409})
    await asyncio.gather(pending[3].finish(Outcome.SUCCESS), pending[1].finish(
        Outcome.FAILED, "upstream_unavailable"), log.write(_simple(3)))
    await log.write(_simple(4))
    return log


async def test_every_line_carries_seq_and_prev_of_the_record_completed_before_it(
        tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await _busy_log(path)
    records = _records(path)
    assert [r["seq"] for r in records] == list(range(1, 10))
    assert records[0]["prev"] == GENESIS
    lines = path.read_bytes().splitlines()
    # A change completed after later lines: its prev names one written after it.
    assert records[3]["prev"] == line_hash(lines[5])  # pending[2] after _simple(1)
    summary = verify([str(path)])
    assert (summary.records, summary.first_seq, summary.last_seq) == (9, 1, 9)
    assert summary.head is not None and summary.pending == []


async def test_the_chain_continues_after_a_restart_and_completes_what_a_crash_left(
        tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = await _busy_log(path)
    await log.begin(_change(9))  # the process dies before Graph answers
    assert verify([str(path)]).pending == [f"{path}:10"]
    again = AuditLog(path)
    again.check()  # start-up: reads the head back, completes the orphan as interrupted
    await again.write(_simple(10))
    records = _records(path)
    assert records[9]["reason"] == "interrupted" and records[9]["prev"] != "pending"
    assert records[10]["seq"] == 11
    summary = verify([str(path)])
    assert summary.pending == [] and summary.records == 11 and summary.chains == 1


async def test_a_rotation_continues_the_chain_in_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = await _busy_log(path)
    rotated = tmp_path / "audit.jsonl.1"
    path.rename(rotated)  # logrotate's default: rename, and the next record creates the file
    await log.write(_simple(20))
    first = _records(path)[0]
    assert first["seq"] == 10 and first["prev"] == line_hash(rotated.read_bytes().splitlines()[-1])
    summary = verify([str(rotated), str(path)])
    assert summary.records == 10 and summary.chains == 1
    # Each alone holds too (the newer one continues a chain begun before it).
    assert verify([str(rotated)]).records == 9 and verify([str(path)]).records == 1
    # A line of the old file lost in the rotation: the new file's first line says so.
    rotated.write_bytes(b"".join(rotated.read_bytes().splitlines(keepends=True)[:-1]))
    with pytest.raises(ChainBroken, match=r"audit\.jsonl:1: seq 10, expected 9"):
        verify([str(rotated), str(path)])


async def test_a_restart_on_a_fresh_file_starts_a_new_chain(tmp_path: Path) -> None:
    old = tmp_path / "audit.jsonl.1"
    await _busy_log(old)
    new = tmp_path / "audit.jsonl"
    await AuditLog(new).write(_simple(30))
    assert _records(new)[0]["prev"] == GENESIS
    assert verify([str(old), str(new)]).chains == 2


async def test_standard_output_is_chained_too(capfd: pytest.CaptureFixture[str]) -> None:
    log = AuditLog("-")
    await log.write(_simple(0))
    pending = await log.begin(_change(1))
    await log.write(_simple(2))
    await pending.finish(Outcome.SUCCESS)
    lines = capfd.readouterr().out.encode().splitlines()
    records = [json.loads(x) for x in lines]
    assert [r["seq"] for r in records] == [1, 2, 3]  # the change written when completed
    assert records[2]["prev"] == line_hash(lines[1])


# -- tampering -----------------------------------------------------------------------------

@pytest.fixture
def good_log(tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl"
    asyncio.run(_busy_log(path))
    return path


def _tampered(good: Path, tmp: Path, edit: str) -> Path:
    lines = good.read_bytes().splitlines(keepends=True)
    if edit == "changed":
        lines[2] = lines[2].replace(b'"c1"', b'"cX"')
    elif edit == "outcome":
        lines[3] = lines[3].replace(b'"outcome":"success"', b'"outcome":"denied" ')
    elif edit == "removed":
        del lines[4]
    elif edit == "swapped":
        lines[5], lines[6] = lines[6], lines[5]
    elif edit == "added":
        lines.insert(3, lines[5])
    elif edit == "last_removed_then_renumbered":
        record = json.loads(lines[6])
        record["seq"] = 6
        lines[5:7] = [json.dumps(record, separators=(",", ":")).encode() + b"\n"]
    out = tmp / f"{edit}.jsonl"
    out.write_bytes(b"".join(lines))
    return out


@pytest.mark.parametrize(("edit", "line", "message"), [
    ("changed", 3, "changed: "),
    ("outcome", 4, "changed: "),
    ("removed", 5, "1 line(s) removed before this one"),
    ("swapped", 6, "seq 7, expected 6"),
    ("added", 4, "seq 6, expected 4"),
    ("last_removed_then_renumbered", 1, "names another hash"),
])
def test_verify_names_the_first_broken_line(good_log: Path, tmp_path: Path, edit: str,
                                            line: int, message: str) -> None:
    bad = _tampered(good_log, tmp_path, edit)
    with pytest.raises(ChainBroken) as info:
        verify([str(bad)])
    assert info.value.where == f"{bad}:{line}", str(info.value)
    assert message in str(info.value)


def test_the_command(good_log: Path, tmp_path: Path) -> None:
    def run(*paths: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mystaff_proxy.cli", "audit", "verify",
                               *map(str, paths)], capture_output=True, text=True, timeout=60)

    ok = run(good_log)
    assert ok.returncode == 0 and ok.stdout.count("\n") == 1
    assert ok.stdout.startswith(f"{good_log}: chain intact: 9 records, seq 1..9, last hash ")
    copy = tmp_path / "copy.jsonl"
    shutil.copy(good_log, copy)
    bad = _tampered(good_log, tmp_path, "swapped")
    assert run(copy, good_log).returncode == 0  # a second chain: the proxy restarted
    broken = run(copy, bad)
    assert broken.returncode == 1 and broken.stdout.startswith(f"{bad}:6: seq 7, expected 6")
    missing = run(tmp_path / "nothing.jsonl")
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_every_change_event_may_join_the_chain_late() -> None:
    """A change's record is written before its change and completed after it (audit.begin):
    ``audit verify`` must know every such event, or a log with one would read as broken."""
    from mystaff_proxy.audit.log import EventType
    from mystaff_proxy.audit.verify import CHANGE_EVENTS

    not_changes = {EventType.SIGN_IN, EventType.SIGN_OUT, EventType.ACCESS_DENIED,
                   EventType.NOTIFICATION_FAILED}
    assert {e.value for e in EventType} - {e.value for e in not_changes} == CHANGE_EVENTS
