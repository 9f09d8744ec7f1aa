"""Text front end: normalisation, sentence splitting and streaming chunking."""

from speaker.text.chunking import TextChunk, chunk_text
from speaker.text.normalize import normalize_text
from speaker.text.sentences import split_sentences

__all__ = ["TextChunk", "chunk_text", "normalize_text", "split_sentences"]
