"""The policy in force: loaded at start, reloaded when the file changes, UPNs resolved.

A file that fails validation (or whose names cannot be resolved because Graph is down) is
refused with a logged error and a metric, and the last good policy stays in force (docs/policy.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from pathlib import Path

from mystaff_proxy.graph.exceptions import GraphError
from mystaff_proxy.graph.operations import GraphOperations
from mystaff_proxy.metrics import Metrics
from mystaff_proxy.policy.model import Policy, PolicyError, policy_names
from mystaff_proxy.policy.parse import load_policy
from mystaff_proxy.policy.remembered_ids import load_remembered, save_remembered
from mystaff_proxy.policy.resolve import ResolvedPolicy, resolve

log = logging.getLogger("mystaff_proxy.policy.model")

CHECK_INTERVAL = 2.0
RESOLVE_INTERVAL = 900.0


class PolicyRuntime:
    def __init__(self, path: str | Path, ops: GraphOperations, metrics: Metrics, *,
                 check_interval: float = CHECK_INTERVAL,
                 resolve_interval: float = RESOLVE_INTERVAL,
                 remembered_ids_path: str | None = None) -> None:
        self.path = Path(path)
        self._remembered_path = remembered_ids_path
        self._remembered = load_remembered(remembered_ids_path)
        self._ops = ops
        self._metrics = metrics
        self._check_interval = check_interval
        self._resolve_interval = resolve_interval
        self.current: ResolvedPolicy | None = None
        self.policy: Policy | None = None
        self.last_error: str | None = None
        self._digest: str | None = None
        self._resolved_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def _read(self) -> tuple[bytes, str]:
        data = self.path.read_bytes()
        return data, hashlib.sha256(data).hexdigest()

    async def reload(self, *, force: bool = False) -> bool:
        """Load the file if it changed (or ``force``); True when a new policy took effect."""
        try:
            _, digest = await asyncio.to_thread(self._read)
        except OSError as exc:
            # Deleted, or unreadable: most likely a deployment mid-way (or a mistake), not a
            # decision to revoke every manager; the last good policy stays, as for a broken
            # file. Told once per problem, not at every check.
            message = f"{self.path}: cannot read policy file: {exc.strerror}"
            if message == self.last_error:
                return False
            self._digest = ""  # the same file, back again, is loaded again
            return self._refuse(message)
        stale = time.monotonic() - self._resolved_at > self._resolve_interval
        if digest == self._digest and not force and not stale:
            return False
        try:
            policy = await asyncio.to_thread(load_policy, self.path)
        except PolicyError as exc:
            self._digest = digest  # do not re-log the same broken file every tick
            return self._refuse("; ".join(exc.errors))
        upns, _, _ = policy_names(policy)
        try:
            upn_map = await self._ops.resolve_upns(upns) if upns else {}
        except GraphError as exc:
            return self._refuse(f"cannot resolve the policy's UPNs through Graph: {exc.code}")
        resolved = resolve(policy, upn_map, self._remembered)
        if dict(resolved.protected_ids) != self._remembered:
            # Kept only while the UPN stays in protected.users: IT removing it ends it.
            self._remembered = dict(resolved.protected_ids)
            await asyncio.to_thread(save_remembered, self._remembered_path, self._remembered)
        for warning in resolved.warnings:
            log.warning("policy: %s", warning)
        self.policy, self.current = policy, resolved
        self._digest, self._resolved_at = digest, time.monotonic()
        self.last_error = None
        self._metrics.policy_reloads += 1
        log.info("policy loaded from %s", self.path)
        return True

    def _refuse(self, message: str) -> bool:
        self.last_error = message
        self._metrics.policy_reload_failures += 1
        if self.current is None:
            log.error("policy refused, no policy in force: %s", message)
        else:
            log.error("policy refused, the last good policy stays in force: %s", message)
        return False

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval)
            try:
                await self.reload()
            except Exception:  # the watcher must never die; the failure is logged
                log.exception("policy reload failed")
                self._metrics.policy_reload_failures += 1
