"""Streaming chunker: short first chunk, growing budgets, no lost or broken words."""

from __future__ import annotations

import dataclasses
import random

import pytest

from speaker.text import TextChunk, chunk_text, split_sentences

_WORDS = [
    "Dr.",
    "Smith",
    "said",
    "hello.",
    "Yes!",
    "no?",
    "3.14",
    "alpha,",
    "beta;",
    "gamma:",
    "—",
    "-",
    "e.g.",
    "U.S.",
    "J.",
    "wait...",
    "ok",
    "\n",
    "\n\n",
    "lorem",
    "ipsum,",
    "word",
    "supercalifragilistic",
    "x" * 30,
]


def _random_text(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 300)))


def test_first_chunk_is_the_first_sentence() -> None:
    chunks = chunk_text(
        "Hello there, my friend. This is the second sentence. And a third.", first_chunk_chars=30
    )
    assert chunks[0] == TextChunk(0, "Hello there, my friend.")
    assert chunks[1] == TextChunk(1, "This is the second sentence.")
    assert chunks[2] == TextChunk(2, "And a third.")


def test_short_opening_sentences_share_the_first_chunk() -> None:
    chunks = chunk_text(
        "Hi! Good morning. This is the part that follows them.", first_chunk_chars=30
    )
    assert chunks[0] == TextChunk(0, "Hi! Good morning.")
    assert chunks[1] == TextChunk(1, "This is the part that follows them.")


def test_a_long_sentence_after_a_greeting_is_cut_to_the_budget() -> None:
    text = (
        "Good morning! Today will be mostly sunny with a high of twenty-four degrees and a light "
        "breeze from the west."
    )
    chunks = chunk_text(text, first_chunk_chars=40, max_chunk_chars=100)
    # Half a second of "Good morning!" cannot cover synthesizing the 95-character sentence.
    assert [c.text for c in chunks] == [
        "Good morning!",
        "Today will be mostly sunny with a high",
        "of twenty-four degrees and a light breeze from the west.",
    ]


def test_a_sentence_up_to_three_times_the_text_before_it_stays_whole() -> None:
    text = "Stop right there. Unplug it from the wall and wait thirty seconds."
    chunks = chunk_text(text, first_chunk_chars=40, max_chunk_chars=100)
    assert [c.text for c in chunks] == [
        "Stop right there.",
        "Unplug it from the wall and wait thirty seconds.",
    ]


def test_a_smaller_overshoot_cuts_a_sentence_that_three_times_would_keep() -> None:
    text = "Stop right there. Unplug it from the wall and wait thirty seconds."
    chunks = [c.text for c in chunk_text(text, first_chunk_chars=20, overshoot=2.0)]
    # 48 characters is over twice the 17 before it: cut at the 20-character budget.
    assert chunks == ["Stop right there.", "Unplug it from the", "wall and wait thirty seconds."]


def test_a_cut_leaves_no_scrap_of_a_tail() -> None:
    text = "Hi. One two three four five six seven eight nine."
    chunks = chunk_text(text, first_chunk_chars=40, max_chunk_chars=100)
    # Cut at 40 characters it would leave "nine." alone: the cut moves back a third of the budget.
    assert [c.text for c in chunks] == ["Hi.", "One two three four five six", "seven eight nine."]


def test_long_first_sentence_is_cut_at_a_clause_boundary() -> None:
    text = (
        "When the storm finally passed over the valley, the villagers came out of their houses "
        "and looked at the damage."
    )
    chunks = chunk_text(text, first_chunk_chars=80)
    assert chunks[0].text == "When the storm finally passed over the valley,"
    assert chunks[1].text == "the villagers came out of their houses and looked at the damage."


def test_long_first_sentence_without_punctuation_is_cut_at_a_space() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve"
    chunks = chunk_text(text, first_chunk_chars=20, max_chunk_chars=100)
    assert chunks[0].text == "one two three four"
    assert len(chunks[0].text) <= 20


