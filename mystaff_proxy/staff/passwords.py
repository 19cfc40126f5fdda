"""Resetting one person's password: a temporary password in the policy's style, or one the
manager typed when the policy allows it (docs/passwords.md). Many at once: bulk_reset.py."""

from __future__ import annotations

from typing import Any

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.policy.model import Action
from mystaff_proxy.policy.passwords import check_password, temporary_password
from mystaff_proxy.staff.check import Caller, StaffCheck, target_of
from mystaff_proxy.staff.views import PasswordReset


class Passwords(StaffCheck):
    async def reset_password(self, caller: Caller, loc: str, user_id: str,
                             body: Any) -> PasswordReset:
        event = EventType.PASSWORD_RESET
        snapshot = await self.check(caller, loc, user_id, Action.RESET_PASSWORD.value, event,
                                    with_phones=False)
        target = target_of(snapshot)
        rules = self.policy_in_force().policy.password
        if not isinstance(body, dict) or set(body) - {"password"}:
            await self.refused(caller, event, "invalid_request", location=loc, target=target)
        typed = body.get("password")
        profile = snapshot.profile
        assert profile is not None
        if typed is not None and (
                not isinstance(typed, str) or not rules.allow_manager_entered or check_password(
                    typed, upn=profile.user_principal_name, display_name=profile.display_name)):
            await self.refused(caller, event, "password_rejected", location=loc,
                               target=target, method="manager_entered")
        await self.take(caller, event, f"reset:{caller.oid}",
                        self.policy_in_force().policy.limits
                        .password_resets_per_manager_per_hour, loc, target)
        # Manager mode too: the proxy's own password (Graph's choice would ignore the
        # policy's length), sent as resetPassword's newPassword.
        password = typed if isinstance(typed, str) else temporary_password(
            rules.style, rules.length, upn=profile.user_principal_name,
            display_name=profile.display_name)
        detail = {"method": "manager_entered" if typed is not None else "generated"}
        token = await self.delegated_token(caller, event, loc, target)
        if token is None:
            await self.change(caller, event, loc, target, detail,
                              self.ops.reset_password(snapshot.user_id, password))
            return PasswordReset(password)
        confirmed = await self.change(
            caller, event, loc, target, detail,
            self.ops.reset_password_as_manager(snapshot.user_id, password, token,
                                               wait_seconds=self.operation_wait),
            detail_after=lambda ok: None if ok else {"operation": "unconfirmed"})
        return PasswordReset(password, confirmed)
