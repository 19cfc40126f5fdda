"""Entra's cloud password rules, and the temporary passwords resetPassword generates.

Rules (Entra password policy for cloud-only users): 8 to 256 characters; at least three of
lower case, upper case, digits and symbols; printable ASCII only (Unicode is refused). The banned
password list is not modelled. A refusal reads like real Graph's.
"""

from __future__ import annotations

import secrets
import string

from ..errors import GraphErrorResult, bad_request

COMPLEXITY_MESSAGE = ("The specified password does not comply with password complexity "
                      "requirements. Please provide a different password.")
_SYMBOLS = set("@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> ")


def check_complexity(password: object, code: str = "Request_BadRequest") -> str:
    if not isinstance(password, str):
        raise bad_request("Invalid value specified for property 'password'.")
    classes = (
        any(c.islower() and c.isascii() for c in password),
        any(c.isupper() and c.isascii() for c in password),
        any(c.isdigit() and c.isascii() for c in password),
        any(c in _SYMBOLS for c in password),
    )
    allowed = all(c.isascii() and (c.isalnum() or c in _SYMBOLS) for c in password)
    if not 8 <= len(password) <= 256 or sum(classes) < 3 or not allowed:
        raise GraphErrorResult(400, code, COMPLEXITY_MESSAGE)
    return password


def generate_temporary() -> str:
    """Like Entra's generated temporary passwords ("Cuyo5459"): a pronounceable word + digits."""
    consonants, vowels = "bcdfghjkmnprstvwxyz", "aeiou"
    word = "".join(secrets.choice(consonants) + secrets.choice(vowels) for _ in range(2))
    digits = "".join(secrets.choice(string.digits) for _ in range(4))
    return word.capitalize() + digits
