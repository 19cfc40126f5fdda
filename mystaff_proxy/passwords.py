"""Temporary passwords: generated from ``secrets``, or typed by a manager and checked first.

The rules are Entra ID's cloud password policy ("Password policies and account restrictions in
Microsoft Entra ID"): 8-256 characters; A-Z, a-z, 0-9, the symbols in ``SYMBOLS`` and the space,
nothing else (no Unicode); three of the four classes lowercase, uppercase, digit, symbol. We add:
no leading or trailing space, not the user's UPN local part or a display-name word (3+ letters),
and not a well-known password. Entra checks its own banned-password list on top; a password it
refuses comes back from Graph as a 400, which the handler maps to ``password_rejected``.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Final

MIN_LENGTH: Final = 8
MAX_LENGTH: Final = 256

#: Every symbol Entra accepts in a password (the space is accepted as well, see ``_ALLOWED``).
SYMBOLS: Final = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<>"
_ALLOWED: Final = frozenset(string.ascii_letters + string.digits + SYMBOLS + " ")

# Generated passwords are read aloud and typed on a phone: no look-alikes (0/O/o, 1/l/I) and
# only symbols with one obvious name that are on the first symbol page of phone keyboards.
GEN_UPPER: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"
GEN_LOWER: Final = "abcdefghijkmnpqrstuvwxyz"
GEN_DIGITS: Final = "23456789"
GEN_SYMBOLS: Final = "@#$%&*-+=?!"
_GEN_ALL: Final = GEN_UPPER + GEN_LOWER + GEN_DIGITS + GEN_SYMBOLS

#: Well-known passwords and their stems; compared after folding case and common l33t swaps.
BANNED: Final = (
    "password", "passwort", "welcome", "letmein", "qwerty", "azerty", "123456", "12345678",
    "abc123", "iloveyou", "admin", "changeme", "default", "monkey", "dragon", "sunshine",
    "football", "baseball", "summer", "winter", "spring", "autumn", "secret", "master",
    "trustno1", "login",
)
_LEET: Final = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t",
                              "@": "a", "$": "s", "!": "i", "|": "l"})
_NAME_SPLIT: Final = re.compile(r"[\s,.\-_#]+")


def _classes(password: str) -> int:
    return (any(c in string.ascii_uppercase for c in password)
            + any(c in string.ascii_lowercase for c in password)
            + any(c in string.digits for c in password)
            + any(c in SYMBOLS for c in password))


def check_password(password: str, *, upn: str = "", display_name: str = "") -> list[str]:
    """The rules ``password`` breaks, as sentences for the manager; empty when it is fine."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    elif len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    if not set(password) <= _ALLOWED:
        problems.append("Use only letters A–Z and a–z, digits, spaces and the symbols "
                        f"{SYMBOLS}")
    if password != password.strip(" "):
        problems.append("Do not start or end the password with a space.")
    if _classes(password) < 3:
        problems.append("Use three of these four: lowercase letters, uppercase letters, "
                        "digits, symbols.")
    folded = password.lower()
    local = upn.partition("@")[0].lower()
    if len(local) >= 3 and local in folded:
        problems.append("Do not use the person's user name in the password.")
    elif any(len(w) >= 3 and w in folded for w in _NAME_SPLIT.split(display_name.lower())):
        problems.append("Do not use the person's name in the password.")
    leet = folded.translate(_LEET)
    if any(word in folded or word in leet for word in BANNED):
        problems.append("That password is too easy to guess; choose another.")
    return problems


def generate_password(length: int = 16, *, upn: str = "", display_name: str = "") -> str:
    """A random password of ``length`` characters with all four classes, from ``secrets``.

    It passes ``check_password`` for this ``upn`` and ``display_name``.
    """
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"password length must be {MIN_LENGTH}..{MAX_LENGTH}")
    rng = secrets.SystemRandom()
    while True:
        chars = [secrets.choice(GEN_UPPER), secrets.choice(GEN_LOWER),
                 secrets.choice(GEN_DIGITS), secrets.choice(GEN_SYMBOLS)]
        chars += [secrets.choice(_GEN_ALL) for _ in range(length - 4)]
        rng.shuffle(chars)
        password = "".join(chars)
        # A random string can, very rarely, spell a banned word or a name: draw again.
        if not check_password(password, upn=upn, display_name=display_name):
            return password
