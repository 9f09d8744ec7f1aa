"""URLs, e-mail addresses and phone numbers, read the way people say them."""

from __future__ import annotations

import re

from speaker.text.words import digits, spell

_TLDS = (
    "com|org|net|io|dev|ai|edu|gov|co|uk|us|ca|de|fr|eu|app|info|biz|me|tv|ly|gg|xyz|tech|"
    "blog|site|online|cloud|ru|jp|cn|in|au|nl|es|it|ch|se|no"
)
_SPELLED_LABELS = {"io", "ai", "edu", "uk", "us", "ca", "de", "fr", "eu", "tv", "ly", "gg", "jp"}
_SPELLED_LABELS |= {"cn", "au", "nl", "es", "ch", "se", "xyz"}
_EMAIL = re.compile(
    r"(?<![\w.+-])(?P<user>[A-Za-z0-9._%+-]{1,64})@"
    r"(?P<domain>[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8})(?![\w-])"
)
_URL = re.compile(
    r"(?i)(?<![\w@/.])(?:(?:https?|ftp)://|www\.)[^\s<>\"'\[\]{}|\\^`]{1,2000}"
    rf"|(?<![\w@/.-])(?:[a-z0-9-]{{1,63}}\.){{1,5}}(?:{_TLDS})(?![\w-])"
    r"(?:[:/][^\s<>\"'\[\]{}|\\^`]{0,2000})?"
)
_SCHEME = re.compile(r"(?i)^(?:(?:https?|ftp)://)?(?:www\.)?")
_TRAILING = ".,;:!?)]'\"”’"
_PART_SEPARATORS = {".": " dot ", "-": " dash ", "_": " underscore ", "+": " plus ", ":": " colon "}
_PART_SPLIT = re.compile(r"([.\-_+:])")
_JUNK = re.compile(r"[^\w\s-]+")

_PHONE_NANP = re.compile(
    r"(?<![\w+])(?:(?P<cc>\+?1)[ .-]?)?(?:\((?P<a1>[0-9]{3})\) ?|(?P<a2>[0-9]{3})[ .-])"
    r"(?P<b>[0-9]{3})[ .-](?P<c>[0-9]{4})(?![\w])"
)
_PHONE_INTL = re.compile(
    r"(?<![\w+])\+(?P<cc>[0-9]{1,3})(?P<rest>(?:[ .-][0-9]{1,4}){2,6})(?![\w])"
)
_PHONE_E164 = re.compile(r"(?<![\w+])\+(?P<num>[0-9]{8,15})(?![\w])")
_PHONE_GROUP = re.compile(r"[0-9]+")


def _read_part(part: str) -> str:
    pieces = []
    for piece in _PART_SPLIT.split(part):
        if piece in _PART_SEPARATORS:
            pieces.append(_PART_SEPARATORS[piece])
        elif piece.lower() in _SPELLED_LABELS:
            pieces.append(spell(piece))
        else:
            pieces.append(_JUNK.sub(" ", piece))
    return "".join(pieces)


def _read_url(match: re.Match[str]) -> str:
    url = match.group()
    body = url.rstrip(_TRAILING)
    tail = url[len(body) :]
    # People skip the scheme, "www", query strings and fragments when reading a link aloud.
    body = _SCHEME.sub("", body).split("?", 1)[0].split("#", 1)[0].rstrip("/")
    spoken = " slash ".join(_read_part(part) for part in body.split("/") if part)
    return f"{spoken}{tail}" if spoken else tail


def _read_email(match: re.Match[str]) -> str:
    return f"{_read_part(match.group('user'))} at {_read_part(match.group('domain'))}"


def _read_groups(*groups: str) -> str:
    return ", ".join(digits(group) for group in groups if group)


def _read_nanp(match: re.Match[str]) -> str:
    code = match.group("cc")
    prefix = "plus one, " if code == "+1" else ("one, " if code else "")
    area = match.group("a1") or match.group("a2")
    return prefix + _read_groups(area, match.group("b"), match.group("c"))


def _read_intl(match: re.Match[str]) -> str:
    groups = _PHONE_GROUP.findall(match.group("rest"))
    return f"plus {_read_groups(match.group('cc'), *groups)}"


def _read_e164(match: re.Match[str]) -> str:
    return f"plus {digits(match.group('num'))}"


def expand_web(text: str) -> str:
    """Read e-mail addresses and URLs: "a.b@x.org" -> "a dot b at x dot org"."""
    text = _EMAIL.sub(_read_email, text)
    return _URL.sub(_read_url, text)


def expand_phones(text: str) -> str:
    """Read phone numbers digit by digit in their groups: "(555) 123-4567"."""
    text = _PHONE_NANP.sub(_read_nanp, text)
    text = _PHONE_INTL.sub(_read_intl, text)
    return _PHONE_E164.sub(_read_e164, text)
