"""The synthesis each worker does once at start, before the server reports ready."""

from __future__ import annotations

from dataclasses import dataclass

# Ordinary prose with clause breaks and long words: phonemes of every common kind, and enough
# of it for a chunk of any budget the settings allow.
_PROSE = (
    "When the morning train was cancelled, the whole platform waited patiently for news; "
    "a conductor finally explained that a signal had failed near the river crossing, and that "
    "engineers were already repairing it. Most travellers decided to walk into town instead, "
    "talking about the weather, the football results and the unusually beautiful autumn colours "
    "along the way."
)


@dataclass(frozen=True)
class WarmupTask:
    """One synthesis every worker runs at start: an engine, a voice and the text to say."""

    engine: str
    voice_id: str
    text: str


def warmup_text(chars: int) -> str:
    """About `chars` characters of prose, ending at a word: the size of a full chunk."""
    text = _PROSE
    while len(text) < chars:
        text = f"{text} {_PROSE}"
    cut = text.rfind(" ", 0, chars + 1)
    return text[: cut if cut > 0 else chars].rstrip(",;") + "."
