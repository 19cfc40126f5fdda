"""Signed-out session ids, refused until the session would have expired anyway.

The session cookie holds the whole session, so sign-out must be remembered on the server:
``RevocationStore`` is the seam; one instance keeps the ids in memory and in a file
(``FileRevocations``, so that a restart does not revive a signed-out cookie); several share
them in Redis (``stores.redis``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("mystaff_proxy")


class RevocationStore(Protocol):
    async def revoke(self, sid: str, until: float) -> None: ...

    async def is_revoked(self, sid: str) -> bool: ...


class MemoryRevocations:
    """Revoked session ids for one instance; each is forgotten once it would have expired."""

    def __init__(self) -> None:
        self._revoked: dict[str, float] = {}

    async def revoke(self, sid: str, until: float) -> None:
        now = time.time()
        if len(self._revoked) > 1000:
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
        self._revoked[sid] = until

    async def is_revoked(self, sid: str) -> bool:
        until = self._revoked.get(sid)
        return until is not None and until > time.time()


class FileRevocations:
    """Revoked session ids for one instance, kept in memory and in an append-only file.

    One line per revocation, ``<id digest> <until>``: a SHA-256 of the session id (the file
    need not hold anything usable) and the epoch second the session would have expired
    anyway. Each line is appended and fsynced before sign-out answers. The file is read
    back at start-up, expired and malformed lines (one torn by a crash) dropped, and written
    anew (a new file renamed over the old one) then, and whenever it holds more than twice
    the live ids. If a line cannot be written, the id is still refused by this process and
    the error logged: signing out is never held back for it.
    """

    def __init__(self, path: str, *, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        # Changed only under the lock, by the worker thread that also writes the file, so
        # that the file never misses an id the memory has; read freely by the event loop.
        self._revoked: dict[str, float] = {}
        self._lines = 0
        self._rewrite_above = 0  # lines in the file that make the next rewrite due
        self._lock = threading.Lock()
        self._load()

    @staticmethod
    def _digest(sid: str) -> str:
        return hashlib.sha256(sid.encode()).hexdigest()[:32]

    def _load(self) -> None:
        """At start-up: what the last run kept, then the file written anew. Raises OSError
        when it cannot be read or written (start-up stops with the path)."""
        now = self._clock()
        try:
            with open(self._path, encoding="ascii", errors="replace") as f:
                for line in f:
                    digest, _, until = line.strip().partition(" ")
                    try:
                        expiry = float(until)
                    except ValueError:
                        continue
                    if len(digest) == 32 and expiry > now:
                        self._revoked[digest] = max(expiry, self._revoked.get(digest, 0.0))
        except FileNotFoundError:
            pass
        with self._lock:
            self._rewrite()

    def _rewrite(self) -> None:
        now = self._clock()
        self._revoked = {k: v for k, v in self._revoked.items() if v > now}
        temporary = f"{self._path}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, "".join(f"{k} {math.ceil(v)}\n" for k, v in self._revoked.items())
                     .encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self._path)
        self._lines = len(self._revoked)
        # Twice the live ids (plus some): rewriting costs O(live), paid once per as many
        # appends, and expired ids leave the memory at the same time.
        self._rewrite_above = 2 * self._lines + 64

    def _revoke(self, digest: str, until: float) -> None:
        with self._lock:
            self._revoked[digest] = until
            try:
                fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, f"{digest} {math.ceil(until)}\n".encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self._lines += 1
                if self._lines > self._rewrite_above:
                    self._rewrite()
            except OSError as exc:
                log.error("a signed-out session was not written to %s (%s): it is refused "
                          "until this process stops, not after a restart", self._path,
                          exc.strerror)

    async def revoke(self, sid: str, until: float) -> None:
        await asyncio.to_thread(self._revoke, self._digest(sid), until)

    async def is_revoked(self, sid: str) -> bool:
        until = self._revoked.get(self._digest(sid))
        return until is not None and until > self._clock()
