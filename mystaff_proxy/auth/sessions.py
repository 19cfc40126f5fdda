"""Encrypted session cookies with idle and absolute timeouts and server-side revocation.

The cookie holds the whole session (AES-GCM, key derived from the session secret), so one
instance needs no session storage. Sign-out still has to end the session on the server: the
session id goes into a revocation store until the session would have expired anyway, so a
replayed cookie is refused. ``RevocationStore`` is the seam where a shared store (Redis)
plugs in for several instances; one instance keeps them in a file too (``FileRevocations``),
so that a restart does not make a signed-out cookie a live session again.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from mystaff_proxy.sealing import Sealer
from mystaff_proxy.stores.revocations import RevocationStore

log = logging.getLogger("mystaff_proxy")

# Re-issue the cookie (to move the idle deadline) at most this often: fewer Set-Cookie writes.
_TOUCH_INTERVAL = 60


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
