"""Encrypted session cookies with idle and absolute timeouts and server-side revocation.

The cookie holds the whole session (AES-GCM, key derived from the session secret), so one
instance needs no session storage. Sign-out still has to end the session on the server
(SPEC §7.1): the session id goes into a revocation store until the session would have
expired anyway, so a replayed cookie is refused. ``RevocationStore`` is the seam where a
shared store (Redis) plugs in for several instances.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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

    @classmethod
    def new(cls, *, oid: str, upn: str, name: str, tid: str, now: float | None = None,
            signed_in_at: float | None = None) -> Session:
        at = time.time() if now is None else now
        return cls(sid=secrets.token_urlsafe(24), oid=oid, upn=upn, name=name, tid=tid,
                   csrf=secrets.token_urlsafe(32), created=at, last_seen=at,
                   signed_in_at=signed_in_at)

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


class SessionManager:
    """Turns cookies into sessions and back, enforcing the timeouts and revocations."""

    def __init__(self, secret: bytes, *, max_age: float, idle: float,
                 revocations: RevocationStore) -> None:
        self._sealer = Sealer(secret, b"session-v1")
        self.max_age = max_age
        self.idle = idle
        self.revocations = revocations

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
