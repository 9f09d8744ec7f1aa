"""Roman numerals, converted only where the context says they are numbers."""

from __future__ import annotations

import re

from speaker.text.patterns import words_of
from speaker.text.words import cardinal, ordinal

_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
# Bounded and strictly ordered, so it only accepts canonical numerals and cannot backtrack far.
_NUMERAL = r"(?=[IVXLCDM])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_SMALL_NUMERAL = r"(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})"
_TITLES = "King|Queen|Pope|Emperor|Empress|Tsar|Czar|Tsarina|Kaiser|Pharaoh|Sultan|Prince|Princess"
_TITLES += "|Duke|Duchess|Grand Duke|Saint"
# Monarchs and popes; "Mary I love you" is why a bare "I" also needs a title or punctuation.
_REGNAL = frozenset(
    words_of(
        "Henry Edward Elizabeth George William Richard Charles James John Louis Philip Mary Anne "
        "Victoria Frederick Alexander Nicholas Peter Catherine Ivan Paul Benedict Pius Leo "
        "Gregory Innocent Clement Urban Boniface Francis Ferdinand Alfonso Carlos Felipe "
        "Gustav Gustavus Wilhelm Otto Ludwig Franz Karl Umberto Pedro Manuel Harold Stephen "
        "Malcolm David Robert Ramesses Rameses Amenhotep Thutmose Tutankhamun Constantine "
        "Justinian Mehmed Suleiman Selim Murad Napoleon Rama Kamehameha Haakon Olav Harald "
        "Christian Frederik Margrethe Sancho Juan Leopold Albert Baudouin Willem Hirohito"
    )
)
_CARDINAL_KEYWORDS = {
    "War": "War",
    "Chapter": "Chapter",
    "Ch.": "Chapter",
    "Part": "Part",
    "Pt.": "Part",
    "Book": "Book",
    "Volume": "Volume",
    "Vol.": "Volume",
    "Act": "Act",
    "Scene": "Scene",
    "Episode": "Episode",
    "Phase": "Phase",
    "Stage": "Stage",
    "Level": "Level",
    "Type": "Type",
    "Class": "Class",
    "Section": "Section",
    "Article": "Article",
    "Appendix": "Appendix",
    "Bowl": "Bowl",
    "Title": "Title",
    "Mark": "Mark",
    "Apollo": "Apollo",
    "Vatican": "Vatican",
    "Round": "Round",
    "Season": "Season",
    "Series": "Series",
    "Category": "Category",
    "Tier": "Tier",
    "Psalm": "Psalm",
    "Canto": "Canto",
    "Division": "Division",
    "Grade": "Grade",
}
_KEYWORD = "|".join(re.escape(word) for word in _CARDINAL_KEYWORDS)
_REGNAL_RE = re.compile(
    rf"\b(?:(?P<title>{_TITLES}) )?(?P<name>John Paul|[A-Z][a-z]{{1,20}}) "
    rf"(?P<num>{_NUMERAL})(?P<poss>['’]s)?(?![\w'’])"
)
_KEYWORD_RE = re.compile(rf"(?<![\w.])(?P<kw>{_KEYWORD}) (?P<num>{_NUMERAL})(?![\w'’])")
_AFTER_NAME_RE = re.compile(
    rf"\b(?P<word>[A-Z][a-z]{{1,20}}) (?P<num>{_SMALL_NUMERAL})(?P<poss>['’]s)?(?![\w'’])"
)
_MAX_REGNAL = 40


def roman_value(numeral: str) -> int:
    """Value of a canonical Roman numeral ("XIV" -> 14); 0 for an empty string."""
    total = 0
    for here, after in zip(numeral, [*numeral[1:], ""], strict=True):
        value = _VALUES[here]
        total += -value if after and _VALUES[after] > value else value
    return total


def _regnal(match: re.Match[str]) -> str:
    title, name, numeral = match.group("title"), match.group("name"), match.group("num")
    value = roman_value(numeral)
    if not title and name.split(" ", 1)[0] not in _REGNAL:
        return match.group()
    if not 1 <= value <= _MAX_REGNAL:
        return match.group()
    # A bare "I" followed by another word is usually the pronoun ("Mary I love you").
    following = match.string[match.end() : match.end() + 1]
    if numeral == "I" and not title and not match.group("poss") and following == " ":
        return match.group()
    prefix = f"{title} " if title else ""
    return f"{prefix}{name} the {ordinal(value)}{match.group('poss') or ''}"


def _keyword(match: re.Match[str]) -> str:
    value = roman_value(match.group("num"))
    return f"{_CARDINAL_KEYWORDS[match.group('kw')]} {cardinal(value)}"


def _after_name(match: re.Match[str]) -> str:
    numeral = match.group("num")
    if len(numeral) < 2:
        return match.group()
    spoken = f"{match.group('word')} {cardinal(roman_value(numeral))}"
    return spoken + (match.group("poss") or "")


def expand_roman(text: str) -> str:
    """Read Roman numerals in context: "Henry VIII" -> "Henry the eighth", "War II" -> "War two"."""
    text = _REGNAL_RE.sub(_regnal, text)
    text = _KEYWORD_RE.sub(_keyword, text)
    return _AFTER_NAME_RE.sub(_after_name, text)
