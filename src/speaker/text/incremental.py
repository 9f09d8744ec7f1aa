"""Sentences out of text that arrives piece by piece (an LLM's tokens, a WebSocket client)."""

from __future__ import annotations

from speaker.text.sentences import split_sentences


class SentenceBuffer:
    """Collects text and hands out each sentence once it is certainly complete."""

    def __init__(self, max_pending_chars: int = 600) -> None:
        self._pending = ""
        self._max_pending = max_pending_chars

    @property
    def pending(self) -> str:
        """Text received but not yet handed out."""
        return self._pending

    def feed(self, text: str) -> list[str]:
        """Add text; return the sentences it completed."""
        self._pending += text
        sentences = split_sentences(self._pending)
        if len(sentences) < 2 and len(self._pending) <= self._max_pending:
            return []
        if len(sentences[-1]) > self._max_pending:
            self._pending = ""
            return sentences
        # Whether the last sentence has ended is only known from the text after it: "Dr." or
        # "3." may still go on with "Rivera" or "14", so it waits for the next piece.
        trailing = self._pending[len(self._pending.rstrip()) :]
        self._pending = sentences[-1] + trailing
        return sentences[:-1]

    def flush(self) -> list[str]:
        """Hand out whatever is left, complete or not."""
        rest, self._pending = self._pending, ""
        return split_sentences(rest)
