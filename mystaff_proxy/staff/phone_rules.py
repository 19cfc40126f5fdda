"""Which valid numbers a manager may put on someone's account (docs/phones.md).

A phone method is a way in: SMS sign-in, MFA, self-service password reset. A manager who
puts a number they answer on a staff member's account can become that person, and a number
that costs money to reach (satellite, premium, revenue-share ranges) turns every code the
tenant sends into the attacker's income. So, after ``phones.normalize_phone`` has accepted
the number as valid and dialable (premium-rate and shared-cost numbers are already
``invalid_phone_number`` there), it is refused as ``phone_number_not_allowed`` when it is:

* ``own_number``: one of the acting manager's own numbers (their phone methods,
  ``mobilePhone``, ``businessPhones``), compared in E.164; policy
  ``phones.refuse_manager_numbers`` (default true);
* ``non_geographic``: in an international non-geographic range (+800, +870 Inmarsat, +881
  satellite, +882/+883 international networks ...), always: no staff member of a store
  needs one, and they are the ranges revenue-share fraud rents;
* ``region_not_allowed``: from a region outside ``phones.allowed_regions`` (when set). NANP
  numbers belong to their own regions: +1 876 is Jamaica (``JM``), +1 809 the Dominican
  Republic (``DO``), so ``[US, CA]`` keeps out the look-alike Caribbean numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from mystaff_proxy.i18n import N_
from mystaff_proxy.phones import NON_GEOGRAPHIC, InvalidPhoneNumber, e164, region_of
from mystaff_proxy.policy.model import PhoneRules

#: What the manager reads, per reason (the API's ``message``; the page shows it on the form).
MESSAGES: Final = {
    "own_number": N_("This number belongs to you; use the staff member's own number."),
    "non_geographic": N_("Satellite and international network numbers cannot be used; use the "
                         "staff member's own number."),
    "region_not_allowed": N_("This number is outside the countries your organization allows; "
                             "use the staff member's own number."),
}


def own_numbers(numbers: Iterable[str], default_region: str) -> frozenset[str]:
    """The manager's numbers in E.164. ``mobilePhone`` and ``businessPhones`` are free text,
    read with the default region; what cannot be read as a number is left out."""
    out = set()
    for number in numbers:
        try:
            out.add(e164(number, default_region))
        except InvalidPhoneNumber:
            continue
    return frozenset(out)


def refusal(number: str, rules: PhoneRules, manager_numbers: frozenset[str]) -> str | None:
    """Why ``number`` (valid, in Graph's form) may not be used, a key of MESSAGES; None: it
    may. ``manager_numbers``: the acting manager's, in E.164 (see ``own_numbers``)."""
    if rules.refuse_manager_numbers and e164(number) in manager_numbers:
        return "own_number"
    region = region_of(number)
    if region == NON_GEOGRAPHIC:
        return "non_geographic"
    if rules.allowed_regions is not None and region not in rules.allowed_regions:
        return "region_not_allowed"
    return None
