"""Temporary passwords: generated from ``secrets``, or typed by a manager and checked first.

Two styles of generated password (policy ``password.style``, docs/passwords.md):

* ``words`` (the default): four words of EFF's short word list 1 (1,296 words, shipped in
  ``words/``), joined by ``-``, one of them capitalised, then two digits: ``Maple-harbor-
  tiger-pond-47``. 4 x log2(1296) + log2(4) + log2(100) = 50.0 bits; words are added while the
  password is shorter than ``password.length``. Upper, lower, digit and the ``-`` symbol:
  Entra's three-of-four rule holds.
* ``random``: ``password.length`` characters of all four classes, without look-alikes.

The rules are Entra ID's cloud password policy ("Password policies and account restrictions in
Microsoft Entra ID"): 8-256 characters; A-Z, a-z, 0-9, the symbols in ``SYMBOLS`` and the space,
nothing else (no Unicode); three of the four classes lowercase, uppercase, digit, symbol. We add:
no leading or trailing space, not the user's UPN local part or a display-name word (3+ letters),
and not a well-known password. Entra checks its own banned-password list on top; a password it
refuses comes back from Graph as a 400, which the handler maps to ``password_rejected``.
"""

from __future__ import annotations

import math
import re
import secrets
import string
from enum import StrEnum
from functools import cache
from pathlib import Path
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


class PasswordStyle(StrEnum):
    """``password.style``: how generated temporary passwords look."""

    WORDS = "words"  # Maple-harbor-tiger-pond-47: read aloud, typed on a phone
    RANDOM = "random"  # 2v?&6M+qCKR&Np, without look-alikes


#: Words in a ``words`` password (more while it is shorter than the policy's length), the
#: separator, and the digits at the end.
WORDS: Final = 4
WORD_SEPARATOR: Final = "-"
WORD_DIGITS: Final = 2
WORD_LIST_FILE: Final = "eff_short_wordlist_1.txt"
WORD_LIST_SIZE: Final = 1296
_WORD_RE: Final = re.compile(r"[a-z]{3,5}")
#: A ``words`` password as ``grouped`` recognises it.
_WORDS_SHAPE: Final = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)+-[0-9]{2}")
#: Characters per group when a password that is not words is read aloud.
GROUP: Final = 4

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


@cache
def word_list() -> tuple[str, ...]:
    """EFF's short word list 1 as shipped in the package (words/NOTICE): 1,296 distinct words
    of 3 to 5 lower-case letters. A damaged file fails the reset rather than weaken every
    password drawn from it."""
    text = (Path(__file__).with_name("words") / WORD_LIST_FILE).read_text("ascii")
    words = tuple(text.split())
    if len(words) != WORD_LIST_SIZE or len(set(words)) != WORD_LIST_SIZE \
            or not all(_WORD_RE.fullmatch(w) for w in words):
        raise RuntimeError(f"words/{WORD_LIST_FILE} is damaged: expected {WORD_LIST_SIZE} "
                           "distinct words of 3 to 5 lower-case letters; reinstall mystaff-proxy")
    return words


def words_entropy_bits(words: int = WORDS) -> float:
    """The bits of a ``words`` password of ``words`` words: each word, which one is
    capitalised, and the two digits. Four words: 41.36 + 2 + 6.64 = 50.0."""
    return words * math.log2(WORD_LIST_SIZE) + math.log2(words) + WORD_DIGITS * math.log2(10)


def generate_words_password(min_length: int = 16, *, upn: str = "",
                            display_name: str = "") -> str:
    """Four words (more while shorter than ``min_length``), one capitalised, then two digits,
    all from ``secrets``: ``Maple-harbor-tiger-pond-47``.

    It passes ``check_password`` for this ``upn`` and ``display_name``.
    """
    if not MIN_LENGTH <= min_length <= MAX_LENGTH:
        raise ValueError(f"password length must be {MIN_LENGTH}..{MAX_LENGTH}")
    vocabulary = word_list()
    while True:
        chosen = [secrets.choice(vocabulary) for _ in range(WORDS)]
        digits = "".join(secrets.choice(string.digits) for _ in range(WORD_DIGITS))
        while len(WORD_SEPARATOR.join([*chosen, digits])) < min_length:
            chosen.append(secrets.choice(vocabulary))
        capital = secrets.randbelow(len(chosen))
        chosen[capital] = chosen[capital].capitalize()
        password = WORD_SEPARATOR.join([*chosen, digits])
        # A word can be part of the person's name (an "Ann" and "annex"): draw again.
        if len(password) <= MAX_LENGTH and \
                not check_password(password, upn=upn, display_name=display_name):
            return password


def temporary_password(style: PasswordStyle, length: int, *, upn: str = "",
                       display_name: str = "") -> str:
    """A generated temporary password in the policy's style; ``length`` is exact for
    ``random``, the least for ``words``."""
    if style is PasswordStyle.WORDS:
        return generate_words_password(length, upn=upn, display_name=display_name)
    return generate_password(length, upn=upn, display_name=display_name)


def grouped(password: str) -> tuple[str, ...]:
    """The password in groups for reading aloud: a ``words`` password word by word (and its
    digits), anything else in groups of four characters. Joining the groups with ``-``
    (words) or nothing (others) gives the password back; a page shows the groups and copies
    the password itself."""
    if _WORDS_SHAPE.fullmatch(password):
        return tuple(password.split(WORD_SEPARATOR))
    return tuple(password[i:i + GROUP] for i in range(0, len(password), GROUP))
