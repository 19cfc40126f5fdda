"""The audit chain as the live proxy writes it (docs/audit.md): a manager signs in, resets a
password, adds, changes and removes a phone, is refused; ``mystaff-proxy audit verify``
accepts the log, finds a copy with one line edited, one removed or two swapped, and the
chain continues when the proxy restarts on the same file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from e2e_support import running_stack, uid

from fake_graph.embedded import RunningFake

NORTH = "/api/v1/locations/north/staff"
STAFF2 = uid("staff2@e2e.example")


def _verify(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mystaff_proxy.cli", "audit", "verify",
                           *map(str, paths)], capture_output=True, text=True, timeout=60)


async def _work(stack: object, manager: str = "mgr.upn@e2e.example") -> None:
    m = await stack.manager(manager)  # type: ignore[attr-defined]
    for method, path, body, status in (
            ("POST", f"{NORTH}/{STAFF2}/password", {}, 200),
            ("POST", f"{NORTH}/{STAFF2}/phone-methods",
             {"phoneType": "mobile", "phoneNumber": "425 555 0166"}, 201),
            ("PATCH", f"{NORTH}/{STAFF2}/phone-methods/mobile", {"phoneNumber": "4255550157"},
             200),
            ("POST", f"{NORTH}/{uid('ceo@e2e.example')}/password", {}, 403),
            ("DELETE", f"{NORTH}/{STAFF2}/phone-methods/mobile", None, 204)):
        got, data, _ = await m.call(method, path, body)
        assert got == status, data


async def test_verify_accepts_the_proxys_log_and_finds_tampering(e2e_fake: RunningFake,
                                                                 tmp_path: Path) -> None:
    async with running_stack(e2e_fake, tmp_path) as stack:
        await _work(stack)
        audit = stack.audit_path
    records = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [r["event"] for r in records] == ["sign_in", "password_reset", "phone_added",
                                             "phone_changed", "password_reset", "phone_removed"]
    ok = _verify(audit)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"{audit}: chain intact: 6 records, seq 1..6")

    lines = audit.read_bytes().splitlines(keepends=True)
    edited = tmp_path / "edited.jsonl"  # the refused reset made to look done
    forged = lines[4].replace(b'"outcome":"denied","reason":"protected_user"',
                              b'"outcome":"success"')
    edited.write_bytes(b"".join([*lines[:4], forged, *lines[5:]]))
    removed = tmp_path / "removed.jsonl"
    removed.write_bytes(b"".join([*lines[:2], *lines[3:]]))
    swapped = tmp_path / "swapped.jsonl"
    swapped.write_bytes(b"".join([*lines[:2], lines[3], lines[2], *lines[4:]]))
    for bad, line in ((edited, 5), (removed, 3), (swapped, 3)):
        result = _verify(bad)
        assert result.returncode == 1, (bad, result.stdout)
        assert result.stdout.startswith(f"{bad}:{line}: "), result.stdout


async def test_the_chain_continues_across_a_restart(e2e_fake: RunningFake,
                                                    tmp_path: Path) -> None:
    async with running_stack(e2e_fake, tmp_path) as stack:
        await _work(stack)
    async with running_stack(e2e_fake, tmp_path) as stack:  # the same audit file
        await _work(stack, "mgr.oid@e2e.example")
        audit = stack.audit_path
    records = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [r["seq"] for r in records] == list(range(1, 13))
    result = _verify(audit)
    assert result.returncode == 0 and "12 records" in result.stdout, result.stdout
    assert "chains" not in result.stdout  # one chain, not two
