"""The fake's shared state holder and aiohttp application factory.

Modules:
- ``identity``: discovery, keys, sign-in page, token endpoint (aiohttp routes).
- ``graph``: the ``/v1.0`` resources, dispatched by its own router so that top-level requests
  and ``$batch`` sub-requests take the same path (faults, recording, duplicate slashes).
- ``control``: ``/_fake`` test control.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from .directory import Directory
from .tenant import load_tenant
from .tokens import SigningKey, TokenService

# Query parameters whose values never appear in the recorded requests.
SECRET_PARAMS = frozenset({
    "code", "client_secret", "password", "refresh_token", "assertion", "client_assertion",
    "access_token", "id_token", "code_verifier", "newPassword", "new_password", "state", "nonce",
})


#: What a fault does to the answer: ``status`` answers with an error status (no status: latency
#: only), ``reset`` drops the connection without any HTTP answer, ``malformed`` answers with a
#: JSON content type and a body that is not JSON (a truncated document).
FaultKind = Literal["status", "reset", "malformed"]
FAULT_KINDS: tuple[FaultKind, ...] = ("status", "reset", "malformed")

#: The body of a ``malformed`` answer given before the handler ran: a JSON object cut short.
MALFORMED_BODY = ('{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users",'
                  '"value":[{"id":"')


#: The status recorded for a request whose connection an injected fault reset (no answer).
RESET_STATUS = 0


class ConnectionAborted(Exception):
    """An injected ``reset`` fault: the transport is aborted and nothing is answered.

    Raised by ``dispatch`` (Graph, ``$batch`` sub-requests included: a reset inside a batch
    aborts the connection of the whole outer ``$batch``, since there is no other answer to
    drop) and turned into ``transport.abort()`` by whoever owns the connection.
    """


def abort_connection(request: web.Request) -> web.StreamResponse:
    """Drop the client's connection without an answer (an injected ``reset``).

    ``abort()`` closes the socket at once (no TLS close_notify, no HTTP bytes): the client
    sees the server disconnect mid-request. The response returned is never sent: aiohttp
    fails to write it to the closed transport and drops it as a client disconnection.
    """
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


@dataclass
class Fault:
    path: re.Pattern[str]
    method: str | None = None
    status: int | None = None
    retry_after: int | None = None
    count: int | None = None  # None: until deleted
    latency_ms: int = 0
    kind: FaultKind = "status"
    # Apply the fault AFTER the real handler ran: the request took effect (a change is made)
    # but its answer is lost (reset), garbled (malformed) or replaced by an error (status).
    after: bool = False
    hits: int = 0  # requests the fault was applied to (counted when taken, before latency)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path.search(path) is not None

    @property
    def replaces_answer(self) -> bool:
        """Whether the fault changes the answer (and not only delays it)."""
        return self.kind != "status" or self.status is not None

    def malformed_status(self, real: int | None) -> int:
        """A ``malformed`` answer's status: the fault's, else the real answer's (``after``;
        a 204 becomes 200, as a 204 carries no body), else 200."""
        if self.status is not None:
            return self.status
        return 200 if real is None or real == 204 else real

    def malformed(self, real: bytes | None = None) -> bytes:
        """The broken body of a ``malformed`` answer: the real JSON cut in half when there is
        one (``after``), else a fixed truncated document. A proper prefix of a JSON object is
        never valid JSON, so a client can never parse it."""
        text = real.strip() if real else b""
        if len(text) >= 2 and text.startswith(b"{"):
            return text[: max(1, len(text) // 2)]
        return MALFORMED_BODY.encode()


class FaultStore:
    """Injected faults; the first matching fault with remaining count applies."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault to apply to this request (consuming one of its count), or None."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def __len__(self) -> int:
        return len(self._faults)


@dataclass
class RecordedRequest:
    seq: int
    time: float
    method: str
    path: str
    query: str
    status: int
    client_id: str | None
    batch: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.time))
            + f".{int(self.time * 1000) % 1000:03d}Z",
            "method": self.method, "path": self.path, "query": self.query,
            "status": self.status, "clientId": self.client_id, "batch": self.batch,
        }


def redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    redacted = [(k, "REDACTED" if k in SECRET_PARAMS else v) for k, v in pairs]
    return urlencode(redacted, safe="$,'()*:/ ")


class Recorder:
    """Every request and ``$batch`` sub-request, oldest first, secrets redacted."""

    def __init__(self, limit: int = 100_000) -> None:
        self._items: list[RecordedRequest] = []
        self._next = 1
        self._limit = limit

    def record(self, method: str, path: str, query: str, status: int,
               client_id: str | None, batch: bool) -> int:
        seq = self._next
        self._next += 1
        self._items.append(RecordedRequest(seq, time.time(), method, path, redact_query(query),
                                           status, client_id, batch))
        if len(self._items) > self._limit:
            del self._items[: len(self._items) - self._limit]
        return seq

    def since(self, seq: int) -> tuple[list[RecordedRequest], int]:
        items = [r for r in self._items if r.seq > seq]
        return items, self._next - 1

    @property
    def last_seq(self) -> int:
        return self._next - 1


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


def create_app(fake: FakeGraph) -> web.Application:
    from . import control, graph, identity

    # The identity middleware records and faults every request except /v1.0 (Graph does its
    # own, $batch sub-requests included) and /_fake (test control is never recorded).
    app = web.Application(client_max_size=4 * 1024 * 1024,
                          middlewares=[identity.record_and_fault])
    app[FAKE] = fake
    identity.setup(app)
    graph.setup(app)
    control.setup(app)
    return app
