from __future__ import annotations

import pytest

from mystaff_proxy.phones import normalize_phone
from mystaff_proxy.policy.model import PhoneRules
from mystaff_proxy.staff.phone_rules import MESSAGES, own_numbers, refusal

US_CA = PhoneRules(frozenset({"US", "CA"}))
# phone methods as Graph stores them; mobilePhone and businessPhones as free text
MANAGER = ["+1 2065550111", "(425) 555-0199", "+1 2065550100x12", "no number"]
MINE = own_numbers(MANAGER, "US")


def test_the_managers_numbers_in_e164() -> None:
    assert own_numbers(MANAGER, "US") == {"+12065550111", "+14255550199", "+12065550100"}


@pytest.mark.parametrize(("typed", "rules", "why"), [
    ("206 555 0111", PhoneRules(), "own_number"),
    ("+1 (425) 555-0199", US_CA, "own_number"),
    ("206 555 0100 ext 7", PhoneRules(), "own_number"),  # the same line, another extension
    ("+881 6 1234 5678", PhoneRules(), "non_geographic"),  # Iridium
    ("+870 773 111 632", PhoneRules(), "non_geographic"),  # Inmarsat
    ("+882 342 1234", PhoneRules(), "non_geographic"),  # international networks
    ("+883 5100 1234 5678", PhoneRules(), "non_geographic"),
    ("+800 1234 5678", PhoneRules(), "non_geographic"),  # international freephone
    ("+1 876 555 0123", US_CA, "region_not_allowed"),  # Jamaica
    ("+1 809 555 0123", US_CA, "region_not_allowed"),  # Dominican Republic
    ("+44 7400 123456", US_CA, "region_not_allowed"),
    ("+1 876 555 0123", PhoneRules(), None),  # every region by default
    ("+44 7400 123456", PhoneRules(), None),
    ("+1 416 555 0123", US_CA, None),
    ("206 555 0177", US_CA, None),
    ("206 555 0111", PhoneRules(refuse_manager_numbers=False), None),
])
def test_refusal(typed: str, rules: PhoneRules, why: str | None) -> None:
    assert refusal(normalize_phone(typed, "US"), rules, MINE) == why


def test_every_reason_says_why_and_what_to_do() -> None:
    assert MESSAGES["own_number"] == ("This number belongs to you; use the staff member's "
                                      "own number.")
    assert MESSAGES["region_not_allowed"] == (
        "This number is outside the countries your organization allows; use the staff "
        "member's own number.")
    for message in MESSAGES.values():
        assert message.endswith("use the staff member's own number.")
