"""``manager_mode``: the role map and the app token's permissions (docs/manager-mode.md)."""

from __future__ import annotations

import base64
import json

import pytest

from mystaff_proxy.policy.model import Action
from mystaff_proxy.staff.manager_mode import (
    BACKING_ROLES,
    AppWritePower,
    token_roles,
    write_power_warning,
)


def _jwt(claims: object) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def test_every_action_has_the_roles_that_back_it() -> None:
    assert {str(a) for a in Action} <= set(BACKING_ROLES)


def test_the_roles_claim_is_read_without_verification() -> None:
    token = _jwt({"roles": ["User.Read.All", "User-PasswordProfile.ReadWrite.All", 7]})
    assert token_roles(token) == {"User.Read.All", "User-PasswordProfile.ReadWrite.All"}
    assert token_roles(_jwt({"scp": "x"})) == frozenset()
    assert token_roles(_jwt({"roles": "User.Read.All"})) == frozenset()


@pytest.mark.parametrize("token", ["", "opaque", "a.%%%.c", "a.bm90IGpzb24.c"])
def test_a_token_that_is_not_a_jwt_is_an_error(token: str) -> None:
    with pytest.raises(ValueError, match="not a JWT"):
        token_roles(token)


def test_no_write_power_no_warning() -> None:
    assert write_power_warning(AppWritePower((), ())) is None
    warning = write_power_warning(AppWritePower(("User.ReadWrite.All",), ()))
    assert warning is not None and warning.startswith(
        "manager mode, but the app itself still holds application permissions "
        "User.ReadWrite.All: then a stolen app credential")
