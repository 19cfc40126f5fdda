from __future__ import annotations

import pytest

from mystaff_proxy.phones import (
    NON_GEOGRAPHIC,
    REASON_MESSAGES,
    InvalidPhoneNumber,
    display_national,
    e164,
    is_valid_region,
    last_digits,
    normalize_phone,
    region_of,
)

STORED = [
    ("(206) 555-0100", "US", "+1 2065550100"),
    ("+44 20 7946 0958", "US", "+44 2079460958"),
    ("2065550100 x123", "US", "+1 2065550100x123"),
    ("206-555-0100 ext. 123", "US", "+1 2065550100x123"),
    ("206.555.0100;ext=123", "US", "+1 2065550100x123"),
    ("+1 206 555 0100 #123", "US", "+1 2065550100x123"),
    ("tel:+1-206-555-0100;ext=45", "US", "+1 2065550100x45"),
    ("+1 (206) 555-0100", "US", "+1 2065550100"),
    ("1-206-555-0100", "US", "+1 2065550100"),
    ("２０６５５５０１００", "US", "+1 2065550100"),  # fullwidth digits
    ("011 44 20 7946 0958", "US", "+44 2079460958"),  # US international prefix
    ("+1 2065550100x123", "US", "+1 2065550100x123"),  # Graph's own form round-trips
    ("1-800-FLOWERS", "US", "+1 8003569377"),  # letters map to digits; toll-free accepted
    ("+33 6 12 34 56 78", "US", "+33 612345678"),
    ("+86 138 0013 8000", "US", "+86 13800138000"),
    ("07911 123456", "GB", "+44 7911123456"),
    ("+39 06 1234 5678", "US", "+39 0612345678"),  # Italy keeps its leading zero
    ("06 1234 5678", "IT", "+39 0612345678"),
    ("030 1234567", "DE", "+49 301234567"),
    ("+81 90-1234-5678", "US", "+81 9012345678"),
    ("+61 4 1234 5678", "us", "+61 412345678"),  # region is case-insensitive
    ("\u202a+1 206 555 0100\u202c", "US", "+1 2065550100"),  # bidi marks from a contact card
    ("  +1 206 555 0100  ", "US", "+1 2065550100"),
]

REFUSED = [
    ("", "US", "empty"),
    ("   ", "US", "empty"),
    ("abc", "US", "not_a_number"),
    ("garbage!!", "US", "not_a_number"),
    ("1", "US", "not_a_number"),
    ("+999 123456", "US", "invalid_country_code"),
    ("+1 206 555 0100 x123456789012345678901", "US", "too_long"),
    ("12", "US", "too_short"),
    ("911", "US", "too_short"),
    ("555-0100", "US", "local_only"),
    ("+1 206 555 010", "US", "too_short"),
    ("+1 206 555 01000", "US", "too_long"),
    ("206-555-0100abc", "US", "too_long"),
    ("+1 123 456 7890", "US", "not_valid"),  # no such area code
    ("+1 900 555 0199", "US", "premium_rate"),
    ("+44 909 879 0000", "US", "premium_rate"),
    ("0871 123 4567", "GB", "premium_rate"),
    ("+33 8 10 12 34 56", "US", "shared_cost"),
    ("+44 70 1234 5678", "US", "personal_number"),
    ("+1 500 555 0100", "US", "personal_number"),
    ("0300 123 4567", "GB", "uan"),
    ("206\x00555 0100", "US", "control_characters"),
    ("206\u200b5550100", "US", "control_characters"),  # zero-width space
    ("2" * 65, "US", "input_too_long"),
    ("+1 206 555 0100", "ZZ", "invalid_region"),
    ("+1 206 555 0100", "", "invalid_region"),
]


@pytest.mark.parametrize(("raw", "region", "stored"), STORED)
def test_stored_in_graph_form(raw: str, region: str, stored: str) -> None:
    assert normalize_phone(raw, region) == stored


@pytest.mark.parametrize(("raw", "region", "reason"), REFUSED)
def test_refused(raw: str, region: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize_phone(raw, region)
    assert info.value.reason == reason
    assert info.value.message == REASON_MESSAGES[reason]


def test_table_is_large_enough() -> None:
    assert len(STORED) + len(REFUSED) >= 30


def test_regions() -> None:
    assert is_valid_region("US") and is_valid_region("gb")
    assert not is_valid_region("ZZ") and not is_valid_region("001")


def test_display_national() -> None:
    assert display_national("+1 2065550100") == "(206) 555-0100"
    assert display_national("+1 2065550100x12") == "(206) 555-0100 ext. 12"
    assert display_national("+39 0612345678") == "06 1234 5678"
    assert display_national("+44 2079460958", "US") == "+44 20 7946 0958"
    assert display_national("+1 2065550100", "US") == "(206) 555-0100"
    assert display_national("not a number") == "not a number"


def test_last_digits() -> None:
    assert last_digits("+1 2065550100x123") == "00"
    assert last_digits("+44 2079460958", 4) == "0958"
    with pytest.raises(ValueError):
        last_digits("+1 2065550100", 5)


def test_e164_compares_numbers_however_they_are_written() -> None:
    assert e164("+1 2065550100") == e164("+1 2065550100x12") == "+12065550100"
    assert e164("(206) 555-0100", "US") == e164("206.555.0100", "us") == "+12065550100"
    assert e164("+44 20 7946 0958", "US") == "+442079460958"
    with pytest.raises(InvalidPhoneNumber):
        e164("2065550100")  # no +country and no region: cannot tell
    with pytest.raises(InvalidPhoneNumber):
        e164("call me", "US")


@pytest.mark.parametrize(("number", "region"), [
    ("+1 2065550100", "US"), ("+1 4165550123", "CA"),
    ("+1 8765550123", "JM"), ("+1 8095550123", "DO"),  # NANP look-alikes: their own regions
    ("+881 612345678", NON_GEOGRAPHIC), ("+870 773111632", NON_GEOGRAPHIC),
    ("+882 3421234", NON_GEOGRAPHIC), ("+800 12345678", NON_GEOGRAPHIC),
    ("not a number", "ZZ"),
])
def test_region_of(number: str, region: str) -> None:
    assert region_of(number) == region
