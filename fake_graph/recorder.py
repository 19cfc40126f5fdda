"""The record of every request the fake served (``/_fake/requests``), secrets redacted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

# Query parameters whose values never appear in the recorded requests.
SECRET_PARAMS = frozenset({
    "code", "client_secret", "password", "refresh_token", "assertion", "client_assertion",
    "access_token", "id_token", "code_verifier", "newPassword", "new_password", "state", "nonce",
})


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
