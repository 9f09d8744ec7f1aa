"""Number and letter spelling primitives."""

from __future__ import annotations

import pytest

from speaker.text.words import cardinal, digits, fraction, number, ordinal, plural, spell, year


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (99, "ninety-nine"),
        (100, "one hundred"),
        (101, "one hundred one"),
        (1000, "one thousand"),
        (1_000_001, "one million one"),
        (2_500_000_000, "two billion five hundred million"),
        (-12, "minus twelve"),
        (10**36, digits("1" + "0" * 36)),
    ],
)
def test_cardinal(value: int, expected: str) -> None:
    assert cardinal(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "first"),
        (2, "second"),
        (3, "third"),
        (5, "fifth"),
        (8, "eighth"),
        (9, "ninth"),
        (12, "twelfth"),
        (20, "twentieth"),
        (21, "twenty-first"),
        (100, "one hundredth"),
        (103, "one hundred third"),
        (0, "zeroth"),
    ],
)
def test_ordinal(value: int, expected: str) -> None:
    assert ordinal(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1999, "nineteen ninety-nine"),
        (2005, "two thousand five"),
        (2000, "two thousand"),
        (2010, "twenty ten"),
        (2025, "twenty twenty-five"),
        (1905, "nineteen oh five"),
        (1900, "nineteen hundred"),
        (1066, "ten sixty-six"),
        (800, "eight hundred"),
    ],
)
def test_year(value: int, expected: str) -> None:
    assert year(value) == expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (1, 2, "one half"),
        (3, 2, "three halves"),
        (1, 4, "one quarter"),
        (3, 4, "three quarters"),
        (2, 3, "two thirds"),
        (1, 100, "one one hundredth"),
        (5, 0, "five over zero"),
        (3, 1000, "three over one thousand"),
    ],
)
def test_fraction(numerator: int, denominator: int, expected: str) -> None:
    assert fraction(numerator, denominator) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.5", "one thousand two hundred thirty-four point five"),
        (".5", "point five"),
        ("007", "zero zero seven"),
        ("3.", "three"),
    ],
)
def test_number(text: str, expected: str) -> None:
    assert number(text) == expected


def test_plural() -> None:
    assert [plural(w) for w in ("ninety", "six", "nineteen hundred", "twenty")] == [
        "nineties",
        "sixes",
        "nineteen hundreds",
        "twenties",
    ]


@pytest.mark.parametrize(
    ("letters", "expected"),
    [
        ("FBI", "F B I"),
        ("API", "A-P I"),
        ("USA", "U S-A"),
        ("FAQ", "F A-Q"),
        ("am", "A-M"),
        ("PM", "P M"),
        ("A", "A"),
    ],
)
def test_spell_keeps_letter_a_from_sounding_like_the_article(letters: str, expected: str) -> None:
    assert spell(letters) == expected
