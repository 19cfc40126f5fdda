"""Is the signed-in manager still in good standing with Entra? (Checked again on every
request: docs/authorization.md.)

A proxy session outlives the sign-in that created it, and a bearer token outlives the account
that requested it: Entra keeps honouring an issued token until it expires (an hour or more).
Here the manager's own account is read back from Graph — ``accountEnabled`` and
``signInSessionsValidFromDateTime`` (moved to "now" by Entra's *Revoke sessions* and by
``revokeSignInSessions``) — and a session or token from before a revocation, or of a disabled
or deleted account, is refused. The answer is kept at most ``MAX_AGE`` seconds per manager, so
this costs one Graph call per manager per minute, not one per request. A sign-in primes it, but
only for what Entra vouched for: the account is enabled and no revocation happened after that
sign-in. It says nothing about sessions and tokens issued before it, so those still get Graph's
answer, with the real revocation time: revocation is absolute, and a new sign-in never makes an
older session or token good again. A Graph failure refuses the request (fail closed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from mystaff_proxy.graph.operations import GraphOperations, ManagerAccount

MAX_AGE = 60.0
_MAX_ENTRIES = 10_000


class EndedBecause(StrEnum):
    """Why a session or token is no longer good (audited as ``why``)."""

    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_DELETED = "account_deleted"
    SESSIONS_REVOKED = "sessions_revoked"


@dataclass(frozen=True)
class _Entry:
    checked_at: float  # time.monotonic()
    account: ManagerAccount | None
    # Set when the entry is a sign-in's word, not Graph's answer: it holds only for sessions
    # and tokens issued at or after this time (the sign-in's iat, Entra's clock).
    vouched_from: float | None = None


class ManagerStanding:
    def __init__(self, ops: GraphOperations, *, max_age: float = MAX_AGE) -> None:
        self._ops = ops
        self._max_age = max_age
        self._cache: dict[str, _Entry] = {}

    def signed_in(self, oid: str, issued_at: float) -> None:
        """Entra just signed this manager in (ID token ``iat`` = ``issued_at``): the account
        is enabled, and sessions issued from then on are not revoked. A fresh answer from
        Graph that already says so is kept (it also knows the revocation time for older
        sessions, which the sign-in does not); otherwise the sign-in's word is kept, for
        sessions issued at or after ``issued_at`` only."""
        key = oid.lower()
        hit = self._cache.get(key)
        if hit is not None and hit.vouched_from is None and self._fresh(hit) \
                and hit.account is not None and hit.account.enabled:
            return
        self._put(key, ManagerAccount(enabled=True, sessions_valid_from=None),
                  vouched_from=issued_at)

    async def refusal(self, oid: str, signed_in_at: float) -> EndedBecause | None:
        """Why this manager's session (or token), issued at ``signed_in_at`` (epoch seconds, as
        Entra's ``iat``), must be refused now; None if it is still good. Raises GraphError."""
        key = oid.lower()
        hit = self._cache.get(key)
        if hit is None or not self._fresh(hit) or (
                hit.vouched_from is not None and int(signed_in_at) < int(hit.vouched_from)):
            # Older than the sign-in that primed the answer: only Graph knows whether IT
            # revoked it (a stolen cookie or token must not ride on a new sign-in).
            hit = self._put(key, await self._ops.manager_account(key))
        account = hit.account
        if account is None:
            return EndedBecause.ACCOUNT_DELETED
        if not account.enabled:
            return EndedBecause.ACCOUNT_DISABLED
        # Both are Entra's clock in whole seconds (token iat, Graph's date-time), so no skew
        # between this host and Entra enters the comparison.
        if account.sessions_valid_from is not None \
                and int(signed_in_at) < int(account.sessions_valid_from):
            return EndedBecause.SESSIONS_REVOKED
        return None

    def _fresh(self, entry: _Entry) -> bool:
        return time.monotonic() - entry.checked_at < self._max_age

    def _put(self, oid: str, account: ManagerAccount | None, *,
             vouched_from: float | None = None) -> _Entry:
        now = time.monotonic()
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache = {k: v for k, v in self._cache.items()
                           if now - v.checked_at < self._max_age}
        entry = _Entry(now, account, vouched_from)
        self._cache[oid.lower()] = entry
        return entry
