"""Regex fragments and context helpers shared by the English normalisation passes.

Every pattern here is built from bounded or unambiguous pieces and is anchored by a look-behind,
so a failed match costs O(1) per start position and each pass stays linear on hostile input.
"""

from __future__ import annotations

import re


def words_of(text: str) -> list[str]:
    """Split a whitespace-separated literal into a list (keeps long word tables compact)."""
    return text.split()


# A number as written: "1,234,567", "3.14", "42". Possessive digit runs keep failures cheap.
NUMBER = r"(?:[0-9]{1,3}(?:,[0-9]{3})++(?![0-9])|[0-9]++)(?:\.[0-9]++)?"
# Not preceded by something that makes the digits part of a bigger token.
NUMBER_START = r"(?<![\w.,])"
# "am", "PM", "a.m.", "p. m." — the trailing look-ahead keeps "amps"/"a month" out.
AMPM = r"(?P<ap>[aApP])\.?\s?[mM]\.?(?![\w])"
MONTHS = {
    "January": 1,
    "February": 2,
    "March": 3,
    "April": 4,
    "May": 5,
    "June": 6,
    "July": 7,
    "August": 8,
    "September": 9,
    "October": 10,
    "November": 11,
    "December": 12,
    "Jan": 1,
    "Feb": 2,
    "Mar": 3,
    "Apr": 4,
    "Jun": 6,
    "Jul": 7,
    "Aug": 8,
    "Sep": 9,
    "Sept": 9,
    "Oct": 10,
    "Nov": 11,
    "Dec": 12,
}
MONTH_NAMES = words_of(
    "_ January February March April May June July August September October November December"
)
# Longest first so "Sept" wins over "Sep".
MONTH = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + ")"
DAYS = (
    "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    "Mon|Tues|Tue|Wed|Thurs|Thu|Fri|Sat|Sun)"
)

_CONTEXT = 40


def ends_sentence(text: str, pos: int) -> bool:
    """Whether the text after ``pos`` starts a new sentence (end, line break, or a capital)."""
    if pos >= len(text) or text[pos] == "\n":
        return True
    return text[pos] == " " and (pos + 1 >= len(text) or text[pos + 1].isupper())


def next_word(text: str, pos: int) -> str:
    """The word starting after the single space at ``pos`` ("" if there is none)."""
    if pos >= len(text) or text[pos] != " ":
        return ""
    match = re.match(r"[\w'’]{1,40}", text[pos + 1 : pos + 1 + _CONTEXT])
    return match.group() if match else ""


def spaced(match: re.Match[str], words: str) -> str:
    """Return ``words`` padded with spaces where the match touches letters or digits."""
    text = match.string
    start, end = match.span()
    before = " " if start > 0 and text[start - 1].isalnum() else ""
    after = " " if end < len(text) and text[end].isalnum() else ""
    return f"{before}{words}{after}"
