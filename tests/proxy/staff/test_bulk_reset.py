"""bulk_reset.user_ids: the body of a bulk reset is exactly 1 to 50 distinct user ids."""

from __future__ import annotations

from typing import Any

import pytest

from mystaff_proxy.staff.bulk_reset import MAX_PEOPLE, user_ids

A = "0B1D0000-0000-4000-8000-000000000002"
B = "a1000000-0000-4000-8000-000000000005"


def ids(n: int) -> list[str]:
    return [f"00000000-0000-4000-8000-{i:012d}" for i in range(n)]


@pytest.mark.parametrize(("body", "expected"), [
    ({"userIds": [A, B]}, [A.lower(), B]),
    ({"userIds": ids(MAX_PEOPLE)}, ids(MAX_PEOPLE)),
    ({"userIds": [B]}, [B]),
])
def test_accepted(body: Any, expected: list[str]) -> None:
    assert user_ids(body) == expected


@pytest.mark.parametrize("body", [
    None, [], [A], "x", {}, {"userIds": []}, {"userIds": A}, {"userIds": None},
    {"userIds": ids(MAX_PEOPLE + 1)},
    {"userIds": [A, A]}, {"userIds": [A, A.lower()]},  # the same person twice
    {"userIds": [A, "not-a-guid"]}, {"userIds": [A, f"{B}\n"]}, {"userIds": [A, 7]},
    {"userIds": [A, None]}, {"userIds": [[A]]},
    {"userIds": [A], "password": "Typed-1234!"},  # no typed passwords in bulk
    {"userids": [A]},
])
def test_refused(body: Any) -> None:
    assert user_ids(body) is None
