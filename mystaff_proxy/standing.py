"""Is the signed-in manager still in good standing with Entra? (SPEC §8.1, checked again.)

A proxy session outlives the sign-in that created it, and a bearer token outlives the account
that requested it: Entra keeps honouring an issued token until it expires (an hour or more).
Here the manager's own account is read back from Graph — ``accountEnabled`` and
``signInSessionsValidFromDateTime`` (moved to "now" by Entra's *Revoke sessions* and by
``revokeSignInSessions``) — and a session or token from before a revocation, or of a disabled
or deleted account, is refused. The answer is kept at most ``MAX_AGE`` seconds per manager, so
this costs one Graph call per manager per minute, not one per request; a sign-in primes it
(Entra has just vouched for the account). A Graph failure refuses the request (fail closed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from .graph.operations import GraphOperations, ManagerAccount

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


class ManagerStanding:
    def __init__(self, ops: GraphOperations, *, max_age: float = MAX_AGE) -> None:
        self._ops = ops
        self._max_age = max_age
        self._cache: dict[str, _Entry] = {}

    def signed_in(self, oid: str) -> None:
        """Entra just signed this manager in: enabled, and no revocation after now."""
        self._put(oid, ManagerAccount(enabled=True, sessions_valid_from=None))

    async def refusal(self, oid: str, signed_in_at: float) -> EndedBecause | None:
        """Why this manager's session (or token), issued at ``signed_in_at`` (epoch seconds, as
        Entra's ``iat``), must be refused now; None if it is still good. Raises GraphError."""
        key = oid.lower()
        hit = self._cache.get(key)
        if hit is None or time.monotonic() - hit.checked_at >= self._max_age:
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

    def _put(self, oid: str, account: ManagerAccount | None) -> _Entry:
        now = time.monotonic()
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache = {k: v for k, v in self._cache.items()
                           if now - v.checked_at < self._max_age}
        entry = _Entry(now, account)
        self._cache[oid.lower()] = entry
        return entry