def test_budgets_grow_with_the_text_already_chunked() -> None:
    sentence = "This sentence has exactly forty-two chars."
    assert len(sentence) == 42
    chunks = chunk_text(" ".join([sentence] * 40), first_chunk_chars=50, max_chunk_chars=400)
    sizes = [len(chunk.text.split(". ")) for chunk in chunks]
    # Each budget is the text chunked so far (at least 50, at most 400): 50, 84, 126, 211, 382,
    # 400…, which hold 1, 1, 2, 4, 8, 9 sentences of 42 chars (+1 space each).
    assert sizes[:7] == [1, 1, 1, 2, 4, 8, 9]
    assert all(len(chunk.text) <= 400 for chunk in chunks)


def test_sentence_longer_than_max_is_split_without_breaking_words() -> None:
    text = "word, " * 100 + "end."
    chunks = chunk_text(text, first_chunk_chars=30, max_chunk_chars=60)
    assert all(len(chunk.text) <= 60 for chunk in chunks)
    assert all(piece == "word," or piece == "end." for c in chunks for piece in c.text.split())


def test_single_word_longer_than_max_is_hard_split() -> None:
    text = "y" * 1000
    chunks = chunk_text(text, first_chunk_chars=10, max_chunk_chars=100)
    assert [len(chunk.text) for chunk in chunks] == [100] * 10
    assert "".join(chunk.text for chunk in chunks) == text


def test_first_word_longer_than_first_budget_stays_whole() -> None:
    chunks = chunk_text("Incomprehensibilities abound here.", first_chunk_chars=10)
    assert chunks[0].text == "Incomprehensibilities"


def test_indices_are_consecutive_and_chunks_frozen() -> None:
    chunks = chunk_text("A. B. C. D. " * 50, first_chunk_chars=5, max_chunk_chars=20)
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        chunks[0].text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t"])
def test_empty_input_gives_no_chunks(text: str) -> None:
    assert chunk_text(text) == []


@pytest.mark.parametrize(("first", "maximum"), [(0, 10), (50, 10)])
def test_invalid_budgets_are_rejected(first: int, maximum: int) -> None:
    with pytest.raises(ValueError, match="first_chunk_chars"):
        chunk_text("Hello.", first_chunk_chars=first, max_chunk_chars=maximum)


def test_chunks_give_back_every_word_in_order() -> None:
    rng = random.Random(2024)
    for _ in range(2000):
        text = _random_text(rng)
        first = rng.randint(1, 120)
        maximum = rng.randint(max(first, 31), 400)
        chunks = chunk_text(text, first_chunk_chars=first, max_chunk_chars=maximum)
        assert " ".join(chunk.text for chunk in chunks).split() == text.split()
        assert all(chunk.text and len(chunk.text) <= maximum for chunk in chunks)
        assert all(chunk.text == chunk.text.strip() for chunk in chunks)


def test_first_chunk_respects_its_budget_when_words_allow() -> None:
    rng = random.Random(99)
    for _ in range(500):
        text = _random_text(rng)
        chunks = chunk_text(text, first_chunk_chars=40, max_chunk_chars=200)
        if chunks and " " in chunks[0].text:
            # Over budget only as a whole sentence of at most twice the budget.
            first = chunks[0].text
            assert len(first) <= 40 or (len(first) <= 80 and first == split_sentences(text)[0])


def test_a_first_sentence_is_cut_between_words_only_when_far_too_long() -> None:
    kept = "Speaker is a self-hosted text to speech service. It streams."
    assert chunk_text(kept, first_chunk_chars=40)[0].text == (
        "Speaker is a self-hosted text to speech service."
    )
    long = "This first sentence has no commas and keeps going well past twice the first budget."
    assert chunk_text(long, first_chunk_chars=40)[0].text == "This first sentence has no commas and"
