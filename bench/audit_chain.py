"""The audit log's write path with the hash chain, against the same code before the chain.

Run: ``python bench/audit_chain.py [--quick]``.

The version before the chain is read from git (``BEFORE``) into a module of its own; both
write to a file in the same temporary directory. Three figures per version, medians of
rounds (5; ``--quick``: 2): sequential records (one thread: ``write`` = line + write +
fsync), a change's two writes (``begin`` + ``finish``), and 16 concurrent change cycles
interleaved with records (the proxy under load: the chain's rewrite takes the log's lock).
The CPU the chain adds (hashing and building the line under the lock) is also measured
with ``fsync`` replaced by a no-op, since a disk's fsync dwarfs it. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "9d52bfc"  # the last commit before the chain
sys.path.insert(0, str(ROOT))

from mystaff_proxy.audit import log as after  # noqa: E402


def _before() -> ModuleType:
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE}:mystaff_proxy/audit.py"],
                            capture_output=True, text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("audit_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit_before"] = module  # dataclasses look their module up
    exec(compile(source, "audit_before.py", "exec"), module.__dict__)
    return module


def _events(mod: Any, n: int) -> tuple[Any, Any]:
    actor = mod.Principal("a11ce000-0000-4000-8000-000000000001", "alice@contoso.com")
    target = mod.Principal("b0b00000-0000-4000-8000-000000000002", "bob@contoso.com")
    record = mod.AuditEvent(request_id=f"r{n}", event=mod.EventType.ACCESS_DENIED, actor=actor,
                            outcome=mod.Outcome.DENIED, location="seattle", reason="not_found",
                            detail={"action": "view"})
    change = mod.AuditEvent(request_id=f"c{n}", event=mod.EventType.PHONE_ADDED, actor=actor,
                            outcome=mod.Outcome.SUCCESS, target=target, location="seattle",
                            detail={"phoneType": "mobile", "phoneLast2": "00"})
    return record, change


async def _round(mod: Any, n: int, tmp: Path) -> dict[str, float]:
    log = mod.AuditLog(tmp / f"{mod.__name__}-{time.monotonic_ns()}.jsonl")
    record, change = _events(mod, 0)
    out = {}
    started = time.perf_counter()
    for _ in range(n):
        await log.write(record)
    out["record"] = (time.perf_counter() - started) / n
    started = time.perf_counter()
    for _ in range(n):
        pending = await log.begin(change)
        await pending.finish(mod.Outcome.SUCCESS)
    out["change"] = (time.perf_counter() - started) / n

    async def cycle() -> None:
        for _ in range(n // 16):
            pending = await log.begin(change)
            await log.write(record)
            await pending.finish(mod.Outcome.SUCCESS)

    started = time.perf_counter()
    await asyncio.gather(*(cycle() for _ in range(16)))
    out["concurrent"] = (time.perf_counter() - started) / (16 * (n // 16))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, n = (2, 160) if args.quick else (5, 800)
    before = _before()
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        for label, fsync in (("with fsync", os.fsync), ("fsync a no-op (CPU)", None)):
            results: dict[str, dict[str, list[float]]] = {"before": {}, "chain": {}}
            for _ in range(rounds):
                for name, mod in (("before", before), ("chain", after)):
                    mod.os = os if fsync else _NoFsync()
                    for key, value in asyncio.run(_round(mod, n, Path(tmp))).items():
                        results[name].setdefault(key, []).append(value)
            print(f"{label}: microseconds per record (median of {rounds} rounds of {n})")
            for key in ("record", "change", "concurrent"):
                b = statistics.median(results["before"][key]) * 1e6
                c = statistics.median(results["chain"][key]) * 1e6
                print(f"  {key:<11} before {b:9.1f}   chain {c:9.1f}   x{c / b:5.2f}")
        before.os = os
        after.os = os  # type: ignore[attr-defined]


class _NoFsync:
    """``os`` with ``fsync`` doing nothing."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def fsync(fd: int) -> None:
        return None


if __name__ == "__main__":
    main()
