"""Abbreviations, titles, initials and acronyms.

espeak ends a sentence at every period followed by a space, so an abbreviation's dot is dropped
unless the abbreviation also ends the sentence ("… and so on, etc. Then …").
"""

from __future__ import annotations

import re
from enum import Enum

from speaker.text.patterns import ends_sentence, next_word, words_of
from speaker.text.words import spell


class _Kind(Enum):
    PREFIX = "prefix"  # precedes a name or noun, never ends a sentence: "Dr. Rivera"
    TERMINAL = "terminal"  # may end a sentence: "Acme Inc."
    NUMERIC = "numeric"  # only an abbreviation before a number: "No. 5", "p. 12"


_P, _T, _N = _Kind.PREFIX, _Kind.TERMINAL, _Kind.NUMERIC
_ABBREVIATIONS: dict[str, tuple[str, _Kind]] = {
    "Mr": ("Mister", _P),
    "Mrs": ("Missus", _P),
    "Ms": ("Miz", _P),
    "Prof": ("Professor", _P),
    "Gen": ("General", _P),
    "Capt": ("Captain", _P),
    "Sen": ("Senator", _P),
    "Rep": ("Representative", _P),
    "Gov": ("Governor", _P),
    "Rev": ("Reverend", _P),
    "Sgt": ("Sergeant", _P),
    "Lt": ("Lieutenant", _P),
    "Col": ("Colonel", _P),
    "Hon": ("Honorable", _P),
    "Pres": ("President", _P),
    "Mt": ("Mount", _P),
    "Ft": ("Fort", _P),
    "vs": ("versus", _P),
    "Vs": ("Versus", _P),
    "approx": ("approximately", _P),
    "Approx": ("Approximately", _P),
    "cf": ("compare", _P),
    "Fig": ("Figure", _P),
    "Vol": ("Volume", _P),
    "Ch": ("Chapter", _P),
    "Apt": ("Apartment", _P),
    "Ste": ("Suite", _P),
    "etc": ("et cetera", _T),
    "Inc": ("Incorporated", _T),
    "Ltd": ("Limited", _T),
    "Co": ("Company", _T),
    "Corp": ("Corporation", _T),
    "Bros": ("Brothers", _T),
    "Jr": ("Junior", _T),
    "Sr": ("Senior", _T),
    "Ave": ("Avenue", _T),
    "Blvd": ("Boulevard", _T),
    "Rd": ("Road", _T),
    "Ln": ("Lane", _T),
    "Hwy": ("Highway", _T),
    "Dept": ("Department", _T),
    "Univ": ("University", _T),
    "Jan": ("January", _T),
    "Feb": ("February", _T),
    "Aug": ("August", _T),
    "Sept": ("September", _T),
    "Oct": ("October", _T),
    "Nov": ("November", _T),
    "Dec": ("December", _T),
    "No": ("number", _N),
    "no": ("number", _N),
    "Nos": ("numbers", _N),
    "p": ("page", _N),
    "pp": ("pages", _N),
    "ca": ("circa", _N),
    "est": ("established", _N),
    "Est": ("Established", _N),
    "ext": ("extension", _N),
}
_SPECIAL = ("Dr", "St")
_KEYS = sorted([*_ABBREVIATIONS, *_SPECIAL], key=len, reverse=True)
_ABBREVIATION = re.compile(r"(?<![\w.])(?P<w>" + "|".join(_KEYS) + r")\.(?![\w])")
_UNDOTTED = re.compile(r"\b(?P<w>Mr|Mrs|Ms|Dr)(?= [A-Z])|\b(?P<vs>vs|etc)\b(?!\.)")
_UNDOTTED_WORDS = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor"}
_UNDOTTED_WORDS |= {"vs": "versus", "etc": "et cetera"}
_DOTTED_WORDS = {
    "e.g.": ("for example", _P),
    "i.e.": ("that is", _P),
    "a.k.a.": ("also known as", _P),
    "a.m.": ("A-M", _T),
    "p.m.": ("P M", _T),
    "Ph.D.": ("P H D", _T),
    "et al.": ("et al", _T),
}
_DOTTED = re.compile(r"(?<![\w.])(?P<abbr>Ph\.D\.|et al\.|(?:[A-Za-z]\.){2,6})(?![\w])")
_INITIAL = re.compile(r"(?<![\w.])(?P<letter>[A-Z])\.(?= [A-Z])")
_PREVIOUS_TOKEN = re.compile(r"\S{1,40}$")
_SENTENCE_END = '.!?…"”’)'


