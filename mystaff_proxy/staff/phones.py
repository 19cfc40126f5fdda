"""A person's phone numbers: add, change, remove (docs/phones.md). Which numbers are allowed
is phone_rules.py; every number is audited by its hash (``phoneHash``), never in clear."""

from __future__ import annotations

from typing import Any

from mystaff_proxy.audit.log import EventType, Principal
from mystaff_proxy.graph.operations import PhoneMethod, TargetSnapshot
from mystaff_proxy.phones import InvalidPhoneNumber, is_valid_region, last_digits, normalize_phone
from mystaff_proxy.policy.model import Action
from mystaff_proxy.staff.check import Caller, StaffCheck, phone_of, present, target_of
from mystaff_proxy.staff.phone_rules import MESSAGES as NOT_ALLOWED_MESSAGES
from mystaff_proxy.staff.phone_rules import own_numbers, refusal
from mystaff_proxy.staff.views import PHONE_TYPES


class Phones(StaffCheck):
    async def add_phone(self, caller: Caller, loc: str, user_id: str,
                        body: Any) -> PhoneMethod:
        event = EventType.PHONE_ADDED
        snapshot = await self.check(caller, loc, user_id, Action.MANAGE_PHONE.value, event,
                                    with_phones=True, manager_phones=self._manager_phones())
        target = target_of(snapshot)
        if not isinstance(body, dict) or set(body) - {"phoneType", "phoneNumber", "region"} \
                or body.get("phoneType") not in PHONE_TYPES:
            await self.refused(caller, event, "invalid_request", location=loc, target=target)
        phone_type = str(body["phoneType"])
        number = await self._number(caller, event, loc, target, body, phone_type)
        phone: dict[str, Any] = {"phoneType": phone_type, "phoneHash": self._hasher.of(number)}
        await self._allowed_number(caller, event, loc, target, snapshot, number, phone)
        await self.take_phone_change(caller, event, loc, target, phone)
        # Graph would answer 409 to these (conflict is answered after rate_limited, and
        # counts like a change sent); answered from the state just read, without the write.
        have = {p.phone_type for p in snapshot.phones or ()}
        if phone_type in have or (phone_type == "alternateMobile" and "mobile" not in have):
            await self.refused(caller, event, "conflict", location=loc, target=target,
                               **phone)
        detail = present({"phoneType": phone_type, "phoneLast2": last_digits(number), **phone})
        token = await self.delegated_token(caller, event, loc, target)
        stored: PhoneMethod = await self.change(
            caller, event, loc, target, detail,
            self.ops.add_phone(snapshot.user_id, phone_type, number, token=token))
        return stored

    async def change_phone(self, caller: Caller, loc: str, user_id: str, phone_type: str,
                           body: Any) -> PhoneMethod:
        event = EventType.PHONE_CHANGED
        snapshot = await self.check(caller, loc, user_id, Action.MANAGE_PHONE.value, event,
                                    with_phones=True, manager_phones=self._manager_phones())
        target = target_of(snapshot)
        current = await self._existing_phone(caller, event, loc, snapshot, phone_type)
        if not isinstance(body, dict) or set(body) - {"phoneNumber", "region"}:
            await self.refused(caller, event, "invalid_request", location=loc, target=target)
        number = await self._number(caller, event, loc, target, body, phone_type)
        phone: dict[str, Any] = {"phoneType": phone_type, "phoneHash": self._hasher.of(number),
                                 "previousPhoneHash": self._hasher.of(current.phone_number)}
        await self._allowed_number(caller, event, loc, target, snapshot, number, phone)
        await self.take_phone_change(caller, event, loc, target, phone)
        detail = present({"phoneType": phone_type, "phoneLast2": last_digits(number),
                          "previousPhoneLast2": last_digits(current.phone_number), **phone})
        token = await self.delegated_token(caller, event, loc, target)
        await self.change(caller, event, loc, target, detail,
                          self.ops.update_phone(snapshot.user_id, phone_type, number,
                                                token=token))
        # Graph answers 204: the state is the one read in the check, the number ours.
        return PhoneMethod(phone_type, number, current.sms_sign_in_state)

    async def remove_phone(self, caller: Caller, loc: str, user_id: str,
                           phone_type: str) -> None:
        event = EventType.PHONE_REMOVED
        snapshot = await self.check(caller, loc, user_id, Action.MANAGE_PHONE.value, event,
                                    with_phones=True)
        target = target_of(snapshot)
        current = await self._existing_phone(caller, event, loc, snapshot, phone_type)
        phone: dict[str, Any] = {"phoneType": phone_type,
                                 "phoneHash": self._hasher.of(current.phone_number)}
        await self.take_phone_change(caller, event, loc, target, phone)
        if phone_type == "mobile" and phone_of(snapshot, "alternateMobile") is not None:
            await self.refused(caller, event, "conflict", location=loc, target=target,
                               **phone)  # Graph's 409, as in add_phone
        detail = present({"phoneType": phone_type,
                          "phoneLast2": last_digits(current.phone_number), **phone})
        token = await self.delegated_token(caller, event, loc, target)
        await self.change(caller, event, loc, target, detail,
                          self.ops.delete_phone(snapshot.user_id, phone_type, token=token))

    # -- helpers ------------------------------------------------------------------------------

    async def _existing_phone(self, caller: Caller, event: EventType, loc: str,
                              snapshot: TargetSnapshot, phone_type: str) -> PhoneMethod:
        """The target's phone of this type, or a refusal: no such phone is ``not_found``."""
        current = phone_of(snapshot, phone_type)
        if current is None:
            await self.refused(caller, event, "not_found", location=loc,
                               target=target_of(snapshot),
                               phoneType=phone_type if phone_type in PHONE_TYPES else None)
        return current

    def _manager_phones(self) -> bool:
        """Whether a phone change needs the manager's own numbers (read in its check)."""
        return self.policy_in_force().policy.phones.refuse_manager_numbers

    async def _allowed_number(self, caller: Caller, event: EventType, loc: str,
                              target: Principal, snapshot: TargetSnapshot, number: str,
                              phone: dict[str, Any]) -> None:
        """``phone_number_not_allowed`` (phone_rules.py): the manager's own number, a
        non-geographic range, or a region the policy does not allow. Checked with
        ``invalid_phone_number``: after authorization, before the rate limit."""
        rules = self.policy_in_force().policy.phones
        mine: frozenset[str] = frozenset()
        if rules.refuse_manager_numbers:
            if snapshot.manager_phones is None:  # the policy changed since the check
                await self.refused(caller, event, "upstream_unavailable", location=loc,
                                   target=target, why="manager_numbers_unknown", **phone)
            mine = own_numbers(snapshot.manager_phones, self._default_region)
        why = refusal(number, rules, mine)
        if why is not None:
            await self.refused(caller, event, "phone_number_not_allowed", location=loc,
                               target=target, why=why, message=NOT_ALLOWED_MESSAGES[why],
                               **phone)

    async def _number(self, caller: Caller, event: EventType, loc: str, target: Principal,
                      body: dict[str, Any], phone_type: str) -> str:
        raw, region = body.get("phoneNumber"), body.get("region", self._default_region)
        if not isinstance(raw, str) or not isinstance(region, str) \
                or not is_valid_region(region):
            await self.refused(caller, event, "invalid_request", location=loc, target=target,
                               phoneType=phone_type)
        try:
            return normalize_phone(str(raw), str(region))
        except InvalidPhoneNumber:
            await self.refused(caller, event, "invalid_phone_number", location=loc,
                               target=target, phoneType=phone_type)
