"""Spoken English forms of numbers and letters (US style: no "and" inside cardinals)."""

from __future__ import annotations

from speaker.text.patterns import words_of

_ONES = words_of(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = words_of("_ _ twenty thirty forty fifty sixty seventy eighty ninety")
_SCALES = words_of(
    "_ thousand million billion trillion quadrillion quintillion sextillion septillion "
    "octillion nonillion decillion"
)
_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
# Beyond decillion nobody says the number; such digit strings are read one digit at a time.
MAX_CARDINAL_DIGITS = 36
_DIGIT_WORDS = {str(i): _ONES[i] for i in range(10)}


def _under_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = []
    if hundreds:
        parts.append(f"{_ONES[hundreds]} hundred")
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        parts.append(f"{_TENS[tens]}-{_ONES[ones]}" if ones else _TENS[tens])
    elif rest:
        parts.append(_ONES[rest])
    return " ".join(parts)


def cardinal(n: int) -> str:
    """Spell an integer as US English words, e.g. 1234 -> "one thousand two hundred thirty-four"."""
    if n < 0:
        return f"minus {cardinal(-n)}"
    if n == 0:
        return "zero"
    if n >= 10**MAX_CARDINAL_DIGITS:
        return digits(str(n))
    groups = []
    scale = 0
    while n:
        n, group = divmod(n, 1000)
        if group:
            word = _under_thousand(group)
            groups.append(f"{word} {_SCALES[scale]}" if scale else word)
        scale += 1
    return " ".join(reversed(groups))


def digits(text: str) -> str:
    """Read every ASCII digit of ``text`` on its own ("407" -> "four zero seven")."""
    return " ".join(_DIGIT_WORDS[ch] for ch in text if ch in _DIGIT_WORDS)


def integer(text: str) -> str:
    """Read digits as a cardinal, or one by one when they have a leading zero or are huge."""
    text = text.replace(",", "")
    if not text.isdigit() or not text.isascii():
        return text
    if (len(text) > 1 and text[0] == "0") or len(text) > MAX_CARDINAL_DIGITS:
        return digits(text)
    return cardinal(int(text))


def number(text: str) -> str:
    """Read "1,234.56", ".5", "007" or "42" the way a person would."""
    whole, dot, frac = text.replace(",", "").partition(".")
    if not dot or not frac:
        return integer(whole)
    head = f"{integer(whole)} " if whole else ""
    return f"{head}point {digits(frac)}"


def _last_word_split(words: str) -> tuple[str, str]:
    cut = max(words.rfind(" "), words.rfind("-")) + 1
    return words[:cut], words[cut:]


def _ordinal_word(word: str) -> str:
    if word in _IRREGULAR_ORDINALS:
        return _IRREGULAR_ORDINALS[word]
    if word.endswith("y"):
        return f"{word[:-1]}ieth"
    return f"{word}th"


def ordinal(n: int) -> str:
    """Spell an ordinal, e.g. 22 -> "twenty-second"."""
    head, last = _last_word_split(cardinal(n))
    return head + _ordinal_word(last)


def plural(words: str) -> str:
    """Pluralise spelled-out number words ("ninety" -> "nineties", "six" -> "sixes")."""
    head, last = _last_word_split(words)
    if last.endswith("y"):
        return f"{head}{last[:-1]}ies"
    if last.endswith("x"):
        return f"{head}{last}es"
    return f"{head}{last}s"


def year(n: int) -> str:
    """Read a year: 1999 -> "nineteen ninety-nine", 2005 -> "two thousand five"."""
    if not 1010 <= n <= 9999 or 2000 <= n <= 2009:
        return cardinal(n)
    century, rest = divmod(n, 100)
    if rest == 0:
        return f"{cardinal(century)} hundred"
    if rest < 10:
        return f"{cardinal(century)} oh {_ONES[rest]}"
    return f"{cardinal(century)} {cardinal(rest)}"


def fraction(numerator: int, denominator: int) -> str:
    """Read a fraction: 1/2 -> "one half", 3/4 -> "three quarters", 7/8 -> "seven eighths"."""
    if denominator <= 1 or denominator > 100:
        return f"{cardinal(numerator)} over {cardinal(denominator)}"
    if denominator == 2:
        name = "half" if numerator == 1 else "halves"
    elif denominator == 4:
        name = "quarter" if numerator == 1 else "quarters"
    else:
        name = ordinal(denominator)
        if numerator != 1:
            name += "s"
    return f"{cardinal(numerator)} {name}"


def spell(letters: str) -> str:
    """Spell letters for espeak ("FBI" -> "F B I").

    espeak reads a lone "A" before another word as the article "uh", so an A is hyphen-joined to
    a neighbouring letter ("API" -> "A-P I", "USA" -> "U S-A"), which espeak reads as letter names.
    """
    chars = [ch.upper() for ch in letters if ch.isalpha()]
    tokens: list[str] = []
    join_next = False
    for i, ch in enumerate(chars):
        if join_next and tokens:
            tokens[-1] += f"-{ch}"
        elif ch == "A" and i == len(chars) - 1 and tokens:
            tokens[-1] += "-A"
        else:
            tokens.append(ch)
        join_next = ch == "A"
    return " ".join(tokens)