def _previous_token(text: str, start: int) -> tuple[str, bool]:
    """The token before ``start`` and whether that token itself starts a sentence."""
    if start < 2 or text[start - 1] != " ":
        return "", True
    match = _PREVIOUS_TOKEN.search(text, max(0, start - 41), start - 1)
    if match is None:
        return "", True
    begin = match.start()
    initial = (
        begin == 0
        or text[begin - 1] == "\n"
        or (begin >= 2 and text[begin - 1] == " " and text[begin - 2] in _SENTENCE_END)
    )
    return match.group(), initial


def _is_name_like(token: str, initial: bool) -> bool:
    return bool(token) and (token[0].isdigit() or (token[0].isupper() and not initial))


def _saint_or_street(text: str, start: int, following: str) -> tuple[str, _Kind]:
    token, initial = _previous_token(text, start)
    if not _is_name_like(token, initial) and following[:1].isupper():
        return "Saint", _P
    return "Street", _T


def _doctor_or_drive(text: str, start: int) -> tuple[str, _Kind]:
    token, initial = _previous_token(text, start)
    if _is_name_like(token, initial) and not token[0].isdigit():
        return "Drive", _T
    return "Doctor", _P


def _with_period(match: re.Match[str], spoken: str, kind: _Kind) -> str:
    if kind is _Kind.TERMINAL and ends_sentence(match.string, match.end()):
        return f"{spoken}."
    return spoken


def _abbreviation(match: re.Match[str]) -> str:
    word = match.group("w")
    text = match.string
    following = next_word(text, match.end())
    if word == "St":
        spoken, kind = _saint_or_street(text, match.start(), following)
    elif word == "Dr":
        spoken, kind = _doctor_or_drive(text, match.start())
    else:
        spoken, kind = _ABBREVIATIONS[word]
    if kind is _Kind.NUMERIC and not following[:1].isdigit():
        return match.group()
    return _with_period(match, spoken, kind)


def _undotted(match: re.Match[str]) -> str:
    return _UNDOTTED_WORDS[match.group("w") or match.group("vs")]


def _dotted(match: re.Match[str]) -> str:
    abbr = match.group("abbr")
    if abbr in _DOTTED_WORDS:
        spoken, kind = _DOTTED_WORDS[abbr]
        return _with_period(match, spoken, kind)
    spoken = spell(abbr)
    # "the U.S. Army" continues the sentence; "moved to the U.S." at a line end finishes it.
    following = next_word(match.string, match.end())
    if abbr.isupper() and following[:1].isupper():
        return spoken
    return _with_period(match, spoken, _Kind.TERMINAL)


def _initial(match: re.Match[str]) -> str:
    token, _ = _previous_token(match.string, match.start())
    start = match.start()
    at_line_start = start == 0 or match.string[start - 1] == "\n"
    # After a name ("John F. Kennedy") or another initial ("J. R. R."), the dot is an initial's.
    # After a bare capital letter it ends a spelled-out run ("six P M. Bring…"): a sentence end.
    if at_line_start or (token[:1].isupper() and len(token) > 1):
        return match.group("letter")
    return match.group()


def expand_abbreviations(text: str) -> str:
    """Expand titles and abbreviations ("Dr. Rivera" -> "Doctor Rivera", "U.S." -> "U S")."""
    text = _DOTTED.sub(_dotted, text)
    text = _ABBREVIATION.sub(_abbreviation, text)
    text = _UNDOTTED.sub(_undotted, text)
    return _INITIAL.sub(_initial, text)


