"""The audio cache: finished responses kept by what shaped them, replayed like fresh ones."""

from speaker.cache.keys import CACHE_SCHEMA, SpeechKeys
from speaker.cache.speech import (
    CachedSynthesis,
    CachePolicy,
    CacheStatus,
    ServedSpeech,
    SpeechCache,
)
from speaker.cache.store import (
    AudioCache,
    CachedAudio,
    CacheStats,
    DiskAudioCache,
    RedisAudioCache,
    open_audio_cache,
)

__all__ = [
    "CACHE_SCHEMA",
    "AudioCache",
    "CachePolicy",
    "CacheStats",
    "CacheStatus",
    "CachedAudio",
    "CachedSynthesis",
    "DiskAudioCache",
    "RedisAudioCache",
    "ServedSpeech",
    "SpeechCache",
    "SpeechKeys",
    "open_audio_cache",
]
