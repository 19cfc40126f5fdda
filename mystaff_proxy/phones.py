"""Phone numbers as a manager types them → the one form Graph stores: ``+{cc} {number}[x{ext}]``.

Which numbers are accepted (a phone for sign-in, MFA and password reset must reach a person,
and calling it must not cost the tenant or the person a premium):

* accepted types: MOBILE, FIXED_LINE, FIXED_LINE_OR_MOBILE, VOIP, TOLL_FREE (a toll-free line
  costs the caller nothing, and office lines are sometimes toll-free);
* refused types: PREMIUM_RATE and SHARED_COST (cost money to call: the classic toll-fraud
  target of SMS/voice MFA), PERSONAL_NUMBER (UK 070 "follow-me" numbers, a known fraud vector),
  UAN (a company's switchboard number, not a person), VOICEMAIL (reaches no one), PAGER (cannot
  answer a call or read a code) and UNKNOWN.

Also refused: empty input, more than 64 characters, control or invisible characters (bidi marks
that phones add when a number is copied from a contact card are removed first), anything
phonenumbers cannot parse, numbers that are not possible (too short / too long) or not valid
(e.g. an unassigned area code or an unknown country code such as +999).
"""

from __future__ import annotations

import unicodedata
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, ValidationResult

MAX_INPUT_LENGTH: Final = 64

ACCEPTED_TYPES: Final = frozenset({
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.VOIP,
    PhoneNumberType.TOLL_FREE,
})

_REFUSED_TYPE_REASONS: Final = {
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.PAGER: "pager",
}

# Invisible bidi marks that phones and contact apps put around copied numbers.
_BIDI_MARKS: Final = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

_POSSIBLE_REASONS: Final = {
    ValidationResult.TOO_SHORT: "too_short",
    ValidationResult.TOO_LONG: "too_long",
    ValidationResult.INVALID_LENGTH: "invalid_length",
    ValidationResult.INVALID_COUNTRY_CODE: "invalid_country_code",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local_only",
}

_PARSE_REASONS: Final = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not_a_number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too_short",
    phonenumbers.NumberParseException.TOO_LONG: "too_long",
}

#: A sentence per reason, for the manager (the API's ``message``).
REASON_MESSAGES: Final = {
    "empty": "Enter a phone number.",
    "input_too_long": "That is too long to be a phone number.",
    "control_characters": "The phone number contains invisible or control characters.",
    "invalid_region": "Unknown country or region for a number without +country code.",
    "not_a_number": "That does not look like a phone number.",
    "invalid_country_code": "Unknown country code; write the number as +country code number.",
    "too_short": "That phone number is too short.",
    "too_long": "That phone number is too long.",
    "invalid_length": "That phone number has the wrong number of digits.",
    "local_only": "Add the area code to the phone number.",
    "not_valid": "That is not a valid phone number in its country.",
    "premium_rate": "Premium-rate numbers cannot be used.",
    "shared_cost": "Shared-cost numbers cannot be used.",
    "personal_number": "Personal (follow-me) numbers cannot be used.",
    "uan": "Company switchboard numbers cannot be used.",
    "voicemail": "Voicemail numbers cannot be used.",
    "pager": "Pager numbers cannot be used.",
    "unknown_type": "That number cannot receive calls or texts.",
}


class InvalidPhoneNumber(ValueError):
    """A number that cannot be stored; ``reason`` is a key of REASON_MESSAGES."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = REASON_MESSAGES[reason]


def is_valid_region(region: str) -> bool:
    """A two-letter region phonenumbers knows (``US``, ``GB``; case-insensitive)."""
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


def _clean(raw: str) -> str:
    if len(raw) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber("input_too_long")
    text = "".join(c for c in raw if c not in _BIDI_MARKS)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp") for c in text):
        raise InvalidPhoneNumber("control_characters")
    text = text.strip()
    if not text:
        raise InvalidPhoneNumber("empty")
    return text


def normalize_phone(raw: str, region: str) -> str:
    """The Graph form of ``raw``; ``region`` is used when it has no ``+country code``."""
    if not is_valid_region(region):
        raise InvalidPhoneNumber("invalid_region")
    text = _clean(raw)
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(_PARSE_REASONS.get(exc.error_type, "not_a_number")) from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != ValidationResult.IS_POSSIBLE:
        raise InvalidPhoneNumber(_POSSIBLE_REASONS.get(possible, "not_valid"))
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("not_valid")
    kind = phonenumbers.number_type(number)
    if kind not in ACCEPTED_TYPES:
        raise InvalidPhoneNumber(_REFUSED_TYPE_REASONS.get(kind, "unknown_type"))
    # national_significant_number keeps Italy's leading zero (+39 0612345678).
    nsn = phonenumbers.national_significant_number(number)
    ext = f"x{number.extension}" if number.extension else ""
    return f"+{number.country_code} {nsn}{ext}"


#: phonenumbers' region of the international non-geographic ranges: +800/+808 freephone and
#: shared cost, +870 Inmarsat, +881 satellite, +882/+883 international networks, +979 ...
NON_GEOGRAPHIC: Final = str(phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY)


def e164(number: str, region: str | None = None) -> str:
    """``+12065550100``: the number without spaces or extension, to compare and hash numbers
    whatever way they were written (Graph's ``+1 2065550100x12``, a profile's
    ``(206) 555-0100`` with ``region``). Raises InvalidPhoneNumber when it cannot be parsed."""
    text = _clean(number)
    try:
        parsed = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(_PARSE_REASONS.get(exc.error_type, "not_a_number")) from None
    return str(phonenumbers.format_number(parsed, PhoneNumberFormat.E164))


def region_of(graph_number: str) -> str:
    """The region a valid number belongs to: ``US``, ``JM`` (+1 876 is Jamaica, not the
    US), ``NON_GEOGRAPHIC`` for the international ranges; ``ZZ`` when it cannot tell."""
    try:
        number = phonenumbers.parse(graph_number, None)
    except phonenumbers.NumberParseException:
        return str(phonenumbers.UNKNOWN_REGION)
    return str(phonenumbers.region_code_for_number(number) or phonenumbers.UNKNOWN_REGION)


def display_national(graph_number: str, region: str | None = None) -> str:
    """A readable form for the page: national, e.g. ``(206) 555-0100``; international when
    ``region`` is given and the number belongs elsewhere. Unparseable input comes back as is."""
    try:
        number = phonenumbers.parse(graph_number, None)
    except phonenumbers.NumberParseException:
        return graph_number
    fmt = PhoneNumberFormat.NATIONAL
    if region is not None and region.upper() not in _regions_of(number.country_code or 0):
        fmt = PhoneNumberFormat.INTERNATIONAL
    return str(phonenumbers.format_number(number, fmt))


def _regions_of(country_code: int) -> tuple[str, ...]:
    return tuple(phonenumbers.region_codes_for_country_code(country_code))


def last_digits(graph_number: str, n: int = 2) -> str:
    """The last ``n`` digits of the number (extension excluded), for the audit log."""
    if n < 1 or n > 4:
        raise ValueError("the audit keeps at most 4 digits of a number")
    number = graph_number.split("x", 1)[0]
    digits = [c for c in number if c.isdigit()]
    return "".join(digits[-n:])