# --- acronyms ---------------------------------------------------------------------------------
# Acronyms said as words; any other all-caps token is judged by _pronounceable.
_WORD_ACRONYMS = frozenset(
    words_of(
        "NASA NATO UNESCO UNICEF SCUBA LASER RADAR SONAR AIDS OPEC FIFA UEFA NAFTA PIN RAM ROM "
        "GIF JPEG CAPTCHA COVID NIMBY YOLO FOMO SWAT IKEA LEGO ASCII POTUS SCOTUS FLOTUS FEMA "
        "OSHA DARPA INTERPOL CERN NASDAQ SARS MERS TOEFL ZIP TASER JSON GUI SIM LAN WAN DOS RAID "
        "MIDI TED ISIS NORAD LIDAR AWOL DEFCON WYSIWYG NVIDIA UNIX LINUX WIFI ESPN ASAP GIFs"
    )
)
# Short words people write in capitals for emphasis ("I am SO happy"): read as words.
_EMPHASIS_WORDS = frozenset(
    words_of(
        "A I SO NO NOT YES ALL AND BUT THE ARE WAS WERE HAS HAD CAN DID GET GOT HIM HER HIS SHE "
        "HE WE ME MY OF ON TO DO GO BE BY AN AS IF UP OH OUT OFF NEW OLD TOP WIN FUN LOT OUR "
        "ONE TWO TEN SIX WHY HOW WOW YAY YEP TOO NOW WAY YOU BIG BAD SAD MAD HOT FOR ANY MUST"
    )
)
# Real words that are also common acronyms: words only when the whole phrase is in capitals.
_AMBIGUOUS_WORDS = frozenset(words_of("IT US WHO AM IS IN OR AT HI ME OK"))
_ONSETS = frozenset(
    words_of(
        "BL BR CH CL CR DR DW FL FR GH GL GN GR KN KR PH PL PR PS QU SC SCH SCR SH SHR SK SL SM "
        "SN SP SPL SPR SQU ST STR SW TH THR TR TW WH WR"
    )
)
_VOWELS = frozenset("AEIOUY")
_ACRONYM = re.compile(r"(?<![\w'’])(?P<w>[A-Z]{2,}+)(?P<s>s|['’]s)?(?![\w'’])")
_CAPS_TOKEN = re.compile(r"[A-Z]{2,}[^\w\s]?$")


def _pronounceable(word: str) -> bool:
    consonants = vowels = 0
    onset_done = False
    onset = ""
    for index, char in enumerate(word):
        is_vowel = char in _VOWELS and not (char == "Y" and index == 0)
        if is_vowel:
            vowels += 1
            consonants = 0
            onset_done = True
        else:
            consonants += 1
            vowels = 0
            if not onset_done:
                onset += char
        if vowels > 2 or consonants > 3:
            return False
    coda = word[len(word) - consonants :] if consonants else ""
    return onset_done and (len(onset) < 2 or onset in _ONSETS) and _valid_coda(coda)


def _valid_coda(coda: str) -> bool:
    # Three-consonant endings need a liquid or nasal first ("WORLD", "HINTS") or an "H"
    # ("MATCH", "NIGHT"); "ISBN" fails and is spelled.
    return len(coda) < 3 or coda[0] in "LRNM" or "H" in coda


def _is_cvc(word: str) -> bool:
    return (
        len(word) == 3
        and word[0] not in _VOWELS
        and word[1] in _VOWELS
        and word[2] not in _VOWELS - {"Y"}
    )


def _in_caps_phrase(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 30) : start].rstrip(" ,").rsplit(" ", 1)[-1]
    after = text[end : end + 30].lstrip(" ,").split(" ", 1)[0]
    return bool(_CAPS_TOKEN.match(before) or _CAPS_TOKEN.match(after))


def _acronym(match: re.Match[str]) -> str:
    word, suffix = match.group("w"), match.group("s") or ""
    if word in _WORD_ACRONYMS:
        return match.group()
    if word == "OK" and not suffix:
        return "okay"
    if word in _EMPHASIS_WORDS and not suffix:
        return word.lower()
    if word in _AMBIGUOUS_WORDS and not suffix and _in_caps_phrase(match.string, *match.span()):
        return word.lower()
    if len(word) >= 4 and _pronounceable(word):
        return match.group()
    # Three-letter acronyms are usually spelled ("GOP", "SUV"), but in an all-caps phrase a
    # consonant-vowel-consonant token is an ordinary word ("MIX IT UP").
    if _is_cvc(word) and not suffix and _in_caps_phrase(match.string, *match.span()):
        return match.group()
    return spell(word) + ("'s" if suffix else "")


def expand_acronyms(text: str) -> str:
    """Spell unpronounceable capitals ("FBI" -> "F B I"); keep words like "NASA" or "HELLO"."""
    return _ACRONYM.sub(_acronym, text)
