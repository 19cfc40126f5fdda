"""standing.py: the decision and the cache (the Graph side is tested end to end in
tests/e2e/test_manager_standing.py)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from mystaff_proxy.auth.standing import EndedBecause, ManagerStanding
from mystaff_proxy.graph.exceptions import GraphUnavailable
from mystaff_proxy.graph.operations import GraphOperations, ManagerAccount

OID = "7f1c0a52-0000-4000-8000-000000000001"


class Accounts:
    """What Graph would answer about each manager; counts the questions."""

    def __init__(self, answer: ManagerAccount | Exception | None) -> None:
        self.answer = answer
        self.calls = 0

    async def manager_account(self, user_id: str) -> ManagerAccount | None:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def standing(accounts: Accounts, max_age: float = 60) -> ManagerStanding:
    return ManagerStanding(cast(GraphOperations, cast(Any, accounts)), max_age=max_age)


@pytest.mark.parametrize(("account", "signed_in_at", "expected"), [
    (ManagerAccount(True, None), 1000.0, None),
    (ManagerAccount(True, 999.0), 1000.0, None),
    (ManagerAccount(True, 1000.0), 1000.9, None),  # the same second: Graph cannot tell
    (ManagerAccount(True, 1001.0), 1000.9, EndedBecause.SESSIONS_REVOKED),
    (ManagerAccount(False, None), 1000.0, EndedBecause.ACCOUNT_DISABLED),
    (ManagerAccount(False, 2000.0), 1000.0, EndedBecause.ACCOUNT_DISABLED),
    (None, 1000.0, EndedBecause.ACCOUNT_DELETED),
])
async def test_the_decision(account: ManagerAccount | None, signed_in_at: float,
                            expected: EndedBecause | None) -> None:
    assert await standing(Accounts(account)).refusal(OID, signed_in_at) is expected


async def test_an_answer_is_kept_for_max_age_per_manager() -> None:
    accounts = Accounts(ManagerAccount(True, None))
    s = standing(accounts)
    for _ in range(3):
        assert await s.refusal(OID, 1000.0) is None
        assert await s.refusal(OID.upper(), 1000.0) is None
    assert accounts.calls == 1


async def test_max_age_zero_asks_every_time() -> None:
    accounts = Accounts(ManagerAccount(True, None))
    s = standing(accounts, max_age=0)
    for _ in range(3):
        await s.refusal(OID, 1000.0)
    assert accounts.calls == 3


async def test_a_sign_in_primes_the_answer_for_its_own_session() -> None:
    accounts = Accounts(ManagerAccount(False, None))
    s = standing(accounts)
    s.signed_in(OID, 1000.0)
    assert await s.refusal(OID, 1000.0) is None
    assert await s.refusal(OID, 1200.0) is None  # a later one (a token after the sign-in)
    assert accounts.calls == 0


async def test_a_sign_in_never_vouches_for_older_sessions() -> None:
    """Revoked at 1000, signed in again at 1005: a session or token of 990 is still refused,
    and the answer Graph gave (with the revocation time) then serves both."""
    accounts = Accounts(ManagerAccount(True, 1000.0))
    s = standing(accounts)
    s.signed_in(OID, 1005.0)
    assert await s.refusal(OID, 990.0) is EndedBecause.SESSIONS_REVOKED
    assert await s.refusal(OID, 1005.0) is None
    assert accounts.calls == 1
    # Signing in again keeps Graph's fresh answer: it knows the revocation, the sign-in not.
    s.signed_in(OID, 1010.0)
    assert await s.refusal(OID, 990.0) is EndedBecause.SESSIONS_REVOKED
    assert accounts.calls == 1


async def test_a_sign_in_after_a_disabled_answer_is_believed() -> None:
    """IT enabled the account again and the manager signed in: the sign-in's word wins over
    a cached "disabled" for the new session."""
    accounts = Accounts(ManagerAccount(False, None))
    s = standing(accounts)
    assert await s.refusal(OID, 900.0) is EndedBecause.ACCOUNT_DISABLED
    s.signed_in(OID, 1000.0)
    assert await s.refusal(OID, 1000.0) is None
    assert accounts.calls == 1


async def test_a_graph_failure_is_raised_not_cached() -> None:
    accounts = Accounts(GraphUnavailable(503, "serviceUnavailable", "down"))
    s = standing(accounts)
    with pytest.raises(GraphUnavailable):
        await s.refusal(OID, 1000.0)
    accounts.answer = ManagerAccount(True, None)
    assert await s.refusal(OID, 1000.0) is None
    assert accounts.calls == 2
