"""The fake's shared state: one ``FakeGraph`` per tenant, reached by handlers through ``FAKE``.

Handlers (``identity``, ``graph``, ``control``) import this module; it imports none of them.
The aiohttp application that wires them together is built in ``app``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from .directory import Directory
from .faults import Fault, FaultStore
from .recorder import Recorder
from .tenant import load_tenant
from .tokens import SigningKey, TokenService


@dataclass
class FakeGraph:
    """One fake tenant: the directory, its tokens, faults and recorded requests."""

    tenant_path: Path
    directory: Directory
    base_url: str = "https://127.0.0.1:8443"
    key: SigningKey = field(default_factory=SigningKey.generate)
    faults: FaultStore = field(default_factory=FaultStore)
    recorder: Recorder = field(default_factory=Recorder)
    # Per-module state (auth codes, refresh tokens, long-running operations...).
    state: dict[str, Any] = field(default_factory=dict)
    on_reset: list[Callable[[], None]] = field(default_factory=list)
    # Requests being served (kept by ``app.count_in_progress``): a test that reads the
    # recorder waits for 0, so that a request the client has given up on (timed out) is not
    # recorded, or served with a fault, in the next test's window.
    in_progress: int = 0

    @classmethod
    def from_file(cls, tenant_path: str | Path) -> FakeGraph:
        path = Path(tenant_path)
        return cls(tenant_path=path, directory=load_tenant(path))

    @property
    def tokens(self) -> TokenService:
        # Rebuilt on demand because base_url is only known once the server listens.
        service = self.state.get("_tokens")
        if not isinstance(service, TokenService) or service.base_url != self.base_url:
            service = TokenService(self.directory.tenant.id, self.base_url, self.key)
            self.state["_tokens"] = service
        return service

    def reset(self) -> None:
        """Back to the tenant file: directory reloaded, faults cleared, module state reset."""
        self.directory = load_tenant(self.tenant_path)
        self.faults.clear()
        for hook in self.on_reset:
            hook()

    async def apply_fault(self, method: str, path: str) -> Fault | None:
        """Sleep for an injected latency; return the fault if it also changes the answer
        (a status, a reset or a malformed body: the caller applies it before or ``after``
        running the handler)."""
        fault = self.faults.take(method, path)
        if fault is None:
            return None
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        return fault if fault.replaces_answer else None


FAKE: web.AppKey[FakeGraph] = web.AppKey("fake_graph", FakeGraph)
