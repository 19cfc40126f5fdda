"""Injected faults: what a test asks the fake to do instead of (or after) answering.

A ``Fault`` matches requests by method and path (a regular expression); ``FaultStore`` holds
them, the first matching fault with remaining count applies. Graph (``graph.dispatch``) and
the other endpoints (``identity.middleware``) apply them; ``/_fake/faults`` adds them.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

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
