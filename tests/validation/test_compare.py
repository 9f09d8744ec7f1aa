"""The comparison normalizer: written and spoken forms of the same words compare equal."""

from __future__ import annotations

import pytest

from speaker.validation.compare import normalize_for_comparison, word_errors


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("$47.50", "forty-seven dollars and fifty cents"),
        ("Dr. Rivera", "Doctor Rivera"),
        ("The invoice is due on 10/15/2025.", "The invoice is due on October 15th, 2025"),
        ("10/15/2025", "October fifteenth, twenty twenty-five"),
        ("3rd", "third"),
        ("She came 2nd.", "she came second"),
        ("Call the FBI.", "Call the F.B.I."),
        ("It starts at 3:45 pm.", "It starts at 3.45pm."),
        ("It starts at 3:45 pm.", "It starts at 345 PM."),
        ("Sales grew by 45%.", "Sales grew by 45 percent."),
        ("The colour of the organisation", "the color of the organization"),
        ("OK, it's fine!", "Okay. Its fine."),
        ("Add 105 grams.", "Add one hundred and five grams."),
        ("Main St.", "Main Street"),
        ("Monday–Friday", "Monday to Friday"),
        ("1,234", "one thousand two hundred thirty-four"),
    ],
)
def test_written_and_spoken_forms_compare_equal(written: str, spoken: str) -> None:
    errors = word_errors(written, spoken)
    assert errors.wer == 0.0, (errors.reference, errors.hypothesis)
    assert errors.words > 0


def test_normalized_text_is_lower_case_words_only() -> None:
    assert normalize_for_comparison('"Wait -- what?!" (she said)') == "wait what she said"


def test_a_different_sentence_has_a_high_error_rate() -> None:
    errors = word_errors("The ticket cost $47.50.", "The weather is sunny today.")
    assert errors.wer > 0.5
    assert errors.errors == errors.substitutions + errors.deletions + errors.insertions


def test_one_wrong_word_counts_once() -> None:
    errors = word_errors("Dr. Rivera met Mr. Smith.", "Doctor Rivera met Mister Smyth.")
    assert (errors.words, errors.substitutions, errors.errors) == (5, 1, 1)
    assert errors.wer == pytest.approx(0.2)


def test_silence_is_every_word_missed_and_words_in_silence_are_errors() -> None:
    missed = word_errors("Hello there.", "")
    assert (missed.deletions, missed.wer) == (2, 1.0)
    invented = word_errors("...", "hello")
    assert (invented.words, invented.insertions, invented.wer) == (0, 1, 1.0)
