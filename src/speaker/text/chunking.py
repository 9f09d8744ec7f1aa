"""Streaming chunker: a short first chunk for low latency, then chunks that grow."""

from __future__ import annotations

from dataclasses import dataclass

from speaker.text.sentences import split_sentences

_CLAUSE_MARKS = (", ", "; ", ": ")
# How many times the text before it a whole sentence may run over its chunk's budget, by default.
MAX_OVERSHOOT = 3.0
_DASHES = (" — ", " – ", " - ")


@dataclass(frozen=True, slots=True)
class TextChunk:
    """One piece of text to synthesise, in stream order."""

    index: int
    text: str


def _cut(text: str, start: int, limit: int, hard_limit: int) -> int:
    """Where to end a piece of ``text`` that begins at ``start`` and must stay near ``limit``.

    Prefers the last clause break (comma, semicolon, colon, dash) that leaves a piece of at least
    a third of ``limit``, then the last space; a first word longer than ``limit`` is kept whole
    up to ``hard_limit`` and only hard-split beyond it.
    """
    stop = start + limit + 1
    best = -1
    for mark in _CLAUSE_MARKS:
        found = text.rfind(mark, start, stop)
        if found != -1:
            best = max(best, found + 1)
    for dash in _DASHES:
        found = text.rfind(dash, start, stop)
        if found > start:
            best = max(best, found + len(dash) - 1)
    if best - start >= max(1, limit // 3):
        return best
    space = text.rfind(" ", start + 1, stop)
    if space != -1:
        return space
    space = text.find(" ", stop, start + hard_limit + 1)
    return space if space != -1 else min(len(text), start + hard_limit)


def _pieces(text: str, limit: int) -> list[str]:
    pieces = []
    start = 0
    while len(text) - start > limit:
        end = _cut(text, start, limit, limit)
        pieces.append(text[start:end].strip())
        start = end
        while start < len(text) and text[start] == " ":
            start += 1
    pieces.append(text[start:])
    return [piece for piece in pieces if piece]


def chunk_text(
    text: str,
    *,
    first_chunk_chars: int = 80,
    max_chunk_chars: int = 400,
    overshoot: float = MAX_OVERSHOOT,
) -> list[TextChunk]:
    """Split text into sentence-aligned chunks: a short first chunk, then growing budgets.

    A whole sentence may run over its chunk's budget up to `overshoot` times the text before it.
    """
    if first_chunk_chars < 1 or max_chunk_chars < first_chunk_chars:
        msg = "need 1 <= first_chunk_chars <= max_chunk_chars"
        raise ValueError(msg)
    sentences = split_sentences(text)
    if not sentences:
        return []
    first = sentences[0]
    rest = sentences[1:]
    end = (
        _cut(first, 0, first_chunk_chars, max_chunk_chars) if len(first) > first_chunk_chars else 0
    )
    # Cutting a sentence anywhere but at a clause break costs its intonation: a first sentence up
    # to twice the budget is kept whole rather than cut between two words.
    at_clause = first[:end].rstrip()[-1:] in ",;:—–-"
    if end and (at_clause or len(first) > min(2 * first_chunk_chars, max_chunk_chars)):
        chunks = [first[:end].strip()]
        rest.insert(0, first[end:].strip())
    elif end:
        chunks = [first]
    else:
        # Short opening sentences ("Hi!") travel together: a first chunk with too little audio
        # runs out before the second chunk can be synthesized.
        while rest and len(first) + 1 + len(rest[0]) <= first_chunk_chars:
            first = f"{first} {rest.pop(0)}"
        chunks = [first]
    # Each chunk may hold about as much text as all chunks before it: its synthesis then takes
    # less time than playing the audio already sent, so a listener never waits for it. A whole
    # sentence may overshoot that budget up to `overshoot` times the text before it; a longer one
    # is cut (at a clause break where it can be, leaving no scrap of a tail), or "Good morning!"
    # would have to cover a long second sentence's synthesis with half a second of audio.
    spoken = len(chunks[0])
    budget = first_chunk_chars
    current: list[str] = []
    size = 0
    for sentence in rest:
        for whole in _pieces(sentence, max_chunk_chars):
            piece = whole
            while piece:
                if current and size + 1 + len(piece) > budget:
                    chunks.append(" ".join(current))
                    spoken += size
                    current, size = [], 0
                if not current:
                    budget = min(max(spoken, first_chunk_chars), max_chunk_chars)
                    if len(piece) > max(budget, overshoot * spoken):
                        limit = min(budget, len(piece) - budget // 3)
                        end = _cut(piece, 0, limit, max_chunk_chars)
                        current, size = [piece[:end].strip()], len(piece[:end].strip())
                        piece = piece[end:].strip()
                        continue
                current.append(piece)
                size += len(piece) + (1 if size else 0)
                piece = ""
    if current:
        chunks.append(" ".join(current))
    return [TextChunk(index, chunk) for index, chunk in enumerate(c for c in chunks if c)]
