"""Temporary Access Pass: issue one for someone who cannot sign in, or remove it
(docs/sign-in-methods.md)."""

from __future__ import annotations

from typing import Any

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.graph.sign_in_methods import IssuedPass, issue_pass, remove_pass
from mystaff_proxy.i18n import N_
from mystaff_proxy.policy.model import Action
from mystaff_proxy.staff.check import Caller, StaffCheck, target_of

PASS_DISABLED_MESSAGE = (N_("Temporary Access Passes are turned off for your organization "
                            "(Microsoft Entra admin center: Authentication methods, Temporary "
                            "Access Pass). Ask IT."))
PASS_NOT_FOR_USER_MESSAGE = (N_("Your organization's Temporary Access Pass policy does not cover "
                                "this person. Ask IT."))


class AccessPasses(StaffCheck):
    async def issue_access_pass(self, caller: Caller, loc: str, user_id: str,
                                body: Any) -> IssuedPass:
        """A Temporary Access Pass for someone who cannot sign in (a lost phone): within the
        policy's and the tenant's bounds, for people the tenant's TAP policy covers. A new
        pass replaces one that exists (Graph's rule). Shown once; never audited."""
        event = EventType.TEMPORARY_ACCESS_PASS_ISSUED
        snapshot = await self.check(caller, loc, user_id,
                                    Action.ISSUE_TEMPORARY_ACCESS_PASS.value, event,
                                    with_phones=False, with_pass_policy=True)
        target = target_of(snapshot)
        rules = self.policy_in_force().policy.temporary_access_pass
        tenant = snapshot.pass_policy
        assert tenant is not None
        if not isinstance(body, dict) or set(body) - {"lifetimeMinutes", "isUsableOnce"}:
            await self.refused(caller, event, "invalid_request", location=loc, target=target)
        wanted = body.get("lifetimeMinutes", rules.lifetime_minutes)
        once = body.get("isUsableOnce", rules.one_time)
        if not isinstance(wanted, int) or isinstance(wanted, bool) \
                or not 1 <= wanted <= rules.max_lifetime_minutes or not isinstance(once, bool) \
                or (rules.one_time and not once):
            await self.refused(caller, event, "invalid_request", location=loc, target=target)
        if not tenant.enabled:
            await self.refused(caller, event, "forbidden", location=loc, target=target,
                               why="pass_disabled", message=PASS_DISABLED_MESSAGE)
        if not tenant.applies_to(snapshot.group_ids):
            await self.refused(caller, event, "forbidden", location=loc, target=target,
                               why="pass_not_for_user", message=PASS_NOT_FOR_USER_MESSAGE)
        lifetime, once = tenant.lifetime(wanted), once or tenant.usable_once
        limit = self.policy_in_force().policy.limits.temporary_access_passes_per_manager_per_hour
        await self.take(caller, event, f"pass:{caller.oid}", limit, loc, target)
        token = await self.delegated_token(caller, event, loc, target)
        issued: IssuedPass = await self.change(
            caller, event, loc, target, {"lifetimeInMinutes": lifetime, "isUsableOnce": once},
            issue_pass(self.ops.client, snapshot.user_id, lifetime, once, token=token))
        return issued

    async def remove_access_pass(self, caller: Caller, loc: str, user_id: str) -> None:
        event = EventType.TEMPORARY_ACCESS_PASS_REMOVED
        snapshot = await self.check(caller, loc, user_id,
                                    Action.ISSUE_TEMPORARY_ACCESS_PASS.value, event,
                                    with_phones=False, with_pass=True)
        target = target_of(snapshot)
        current = snapshot.access_pass
        if current is None:
            await self.refused(caller, event, "not_found", location=loc, target=target)
        limit = self.policy_in_force().policy.limits.temporary_access_passes_per_manager_per_hour
        await self.take(caller, event, f"pass:{caller.oid}", limit, loc, target)
        token = await self.delegated_token(caller, event, loc, target)
        await self.change(caller, event, loc, target, {},
                          remove_pass(self.ops.client, snapshot.user_id, current.id,
                                      token=token))
