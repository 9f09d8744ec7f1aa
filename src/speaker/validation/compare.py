"""What was asked against what Whisper heard: one normalizer for both sides, then word errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import jiwer
from whisper_normalizer.english import EnglishSpellingNormalizer

from speaker.text import normalize_text

# Whisper writes some clock times as "3.45pm" or "345 PM", which the front end would read as a
# decimal or a cardinal; the colon makes them times again.
_CLOCK_TIME = re.compile(r"\b(\d{1,2})\.?([0-5]\d)\s*([ap])\.?\s*m\b\.?", re.IGNORECASE)
# Apostrophes go too: "it's" and "its" sound the same, and so do "teachers'" and "teachers".
_NOT_A_WORD = re.compile(r"[^\w\s]|_")
# Letters read one by one ("F B I", "P M") and the same letters written as one word are heard alike.
_SPELLED = re.compile(r"\b[a-z](?: [a-z]\b)+")
# Spellings that say the same words; both sides are folded to the right-hand one.
_SAME_WORDS = {
    "ok": "okay",
    "alright": "all right",
    "per cent": "percent",
    "a m": "am",
    "p m": "pm",
}
_SAME_WORDS_PATTERN = re.compile(r"\b(" + "|".join(map(re.escape, _SAME_WORDS)) + r")\b")
# "One hundred and five" and "one hundred five" (how the front end reads "105") are one number.
_NUMBER_AND = re.compile(r"\b(hundred|thousand|million|billion) and\b")


@cache
def _spelling() -> EnglishSpellingNormalizer:
    return EnglishSpellingNormalizer()


def normalize_for_comparison(text: str) -> str:
    """Words as a listener hears them: written forms spoken out, lower case, no punctuation."""
    text = _CLOCK_TIME.sub(r"\1:\2 \3m", text)
    text = normalize_text(text, language="en").lower()
    text = " ".join(_NOT_A_WORD.sub(" ", text.replace("'", "").replace("’", "")).split())
    text = str(_spelling()(text))
    text = _SPELLED.sub(lambda match: match.group().replace(" ", ""), text)
    text = _NUMBER_AND.sub(r"\1", text)
    return _SAME_WORDS_PATTERN.sub(lambda match: _SAME_WORDS[match.group()], text)


@dataclass(frozen=True)
class WordErrors:
    """Word errors of one transcript against its reference, after normalization."""

    reference: str
    hypothesis: str
    words: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        """Substituted, deleted and inserted words together."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        """Word error rate: errors per reference word (1.0 for any word heard in silence)."""
        if not self.words:
            return float(self.errors > 0)
        return self.errors / self.words


def word_errors(expected: str, heard: str) -> WordErrors:
    """Compare what a listener should hear with what was heard, both normalized alike."""
    reference = normalize_for_comparison(expected)
    hypothesis = normalize_for_comparison(heard)
    if not reference or not hypothesis:
        # jiwer refuses empty strings; every word on the other side is then an error.
        return WordErrors(
            reference,
            hypothesis,
            words=len(reference.split()),
            substitutions=0,
            deletions=len(reference.split()),
            insertions=len(hypothesis.split()),
        )
    measured = jiwer.process_words(reference, hypothesis)
    return WordErrors(
        reference,
        hypothesis,
        words=measured.hits + measured.substitutions + measured.deletions,
        substitutions=measured.substitutions,
        deletions=measured.deletions,
        insertions=measured.insertions,
    )
