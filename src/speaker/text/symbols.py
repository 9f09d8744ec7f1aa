"""Symbols that espeak would read by name or skip: "&", "+", "=", "@", "#1", "~5"."""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\b(?P<note>[A-G])#(?![\w#])", r"\g<note> sharp"),
        (r"#(?=[0-9])", "number "),
        (r"(?<!#)#++(?=\w)", ""),
        (r" ?(?:->|→|⇒|=>) ?", " to "),
        (r" ?& ?", " and "),
        (r"(?<=[0-9]) ?[x×] ?(?=[0-9])", " by "),
        (r"(?<=[0-9])x(?![\w])", " times"),
        (r" ?[×*] ?", " times "),
        (r"(?<=[0-9])\^(?=[0-9])", " to the power of "),
        (r" ?\+ ?", " plus "),
        (r" ?≠ ?", " does not equal "),
        (r" ?(?:≤|<=) ?", " less than or equal to "),
        (r" ?(?:≥|>=) ?", " greater than or equal to "),
        (r" ?=+ ?", " equals "),
        (r" ?≈ ?", " approximately "),
        (r" ?± ?", " plus or minus "),
        (r" ?< ?", " less than "),
        (r" ?> ?", " greater than "),
        (r"~(?=[0-9])", "about "),
        (r"~", ""),
        (r" ?@ ?", " at "),
        (r" ?%", " percent"),
        (r" ?°", " degrees"),
        (r"§ ?", "section "),
        (r"[\\_]+", " "),
        (r"\band/or\b", "and or"),
        (r"\bw/o\b", "without"),
        (r"\bw/(?= )", "with"),
        (r"(?<=[a-z])/(?=[a-z])", " or "),
    )
)


def expand_symbols(text: str) -> str:
    """Replace symbols with the words a reader would say."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
