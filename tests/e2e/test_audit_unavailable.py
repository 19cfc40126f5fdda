"""The audit log full or unwritable, end to end: changes are refused and never reach Graph
(docs/audit.md: never a change without its record); reads go on; it recovers by itself.

A full disk is the kernel's own ENOSPC: the audit path is pointed at ``/dev/full`` (open
succeeds, every write fails with "No space left on device"), by replacing the file with a
symlink while the proxy runs — the log is opened per record, as a rotation would be picked
up. An unwritable log is a directory where the file was (EISDIR: root ignores permission
bits, so chmod would prove nothing here).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from e2e_checks import error_code, state
from e2e_support import Stack, uid

STAFF1, STAFF2 = "staff1@e2e.example", "staff2@e2e.example"
NORTH = "/api/v1/locations/north/staff"
CHANGES = [
    ("POST", f"{NORTH}/{uid(STAFF2)}/password", {}),
    ("POST", f"{NORTH}/{uid(STAFF1)}/phone-methods",
     {"phoneType": "office", "phoneNumber": "+1 425 555 0140"}),
    ("PATCH", f"{NORTH}/{uid(STAFF1)}/phone-methods/mobile", {"phoneNumber": "+1 425 555 0141"}),
    ("DELETE", f"{NORTH}/{uid(STAFF1)}/phone-methods/mobile", None),
]
WRITES = re.compile(r"^(PATCH|POST|DELETE)$")


@contextmanager
def audit_replaced(path: Path, how: str) -> Iterator[None]:
    """The audit file swapped, while the proxy runs, for a full disk or a directory."""
    kept = path.with_suffix(".kept")
    os.replace(path, kept)
    if how == "full":
        path.symlink_to("/dev/full")
    else:
        path.mkdir()
    try:
        yield
    finally:
        if path.is_symlink():
            path.unlink()
        else:
            path.rmdir()
        os.replace(kept, path)


def graph_writes(stack: Stack, since: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in stack.fake.fake.recorder.since(since)[0]
            if WRITES.match(r.method) and r.path != "/v1.0/$batch"]


@pytest.mark.parametrize("how", ["full", "directory"])
async def test_changes_are_refused_while_the_audit_log_cannot_be_written(
        stack: Stack, how: str) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    before = {upn: state(stack, upn) for upn in (STAFF1, STAFF2)}
    lines_before = stack.audit_path.read_bytes()
    seq = stack.fake.fake.recorder.last_seq
    with audit_replaced(stack.audit_path, how):
        for method, path, body in CHANGES:
            status, answer, _ = await m.call(method, path, body)
            assert (status, error_code(answer)) == (503, "upstream_unavailable"), (path, answer)
            assert "audit" in answer["error"]["message"]
            assert "temporaryPassword" not in answer
        # Reads are not held back (a successful read has no record to write).
        status, profile, _ = await m.call("GET", f"{NORTH}/{uid(STAFF1)}")
        assert status == 200 and profile["phoneMethods"]
    assert graph_writes(stack, seq) == []  # nothing was sent to Graph
    assert {upn: state(stack, upn) for upn in (STAFF1, STAFF2)} == before
    assert stack.audit_path.read_bytes() == lines_before  # and no half line anywhere
    # The disk has room again: the same change goes through, with its record.
    status, answer, _ = await m.call(*CHANGES[0])
    assert status == 200, answer
    records = [json.loads(line) for line in stack.audit_path.read_text().splitlines()]
    assert records[-1]["event"] == "password_reset" and records[-1]["outcome"] == "success"


async def test_sign_in_is_refused_and_sign_out_still_works(stack: Stack) -> None:
    signed_in = await stack.manager("mgr.upn@e2e.example")
    with audit_replaced(stack.audit_path, "full"):
        m = await stack.manager()
        last = await m.sign_in("mgr.upn@e2e.example")
        assert last.status == 503 and "audit log cannot be written" in await last.text()
        status, body, _ = await m.call("GET", "/api/v1/me")
        assert (status, error_code(body)) == (401, "unauthenticated")  # no session was made
        # Signing out only takes access away: it is not refused for want of a record.
        async with signed_in.session.post(f"{stack.proxy_url}/auth/logout",
                                          headers={"X-CSRF-Token": signed_in.csrf},
                                          allow_redirects=False) as resp:
            assert resp.status == 302
        assert (await signed_in.call("GET", "/api/v1/me"))[0] == 401
