"""Language-neutral cleanup: markup, emoji and control characters out, whitespace tidied."""

from __future__ import annotations

import html
import re
import unicodedata

# Emoji are dropped, not spelled out: pictograph blocks (incl. regional-indicator flags and
# skin tones), dingbats, emoji-style arrows and shapes, tag characters (subdivision flags),
# joiners, variation selectors and keycap marks, plus private-use icon-font glyphs.
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"
    "\u2600-\u27bf"
    "\u2b00-\u2bff"
    "\u2300-\u23ff"
    "\u25a0-\u25ff"
    "\u2194-\u2199\u21a9\u21aa\u2934\u2935"
    "\u3030\u303d\u3297\u3299\u24c2\u2122\u2139\u00ae"
    "\U000e0000-\U000e007f"
    "\u200d\ufe0e\ufe0f\u20e3"
    "\ue000-\uf8ff\U000f0000-\U0010ffff"
    "]+"
)
# Controls, lone surrogates and invisible format characters (bidi marks, soft hyphen, BOM).
# ZWNJ (U+200C) stays: Persian and Indic spelling depends on it.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u061c\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]+"
)
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}

_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^<>\s]{1,2000}|[^<>@\s]{1,64}@[^<>@\s]{1,255})>")
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,1000}>|<![A-Za-z][^<>]{0,1000}>")
_BLOCK_TAG = re.compile(
    r"(?i)</?(?:p|div|br|li|ul|ol|h[1-6]|tr|table|blockquote|pre)\b[^<>]{0,1000}>"
)
_IMAGE_OR_LINK = re.compile(r"!?\[([^\[\]\n]{0,500})\](?:\([^()\n]{0,2000}\)|\[[^\[\]\n]{0,200}\])")
_FENCE = re.compile(r"(?m)^[ \t]*(?:```|~~~)[^\n]*$")
_HEADING = re.compile(r"(?m)^[ \t]{0,3}#{1,6}(?:[ \t]+|$)")
_HEADING_TAIL = re.compile(r"(?m)(?<![ \t])[ \t]++#{1,6}[ \t]*$")
_RULE = re.compile(r"(?m)^[ \t]*(?:[-*_=][ \t]*){3,}$")
_QUOTE = re.compile(r"(?m)^[ \t]*(?:>[ \t]?)+")
_BULLET = re.compile(r"(?m)^[ \t]*(?:[-*+•‣◦·]|[0-9]{1,3}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
_TABLE_RULE = re.compile(r"(?m)^[ \t]*+\|?(?:[ \t]*+:?-++:?[ \t]*+\|)++(?:[ \t]*+:?-++:?[ \t]*+)?$")
# Emphasis markers: "*" and "_" touching a word on one side only; "5 * 3" keeps its star.
_EMPHASIS = re.compile(
    r"(?<![\w*])[*_]++(?=[^\s*_])|(?<=[^\s*_])[*_]++(?![\w*])|\*\*++|~~|`+|(?<!\w)_++|_++(?!\w)"
)
# A star next to a number is multiplication ("5 * 3"); any other leftover star is markup.
_LONE_STAR = re.compile(r"(?<![0-9] )(?<![0-9])\*(?![ ]?[0-9])")
_PIPES = re.compile(r"(?<![ \t])[ \t]*+\|[ \t]*")
_SPACES = re.compile(r"[^\S\n]+")
_SPACE_BEFORE_PUNCT = re.compile(r" (?=[,.;:!?)\]}])")
_SPACE_AFTER_OPEN = re.compile(r"(?<=[(\[{]) ")
_REPEATED_COMMAS = re.compile(r",(?:[ ]?,)++")
_DOTS = re.compile(r"\.{4,}")
_BANGS = re.compile(r"([!?])[!?]++")
# Long runs of one symbol ("$$$$", "<<<<", "####") are decoration, never read symbol by symbol.
_SYMBOL_RUN = re.compile(r"([^\w\s.])\1{3,}+")
_LEADING_PUNCT = re.compile(r"^[\s,;:]+")
_CLOSERS = "\"'”’)]}»"
_TERMINALS = ".!?…"
# Marks a line that must stay a line of its own (list item, heading, table row) even when it
# starts with a lower-case letter; control characters are gone by the time it is inserted.
_HARD = "\x01"
_TABLE_ROW = re.compile(r"(?m)^[ \t]*\|")
_TABLE_ROW_END = re.compile(r"(?m)(?<![ \t])[ \t]*+\|[ \t]*$")


def _strip_comments(text: str) -> str:
    # A loop with str.find instead of a lazy regex: many unclosed "<!--" would be quadratic.
    out = []
    pos = 0
    while (start := text.find("<!--", pos)) != -1:
        end = text.find("-->", start + 4)
        if end == -1:
            break
        out.append(text[pos:start])
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


def strip_markup(text: str) -> str:
    """Remove HTML/XML tags, entities and Markdown syntax, keeping the readable text."""
    text = _strip_comments(text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _BLOCK_TAG.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _IMAGE_OR_LINK.sub(r"\1", text)
    text = _FENCE.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = _RULE.sub("", text)
    text = _HEADING.sub(_HARD, text)
    text = _HEADING_TAIL.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub(_HARD, text)
    text = _TABLE_ROW.sub(_HARD, text)
    text = _TABLE_ROW_END.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _LONE_STAR.sub(" ", text)
    return _PIPES.sub(", ", text)


def strip_symbols(text: str) -> str:
    """Remove emoji, control and invisible characters; unify line breaks and full-width ASCII."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    text = text.replace("‼", "!").replace("⁉", "?")
    text = _EMOJI.sub(" ", text)
    return unicodedata.normalize("NFC", text.translate(_FULLWIDTH))


def _tidy_line(line: str) -> str:
    line = _SPACES.sub(" ", line).strip()
    line = _SPACE_BEFORE_PUNCT.sub("", line)
    line = _SPACE_AFTER_OPEN.sub("", line)
    line = _REPEATED_COMMAS.sub(",", line)
    line = _DOTS.sub("...", line)
    line = _BANGS.sub(r"\1", line)
    line = _SYMBOL_RUN.sub(r"\1", line)
    return _LEADING_PUNCT.sub("", line).strip()


def tidy_whitespace(text: str) -> str:
    """Collapse spaces, re-join soft-wrapped lines, and end every kept line with punctuation.

    A line break followed by a lower-case letter is a soft wrap. Any other line break is kept, and
    a line (heading, list item, table row) that ends without punctuation gets a period so the
    voice pauses there instead of running it into the next line.
    """
    out: list[str] = []
    hard = True
    for raw in text.split("\n"):
        hard = hard or _HARD in raw
        line = _tidy_line(raw.replace(_HARD, ""))
        if not line:
            hard = True
            continue
        if out and not hard and line[0].islower():
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
        hard = False
    if len(out) > 1:
        out = [_close_line(line) for line in out[:-1]] + [out[-1]]
    return "\n".join(out)


def _close_line(line: str) -> str:
    body = line.rstrip(_CLOSERS)
    if not body or body[-1] in _TERMINALS:
        return line
    if body[-1] in ",;:" and body == line:
        return f"{line[:-1]}."
    return f"{line}."


def tidy_lines(text: str) -> str:
    """Collapse the spaces that expansions left behind, line by line."""
    return "\n".join(line for line in (_tidy_line(raw) for raw in text.split("\n")) if line)


def clean(text: str) -> str:
    """Run all language-neutral cleanup: symbols, markup and whitespace."""
    return tidy_whitespace(strip_markup(strip_symbols(text)))
