from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mystaff_proxy.passwords import (
    GEN_DIGITS,
    GEN_LOWER,
    GEN_SYMBOLS,
    GEN_UPPER,
    SYMBOLS,
    check_password,
    generate_password,
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
