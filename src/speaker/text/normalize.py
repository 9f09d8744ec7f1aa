"""Text normalisation for the TTS front end: raw text in, speakable text out."""

from __future__ import annotations

import re
from functools import lru_cache

from num2words import CONVERTER_CLASSES, num2words

from speaker.text.abbreviations import expand_abbreviations, expand_acronyms
from speaker.text.cleanup import clean, tidy_lines
from speaker.text.dates import expand_dates, expand_times
from speaker.text.numbers import (
    expand_fractions,
    expand_measures,
    expand_money,
    expand_numbers,
    expand_ordinals,
    expand_ranges,
)
from speaker.text.roman import expand_roman
from speaker.text.symbols import expand_symbols
from speaker.text.web import expand_phones, expand_web

# Order matters: each pass consumes the characters ("-", "/", ".", ":") the later ones would
# misread, e.g. phone numbers and dates go before ranges, decades before units ("1990s").
_ENGLISH_PASSES = (
    expand_web,
    expand_phones,
    expand_dates,
    expand_ranges,
    expand_times,
    expand_roman,
    expand_abbreviations,
    expand_ordinals,
    expand_money,
    expand_measures,
    expand_fractions,
    expand_symbols,
    expand_numbers,
    expand_acronyms,
)
# Plain integers only: decimal and grouping separators differ per language, and espeak already
# reads those correctly for its own voices.
# num2words takes up to ~0.5 ms per number in some languages; past this many numbers the rest
# are left to espeak, which reads digits in its own voices, so hostile input stays fast.
_MAX_NUM2WORDS_CALLS = 1000
_PLAIN_INTEGER = re.compile(r"(?<![0-9.,])[0-9]{1,15}(?![0-9]|[.,][0-9])")


def _language_code(language: str) -> str:
    return language.strip().replace("-", "_").lower()


def _is_english(code: str) -> bool:
    return code == "en" or code.startswith("en_")


@lru_cache(maxsize=64)
def _num2words_language(code: str) -> str | None:
    for candidate in (code, code.split("_", 1)[0]):
        for name in CONVERTER_CLASSES:
            if name.lower() == candidate:
                return str(name)
    return None


@lru_cache(maxsize=4096)
def _spell_integer(value: int, language: str) -> str:
    return str(num2words(value, lang=language))


def _other_language(text: str, language: str) -> str:
    lang = _num2words_language(language)
    if lang is None:
        return text
    budget = [_MAX_NUM2WORDS_CALLS]

    def spell(match: re.Match[str]) -> str:
        budget[0] -= 1
        if budget[0] < 0:
            return match.group()
        try:
            return _spell_integer(int(match.group()), lang)
        except (NotImplementedError, OverflowError, ValueError, TypeError, KeyError, IndexError):
            return match.group()

    return _PLAIN_INTEGER.sub(spell, text)


def normalize_text(text: str, *, language: str = "en") -> str:
    """Turn raw text (Markdown, HTML, emoji, numbers, abbreviations…) into speakable words."""
    text = clean(text)
    code = _language_code(language)
    if _is_english(code):
        for expand in _ENGLISH_PASSES:
            text = expand(text)
    else:
        # snake_case words: espeak would say "underscore" in the voice's language.
        text = _other_language(text.replace("_", " "), code)
    return tidy_lines(text)
