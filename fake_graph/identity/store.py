"""Server-side grants: authorization codes, refresh tokens, pending password changes.

Lives in ``fake.state["identity.store"]`` so ``/_fake/reset`` drops it with the rest of the
identity state. Codes and tickets are random (``secrets``) and looked up, never parsed.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field

from ..directory import User
from ..state import FakeGraph

CODE_LIFETIME = 600  # Entra's codes last about 10 minutes (Learn: v2-oauth2-auth-code-flow)
TICKET_LIFETIME = 600
REFRESH_LIFETIME = 90 * 24 * 3600  # Entra's default refresh-token lifetime (90 days)
_STATE_KEY = "identity.store"


def password_stamp(user: User) -> str:
    """Changes whenever the password does: refresh tokens issued before are revoked by it.

    Entra's ``TokensValidFrom`` moves forward on a password change or reset (AADSTS50173).
    """
    return hashlib.sha256(f"{user.id}:{user.password}".encode()).hexdigest()


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    user_id: str
    scopes: list[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    redeemed: bool = False
    refresh_tokens: list[str] = field(default_factory=list)  # issued from this code
    # When the user last proved who they are (the form, not single sign-on): the tokens'
    # auth_time, for apps that ask for that optional claim.
    auth_time: float | None = None


@dataclass
class RefreshGrant:
    client_id: str
    user_id: str
    scopes: list[str]  # what the user consented to in the original sign-in
    stamp: str
    expires_at: float
    revoked: bool = False
    issued_at: float = field(default_factory=time.time)
    auth_time: float | None = None  # of the sign-in it came from: a refresh keeps it


@dataclass
class PasswordChangeTicket:
    """A verified sign-in waiting for a new password (forceChangePasswordNextSignIn)."""

    user_id: str
    stamp: str
    expires_at: float


SSO_COOKIE = "ESTSAUTH"  # the name of Entra's own session cookie
SSO_LIFETIME = 24 * 3600


@dataclass
class SsoSession:
    """A browser's sign-in session at the identity platform (the single sign-on cookie)."""

    user_id: str
    stamp: str  # password_stamp at sign-in: a password change or reset ends the session
    issued_at: float
    expires_at: float
    # A sign-in with a Temporary Access Pass: the session lasts no longer than the pass, and
    # ends when the pass is deleted or replaced (Learn: "Configure Temporary Access Pass",
    # Expiration).
    pass_id: str | None = None


class IdentityStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.codes: dict[str, AuthorizationCode] = {}
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.tickets: dict[str, PasswordChangeTicket] = {}
        self.sso: dict[str, SsoSession] = {}

    def new_sso(self, session: SsoSession) -> str:
        value = secrets.token_urlsafe(32)
        with self._lock:
            self._expire()
            self.sso[value] = session
        return value

    def end_sso(self, value: str) -> None:
        with self._lock:
            self.sso.pop(value, None)

    def new_code(self, grant: AuthorizationCode) -> str:
        code = "0.fake." + secrets.token_urlsafe(48)
        with self._lock:
            self._expire()
            self.codes[code] = grant
        return code

    def take_code(self, code: str) -> AuthorizationCode | None:
        """The code's grant; it stays stored, marked redeemed, so a reuse can be recognised."""
        with self._lock:
            return self.codes.get(code)

    def new_refresh_token(self, grant: RefreshGrant) -> str:
        token = "1.fake." + secrets.token_urlsafe(64)
        with self._lock:
            self.refresh_tokens[token] = grant
        return token

    def new_ticket(self, ticket: PasswordChangeTicket) -> str:
        value = secrets.token_urlsafe(32)
        with self._lock:
            self.tickets[value] = ticket
        return value

    def revoke(self, tokens: list[str]) -> None:
        with self._lock:
            for token in tokens:
                grant = self.refresh_tokens.get(token)
                if grant is not None:
                    grant.revoked = True

    def _expire(self) -> None:
        now = time.time()
        # Redeemed codes are kept until they expire so that a second redemption is told
        # "already redeemed" (AADSTS54005), as Entra does, rather than "invalid".
        for code in [c for c, g in self.codes.items() if g.expires_at < now]:
            del self.codes[code]
        for ticket in [t for t, g in self.tickets.items() if g.expires_at < now]:
            del self.tickets[ticket]
        for value in [v for v, s in self.sso.items() if s.expires_at < now]:
            del self.sso[value]


def store(fake: FakeGraph) -> IdentityStore:
    current = fake.state.get(_STATE_KEY)
    if not isinstance(current, IdentityStore):
        current = IdentityStore()
        fake.state[_STATE_KEY] = current
    return current


def reset(fake: FakeGraph) -> None:
    fake.state.pop(_STATE_KEY, None)
