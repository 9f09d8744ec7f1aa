"""Sentence splitting that knows about abbreviations, initials, decimals and soft line wraps."""

from __future__ import annotations

import re

from speaker.text.patterns import words_of

# A run of terminal punctuation (plus closing quotes/brackets) followed by whitespace or the end,
# or a bare line break. Possessive runs keep "......" or "a.a.a." linear.
_BOUNDARY = re.compile(
    r"(?P<end>[.!?…]++[\"'”’)\]}»]*+)(?P<space>\s++|$)|(?<![^\S\n])(?P<newline>[^\S\n]*+\n\s*+)"
)
_TOKEN_BEFORE = re.compile(r"\S{1,40}$")
_NEVER_SPLIT_AFTER = frozenset(
    words_of(
        "mr mrs ms dr prof st mt ft gen capt sen rep gov rev sgt lt col hon pres vs approx cf "
        "e.g i.e viz fig figs vol ch apt ste"
    )
)
# Only abbreviations before a number: "No. 5", "p. 12", "Oct. 15".
_BEFORE_NUMBER = frozenset(
    words_of("no nos p pp ca est ext jan feb mar apr jun jul aug sep sept oct nov dec")
)
_OPENERS = "\"'“‘([{«"
_DOTTED_CAPITALS = re.compile(r"(?:[A-Z]\.)+[A-Z]")


def _previous_token(text: str, end: int) -> str:
    match = _TOKEN_BEFORE.search(text, max(0, end - 40), end)
    return match.group().lstrip(_OPENERS) if match else ""


def _is_initial(text: str, token: str, token_start: int) -> bool:
    """A single capital like the "F" in "John F. Kennedy" or the "J" in "J. R. R. Tolkien"."""
    if len(token) != 1 or not token.isupper():
        return False
    if token_start < 2 or text[token_start - 1] == "\n":
        return True
    before = _previous_token(text, token_start - 1)
    return before[:1].isupper()


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    after = text[match.end() : match.end() + 1]
    if "\n" in match.group("space") and not after.islower():
        return True
    if after.islower():
        return False
    punctuation = match.group("end")
    if punctuation != ".":
        return True
    end = match.start("end")
    token = _previous_token(text, end)
    lowered = token.lower()
    if lowered in _NEVER_SPLIT_AFTER:
        return False
    if after.isdigit():
        return lowered not in _BEFORE_NUMBER
    if _is_initial(text, token, end - len(token)):
        return False
    return not (_DOTTED_CAPITALS.fullmatch(token) and after.isupper())


def split_sentences(text: str) -> list[str]:
    """Split text into sentences on . ! ? … and line breaks, keeping the punctuation."""
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group("newline") is not None:
            if text[match.end() : match.end() + 1].islower():
                continue
            piece, start = text[start : match.start()], match.end()
        elif _ends_sentence(text, match):
            piece, start = text[start : match.end("end")], match.end()
        else:
            continue
        words = piece.split()
        if words:
            sentences.append(" ".join(words))
    tail = text[start:].split()
    if tail:
        sentences.append(" ".join(tail))
    return sentences
