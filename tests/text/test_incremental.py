"""Sentences from text that arrives in pieces."""

from __future__ import annotations

from speaker.text.incremental import SentenceBuffer


def _feed_tokens(buffer: SentenceBuffer, text: str, size: int) -> list[str]:
    out: list[str] = []
    for i in range(0, len(text), size):
        out.extend(buffer.feed(text[i : i + size]))
    return out


def test_sentences_come_out_when_complete() -> None:
    buffer = SentenceBuffer()
    assert buffer.feed("Hello there") == []
    assert buffer.feed(". How are") == ["Hello there."]
    assert buffer.feed(" you? I am") == ["How are you?"]
    assert buffer.pending == "I am"
    assert buffer.flush() == ["I am"]
    assert buffer.pending == ""


def test_abbreviation_at_the_end_waits_for_more() -> None:
    buffer = SentenceBuffer()
    assert buffer.feed("I met Dr. ") == []
    assert buffer.feed("Rivera at 3") == []
    assert buffer.feed(".") == []
    assert buffer.feed("14 pm today. Then") == ["I met Dr. Rivera at 3.14 pm today."]


def test_token_sized_pieces_give_the_same_sentences_as_whole_text() -> None:
    text = (
        "The U.S. team won. Prof. Smith said \u201cwell done.\u201d It cost $4.50, or so! "
        "Was it 10 a.m. or noon? Nobody knows. Last words"
    )
    for size in (1, 2, 3, 5, 8):
        buffer = SentenceBuffer()
        pieces = _feed_tokens(buffer, text, size) + buffer.flush()
        whole = SentenceBuffer()
        assert pieces == whole.feed(text) + whole.flush(), size


def test_runaway_text_without_punctuation_is_released() -> None:
    buffer = SentenceBuffer(max_pending_chars=50)
    out = _feed_tokens(buffer, "word " * 30, 5)
    assert out
    assert " ".join(out + buffer.flush()).split() == ["word"] * 30
