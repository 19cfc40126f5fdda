"""SMS sign-in: phone-number sign-in on a person's mobile, on or off
(docs/sign-in-methods.md). It counts against the phone-change limit."""

from __future__ import annotations

from typing import Any

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.graph.operations import PhoneMethod
from mystaff_proxy.graph.sign_in_methods import switch_sms_sign_in
from mystaff_proxy.policy.model import Action
from mystaff_proxy.staff.check import Caller, StaffCheck, phone_of, present, target_of
from mystaff_proxy.staff.views import SMS_NO_MOBILE_MESSAGE, SMS_REFUSALS


class SmsSignIn(StaffCheck):
    async def switch_sms_sign_in(self, caller: Caller, loc: str, user_id: str,
                                 enable: bool) -> PhoneMethod:
        """Phone-number sign-in on the mobile, on or off. Graph's states that make it
        impossible are refused first, in a sentence (``conflict``); the answer is the mobile
        with the state Graph reports after the switch."""
        event = EventType.SMS_SIGN_IN_ENABLED if enable else EventType.SMS_SIGN_IN_DISABLED
        snapshot = await self.check(caller, loc, user_id, Action.MANAGE_SMS_SIGN_IN.value,
                                    event, with_phones=True)
        target = target_of(snapshot)
        mobile = phone_of(snapshot, "mobile")
        if mobile is None:
            await self.refused(caller, event, "conflict", location=loc, target=target,
                               why="no_mobile", message=SMS_NO_MOBILE_MESSAGE)
        phone: dict[str, Any] = {"phoneType": "mobile",
                                 "phoneHash": self._hasher.of(mobile.phone_number)}
        state = mobile.sms_sign_in_state or ""
        if enable and state in SMS_REFUSALS:
            await self.refused(caller, event, "conflict", location=loc, target=target,
                               why=state, message=SMS_REFUSALS[state], **phone)
        await self.take_phone_change(caller, event, loc, target, phone)
        token = await self.delegated_token(caller, event, loc, target)
        new_state = await self.change(
            caller, event, loc, target, present(phone),
            switch_sms_sign_in(self.ops.client, snapshot.user_id, enable, token=token),
            detail_after=lambda s: {"smsSignInState": s} if s else None)
        return PhoneMethod("mobile", mobile.phone_number, new_state)
