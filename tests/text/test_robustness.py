"""Hostile input: linear time on 100k characters, and no exception on random input."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from speaker.text import chunk_text, normalize_text, split_sentences

_SIZE = 100_000
_LIMIT_S = 2.0


def _random_unicode(rng: random.Random, size: int) -> str:
    ranges = [(32, 0x2FF), (0x590, 0x6FF), (0x1F300, 0x1FAFF), (0x2000, 0x2BFF), (0, 0x10FFFF)]
    return "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(size))


def _mixed(rng: random.Random, size: int) -> str:
    pieces = [
        "1",
        ".",
        ",",
        "$",
        "-",
        "/",
        ":",
        " ",
        "a",
        "A",
        "%",
        "€",
        "'",
        "s",
        "th",
        "St.",
        "Dr.",
        "I",
        "V",
        "X",
        "\n",
        "*",
        "_",
        "#",
        "<",
        ">",
        "[",
        "]",
        "(",
        ")",
        "@",
        "e.g.",
        "am",
        "pm",
        "1/2",
        "10:30",
        "555-123-4567",
        "http://",
        "www.",
        ".com",
        "|",
        "`",
        "–",
        "°",
        "½",
    ]
    return "".join(rng.choice(pieces) for _ in range(size // 2))[:size]


_RNG = random.Random(31337)
ADVERSARIAL = {
    "digits": "1" * _SIZE,
    "dots": "." * _SIZE,
    "a-dot": "a." * (_SIZE // 2),
    "dollars": "$" * _SIZE,
    "nested-brackets": "[" * (_SIZE // 2) + "]" * (_SIZE // 2),
    "open-parens": "(" * _SIZE,
    "long-word": "a" * _SIZE,
    "capitals": "A" * _SIZE,
    "spaces": " " * _SIZE,
    "newlines": "\n" * _SIZE,
    "hashes": "#" * _SIZE,
    "stars": "*" * _SIZE,
    "underscores": "_" * _SIZE,
    "less-than": "<" * _SIZE,
    "tag-openers": "<a" * (_SIZE // 2),
    "comment-openers": "<!--" * (_SIZE // 4),
    "link-openers": "[a](" * (_SIZE // 4),
    "digit-comma": "1," * (_SIZE // 2),
    "digit-dot": "1." * (_SIZE // 2),
    "digit-hyphen": "1-" * (_SIZE // 2),
    "digit-slash": "1/" * (_SIZE // 2),
    "digit-colon": "1:" * (_SIZE // 2),
    "initials": "A. " * (_SIZE // 3),
    "roman": "Henry " + "I" * _SIZE,
    "emoji": "👍🏽" * (_SIZE // 2),
    "random-unicode": _random_unicode(_RNG, _SIZE),
    "mixed": _mixed(_RNG, _SIZE),
    "numbers": " ".join(str(_RNG.randint(0, 10**12)) for _ in range(_SIZE // 8))[:_SIZE],
}
FUNCTIONS: dict[str, Callable[[str], object]] = {
    "normalize": normalize_text,
    "normalize-de": lambda text: normalize_text(text, language="de"),
    "split": split_sentences,
    "chunk": chunk_text,
}


@pytest.mark.parametrize("function", list(FUNCTIONS))
@pytest.mark.parametrize("case", list(ADVERSARIAL))
def test_adversarial_input_is_fast(case: str, function: str) -> None:
    text = ADVERSARIAL[case]
    started = time.perf_counter()
    FUNCTIONS[function](text)
    assert time.perf_counter() - started < _LIMIT_S


def test_random_input_never_raises() -> None:
    rng = random.Random(1234)
    pieces = [
        " ",
        "\n",
        "1",
        "12",
        "2025",
        "0",
        "a",
        "A",
        "I",
        "IV",
        ".",
        ",",
        "-",
        "/",
        ":",
        "$",
        "%",
        "*",
        "_",
        "#",
        "<",
        ">",
        "[",
        "]",
        "(",
        ")",
        "|",
        "@",
        "'",
        "am",
        "p.m.",
        "th",
        "St.",
        "Dr.",
        "e.g.",
        "U.S.",
        "http://",
        "www.",
        ".com",
        "Jan",
        "October",
        "1st",
        "10:",
        "~",
        "=",
        "&",
        "+",
        "°C",
        "–",
        "…",
        '"',
        "`",
        "!",
        "?",
        "**",
        "¢",
        "€",
        "£",
        "¥",
        "k",
        "M",
        "½",
        "King",
        "Henry",
        "VIII",
        "Monday",
        "-5",
        "3.14",
        "1,234",
        "555-123-4567",
        "+44",
        "👍🏽",
        "\u200d",
        "\ufe0f",
        "مرحبا",
        "שלום",
        "\x00",
        "\ud800",
        "\U0010ffff",
        "<b>",
        "<!--",
        "```",
        "# ",
        "> ",
        "- ",
        "\t",
        "\r\n",
        "ß",
        "İ",
        "ﬁ",
        "١٢٣",
        "²",
        "Ⅻ",
    ]
    for _ in range(3000):
        if rng.random() < 0.3:
            text = "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(0, 30)))
        else:
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        for language in ("en", "de", "ar", "zz"):
            normalized = normalize_text(text, language=language)
            assert isinstance(normalized, str)
            assert "\x00" not in normalized
            split_sentences(normalized)
        chunk_text(normalize_text(text), first_chunk_chars=rng.randint(1, 40), max_chunk_chars=80)


def test_normalized_text_has_no_control_or_emoji_characters() -> None:
    rng = random.Random(7)
    for _ in range(200):
        normalized = normalize_text(_random_unicode(rng, 200))
        assert not any(ord(ch) < 32 and ch != "\n" for ch in normalized)
        assert not any(0x1F300 <= ord(ch) <= 0x1FAFF for ch in normalized)
