"""Encrypted session cookies with idle and absolute timeouts and server-side revocation.

The cookie holds the whole session (AES-GCM, key derived from the session secret), so one
instance needs no session storage. Sign-out still has to end the session on the server: the
session id goes into a revocation store until the session would have expired anyway, so a
replayed cookie is refused. ``RevocationStore`` is the seam where a shared store (Redis)
plugs in for several instances; one instance keeps them in a file too (``FileRevocations``),
so that a restart does not make a signed-out cookie a live session again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger("mystaff_proxy")

# Re-issue the cookie (to move the idle deadline) at most this often: fewer Set-Cookie writes.
_TOUCH_INTERVAL = 60


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    """A 256-bit key for one purpose, so one configured secret never serves two uses."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mystaff-proxy",
                info=purpose).derive(secret)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """Authenticated encryption of small JSON blobs into cookie-safe strings."""

    def __init__(self, secret: bytes, purpose: bytes) -> None:
        self._aead = AESGCM(derive_key(secret, purpose))
        self._purpose = purpose

    def seal(self, data: dict[str, Any]) -> str:
        nonce = secrets.token_bytes(12)
        # UTF-8, not \u escapes: a 256-character non-Latin display name must still fit a
        # cookie under 4 KB (the security suite found 12 bytes per character: 4.6 KB).
        plain = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return _b64e(nonce + self._aead.encrypt(nonce, plain, self._purpose))

    def open(self, token: str) -> dict[str, Any] | None:
        """The sealed data, or None for anything tampered, foreign or malformed."""
        try:
            raw = _b64d(token)
            if len(raw) < 12 + 16:
                return None
            plain = self._aead.decrypt(raw[:12], raw[12:], self._purpose)
            data = json.loads(plain)
        except (InvalidTag, ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Session:
    sid: str
    oid: str
    upn: str
    name: str
    tid: str
    csrf: str
    created: float
    last_seen: float
    last_location: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # When Entra signed the manager in (the ID token's iat, Entra's clock): a revocation of
    # the manager's sessions in Entra after this time ends this session (standing.py).
    signed_in_at: float | None = None
    # When the manager last entered their credentials at Entra (signin.authenticated_at);
    # None: unknown, which a re-authentication policy counts as too long ago.
    authenticated_at: float | None = None

    @classmethod
    def new(cls, *, oid: str, upn: str, name: str, tid: str, now: float | None = None,
            signed_in_at: float | None = None,
            authenticated_at: float | None = None) -> Session:
        at = time.time() if now is None else now
        return cls(sid=secrets.token_urlsafe(24), oid=oid, upn=upn, name=name, tid=tid,
                   csrf=secrets.token_urlsafe(32), created=at, last_seen=at,
                   signed_in_at=signed_in_at, authenticated_at=authenticated_at)

    @property
    def issued_at(self) -> float:
        return self.created if self.signed_in_at is None else self.signed_in_at


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


class SessionManager:
    """Turns cookies into sessions and back, enforcing the timeouts and revocations."""

    def __init__(self, secret: bytes, *, max_age: float, idle: float,
                 revocations: RevocationStore) -> None:
        self._sealer = Sealer(secret, b"session-v1")
        self.max_age = max_age
        self.idle = idle
        self.revocations = revocations
        #: Called with the session id whenever a session ends (sign-out, revocation in
        #: Entra, a new sign-in): manager mode forgets that session's delegated tokens.
        self.on_end: list[Callable[[str], Awaitable[None]]] = []

    def encode(self, session: Session) -> str:
        return self._sealer.seal(asdict(session))

    async def decode(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The live session in a cookie, or None (absent, tampered, expired, revoked)."""
        if not cookie or len(cookie) > 4096:
            return None
        data = self._sealer.open(cookie)
        if data is None:
            return None
        try:
            session = Session(**data)
        except TypeError:
            return None
        at = time.time() if now is None else now
        if at - session.created > self.max_age or at - session.last_seen > self.idle:
            return None
        if await self.revocations.is_revoked(session.sid):
            return None
        return session

    def touched(self, session: Session, now: float | None = None) -> Session | None:
        """A copy with a moved idle deadline when it is worth a new cookie, else None."""
        at = time.time() if now is None else now
        if at - session.last_seen < _TOUCH_INTERVAL:
            return None
        return replace(session, last_seen=at)

    async def end(self, session: Session) -> None:
        await self.revocations.revoke(session.sid, session.created + self.max_age)
        for hook in self.on_end:
            await hook(session.sid)
