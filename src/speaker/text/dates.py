"""Dates and clock times."""

from __future__ import annotations

import re

from speaker.text.patterns import AMPM, MONTH, MONTH_NAMES, MONTHS, ends_sentence, spaced
from speaker.text.words import cardinal, ordinal, spell, year

_ISO = re.compile(
    r"(?<![\w/.:-])(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:T(?P<hh>[0-9]{2}):(?P<mm>[0-9]{2})(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?(?![\w-])"
)
_NUMERIC = re.compile(
    r"(?<![\w/.:-])(?P<a>[0-9]{1,2})(?P<sep>[/.-])(?P<b>[0-9]{1,2})(?P=sep)"
    r"(?P<y>[0-9]{4}|[0-9]{2})(?![\w/-]|\.[0-9])"
)
_MONTH_DAY = re.compile(
    rf"\b(?P<mon>{MONTH})\.? (?P<d>[0-9]{{1,2}})(?:st|nd|rd|th)?(?![\w:]|[.,][0-9])"
    r"(?:,? (?P<y>[0-9]{4})(?![\w:]|[.,][0-9]))?"
)
_DAY_MONTH = re.compile(
    rf"(?<![\w.,])(?P<d>[0-9]{{1,2}})(?:st|nd|rd|th)? (?P<of>of )?(?P<mon>{MONTH})\b"
    r"(?:\.(?=,? [0-9]{4}))?"
    r"(?:,? (?P<y>[0-9]{4})(?![\w:]|[.,][0-9]))?"
)
_MONTH_YEAR = re.compile(rf"\b(?P<mon>{MONTH})\.?,? (?P<y>[0-9]{{4}})(?![\w:]|[.,][0-9])")

_CLOCK = re.compile(
    r"(?<![\w:.])(?P<h>[0-9]{1,2}):(?P<m>[0-5][0-9])(?::(?P<s>[0-5][0-9]))?"
    rf"(?:\s?{AMPM})?(?![0-9:])"
)
_HOUR_AMPM = re.compile(rf"(?<![\w:.])(?P<h>[0-9]{{1,2}})\s?{AMPM}")


def _date(month: int, day: int, year_text: str | None) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    spoken = f"{MONTH_NAMES[month]} {ordinal(day)}"
    return f"{spoken}, {year(int(year_text))}" if year_text else spoken


def _full_year(text: str) -> str:
    # Two-digit years: "25" is 2025, "99" is 1999 — the usual pivot for recent dates.
    if len(text) == 2:
        value = int(text)
        return str(2000 + value if value < 50 else 1900 + value)
    return text


def _read_iso(match: re.Match[str]) -> str:
    spoken = _date(int(match.group("m")), int(match.group("d")), match.group("y"))
    if spoken is None:
        return match.group()
    if match.group("hh") is not None:
        clock = _clock_words(int(match.group("hh")), int(match.group("mm")), None, None)
        if clock is not None:
            spoken = f"{spoken}, at {clock}"
    return spoken


def _read_numeric(match: re.Match[str]) -> str:
    first, second = int(match.group("a")), int(match.group("b"))
    # Slashes and dashes are US month/day; dots, or a first field above 12, mean day.month.
    if match.group("sep") == "." or first > 12:
        first, second = second, first
    spoken = _date(first, second, _full_year(match.group("y")))
    return match.group() if spoken is None else spoken


def _read_month_day(match: re.Match[str]) -> str:
    spoken = _date(MONTHS[match.group("mon")], int(match.group("d")), match.group("y"))
    return match.group() if spoken is None else spoken


def _read_day_month(match: re.Match[str]) -> str:
    month, day = MONTHS[match.group("mon")], int(match.group("d"))
    if match.group("of"):
        if not 1 <= day <= 31:
            return match.group()
        spoken = f"{ordinal(day)} of {MONTH_NAMES[month]}"
        year_text = match.group("y")
        return f"{spoken}, {year(int(year_text))}" if year_text else spoken
    spoken_date = _date(month, day, match.group("y"))
    return match.group() if spoken_date is None else spoken_date


def _read_month_year(match: re.Match[str]) -> str:
    return f"{MONTH_NAMES[MONTHS[match.group('mon')]]} {year(int(match.group('y')))}"


def expand_dates(text: str) -> str:
    """Read ISO, numeric (US M/D/Y) and written dates as "October fifteenth, twenty twenty-five"."""
    text = _ISO.sub(_read_iso, text)
    text = _NUMERIC.sub(_read_numeric, text)
    text = _MONTH_DAY.sub(_read_month_day, text)
    text = _DAY_MONTH.sub(_read_day_month, text)
    return _MONTH_YEAR.sub(_read_month_year, text)


def _clock_words(hour: int, minute: int, second: int | None, ampm: str | None) -> str | None:
    if hour > 23 or (ampm and not 1 <= hour <= 12):
        return None
    spoken = cardinal(hour)
    if minute:
        spoken += f" oh {cardinal(minute)}" if minute < 10 else f" {cardinal(minute)}"
    elif not ampm:
        spoken += " o'clock" if 1 <= hour <= 12 else " hundred"
    if second:
        spoken += f" and {cardinal(second)} second{'s' if second != 1 else ''}"
    if ampm:
        spoken += f" {spell(ampm.upper() + 'M')}"
    return spoken


def _keep_period(match: re.Match[str], spoken: str) -> str:
    # "at 10 a.m. The meeting…": the abbreviation's dot also ended the sentence.
    if match.group().endswith(".") and ends_sentence(match.string, match.end()):
        return f"{spoken}."
    return spoken


def _read_clock(match: re.Match[str]) -> str:
    second = match.group("s")
    spoken = _clock_words(
        int(match.group("h")),
        int(match.group("m")),
        int(second) if second else None,
        match.group("ap"),
    )
    if spoken is None:
        return match.group()
    return _keep_period(match, spaced(match, spoken))


def _read_hour(match: re.Match[str]) -> str:
    spoken = _clock_words(int(match.group("h")), 0, None, match.group("ap"))
    if spoken is None:
        return match.group()
    return _keep_period(match, spaced(match, spoken))


def expand_times(text: str) -> str:
    """Read clock times: "3:45 pm" -> "three forty-five P M", "14:30" -> "fourteen thirty"."""
    text = _CLOCK.sub(_read_clock, text)
    return _HOUR_AMPM.sub(_read_hour, text)
