from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mystaff_proxy.policy.passwords import (
    GEN_DIGITS,
    GEN_LOWER,
    GEN_SYMBOLS,
    GEN_UPPER,
    SYMBOLS,
    WORD_LIST_SIZE,
    PasswordStyle,
    check_password,
    generate_password,
    generate_words_password,
    grouped,
    temporary_password,
    word_list,
    words_entropy_bits,
)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=12, max_value=256))
def test_generated_passwords_pass_the_rules(length: int) -> None:
    password = generate_password(length)
    assert len(password) == length
    assert check_password(password, upn="bob@contoso.com", display_name="Bob Jones") == []


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=12, max_value=64))
def test_generated_passwords_have_all_four_classes_and_no_look_alikes(length: int) -> None:
    password = generate_password(length)
    for alphabet in (GEN_UPPER, GEN_LOWER, GEN_DIGITS, GEN_SYMBOLS):
        assert any(c in alphabet for c in password)
    assert not set(password) & set("0Oo1lI")
    assert set(GEN_SYMBOLS) <= set(SYMBOLS)


def test_generated_passwords_differ() -> None:
    assert len({generate_password(16) for _ in range(50)}) == 50


def test_generator_avoids_the_target_name() -> None:
    for _ in range(200):
        assert "abc" not in generate_password(12, upn="abc@x.com").lower()
        pw = generate_password(12, display_name="Ann Bee")
        assert "ann" not in pw.lower() and "bee" not in pw.lower()


@pytest.mark.parametrize("length", [0, 7, 257])
def test_generator_length_bounds(length: int) -> None:
    with pytest.raises(ValueError):
        generate_password(length)


@pytest.mark.parametrize(("password", "problem"), [
    ("Ab1!", "at least 8"),
    ("Ab1!" * 65, "at most 256"),
    ("abcdefgh", "three of these four"),
    ("ABCDEFGH12", "three of these four"),
    ("Pässwörd12!", "Use only letters"),
    ("Tab\there12A", "Use only letters"),
    (" Leading1!", "start or end"),
    ("Trailing1! ", "start or end"),
    ("Password1", "too easy"),
    ("P@ssw0rd!!", "too easy"),
    ("Welcome2024!", "too easy"),
    ("xBobSmith9!", "user name"),
    ("Zz9!jones-x", "person's name"),
])
def test_check_password_refuses(password: str, problem: str) -> None:
    problems = check_password(password, upn="bobsmith@contoso.com", display_name="Ann Jones")
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("password", [
    "Correct horse 7",
    "xK9#mP2$vL",
    "aB3" + string.punctuation.replace(">", ""),
    "Bo1!Bo1!Bo1!",  # UPN local parts shorter than 3 are not checked
])
def test_check_password_accepts(password: str) -> None:
    assert check_password(password, upn="bo@contoso.com", display_name="Al Li") == []


# -- words: Maple-harbor-tiger-pond-47 ------------------------------------------------------


def _words_parts(password: str) -> tuple[list[str], str]:
    *words, digits = password.split("-")
    return words, digits


def test_the_word_list_is_efs_short_list_as_shipped() -> None:
    words = word_list()
    assert len(words) == len(set(words)) == WORD_LIST_SIZE == 1296
    assert words[:3] == ("acid", "acorn", "acre") and words[-1] == "zoom"
    assert all(w.isascii() and w.isalpha() and w.islower() and 3 <= len(w) <= 5 for w in words)
    assert "maple" in words and "yo-yo" not in words  # the one change (words/NOTICE)


def test_words_entropy_is_at_least_fifty_bits() -> None:
    # 4 x log2(1296) + log2(4) (which word is capitalised) + log2(100) (two digits)
    assert words_entropy_bits() == pytest.approx(50.003, abs=0.001)
    assert words_entropy_bits(5) > words_entropy_bits()


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=12, max_value=256))
def test_words_passwords_pass_the_rules_and_reach_the_length(length: int) -> None:
    password = generate_words_password(length, upn="bob@contoso.com", display_name="Bob Jones")
    assert length <= len(password) <= 256
    assert check_password(password, upn="bob@contoso.com", display_name="Bob Jones") == []
    words, digits = _words_parts(password)
    assert len(words) >= 4 and len(digits) == 2 and digits.isdigit()
    # Only as many words as the length needs: one fewer would have been too short.
    if len(words) > 4:
        assert len("-".join(words[:-1])) + 3 < length
    vocabulary = set(word_list())
    assert all(w.lower() in vocabulary for w in words)
    assert sum(w[0].isupper() for w in words) == 1
    assert all(w[1:].islower() for w in words)


def test_words_passwords_meet_entras_three_of_four_with_the_hyphen() -> None:
    password = generate_words_password(16)
    assert any(c.isupper() for c in password) and any(c.islower() for c in password)
    assert any(c.isdigit() for c in password) and "-" in SYMBOLS
    assert 18 <= len(password) <= 26  # four words of 3-5 letters, 4 hyphens, 2 digits


def test_words_passwords_differ_and_spread_the_capital() -> None:
    passwords = {generate_words_password(16) for _ in range(200)}
    assert len(passwords) == 200
    positions = {next(i for i, w in enumerate(_words_parts(p)[0]) if w[0].isupper())
                 for p in passwords}
    assert positions == {0, 1, 2, 3}


def test_words_passwords_avoid_the_persons_name() -> None:
    # "ample", "maple" and "sample"-like words hold these names: those draws are redone.
    for _ in range(300):
        password = generate_words_password(16, upn="apple@x.com", display_name="Ann Mapleton")
        assert "apple" not in password.lower() and "ann" not in password.lower()


@pytest.mark.parametrize("length", [0, 7, 257])
def test_words_length_bounds(length: int) -> None:
    with pytest.raises(ValueError):
        generate_words_password(length)


def test_temporary_password_follows_the_style() -> None:
    words = temporary_password(PasswordStyle.WORDS, 16, upn="a@b.c", display_name="A B")
    assert len(_words_parts(words)[0]) == 4
    randomly = temporary_password(PasswordStyle.RANDOM, 14)
    assert len(randomly) == 14 and not set(randomly) & set("0Oo1lI")


@pytest.mark.parametrize(("password", "groups"), [
    ("Maple-harbor-tiger-pond-47", ("Maple", "harbor", "tiger", "pond", "47")),
    ("acid-Zoom-yam-ax-07", ("acid", "Zoom", "yam", "ax", "07")),
    ("2v?&6M+qCKR&Np", ("2v?&", "6M+q", "CKR&", "Np")),
    ("ab-cd-ef", ("ab-c", "d-ef")),  # not words and digits: groups of four
    ("Correct horse 7", ("Corr", "ect ", "hors", "e 7")),
])
def test_grouped_for_reading_aloud(password: str, groups: tuple[str, ...]) -> None:
    assert grouped(password) == groups


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(PasswordStyle)), st.integers(min_value=12, max_value=40))
def test_grouped_gives_the_password_back(style: PasswordStyle, length: int) -> None:
    password = temporary_password(style, length)
    groups = grouped(password)
    joined = "-".join(groups) if style is PasswordStyle.WORDS else "".join(groups)
    assert joined == password
    if style is PasswordStyle.RANDOM:
        assert all(len(g) == 4 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 4
