"""The CSM engine on a tiny random checkpoint: conditioning, synthesis, batches and streams.

A random-weight model never draws the end-of-audio frame, so every text runs to its frame
budget: that is how the expected lengths below are known.
"""

from __future__ import annotations

import itertools
import sys
from contextlib import nullcontext

import numpy as np
import pytest
import torch

from speaker.config import Settings
from speaker.engines.base import (
    AudioSegment,
    BatchEngineSession,
    CloningEngine,
    StreamingEngineSession,
    SynthesisParams,
    SynthesisTask,
    VoiceReference,
)
from speaker.engines.csm import codec
from speaker.engines.csm.engine import (
    BUILTIN_VOICE,
    FIRST_PIECE_FRAMES,
    PIECE_FRAMES,
    CsmEngine,
    CsmOptions,
    frame_budget,
)
from speaker.engines.csm.errors import CsmUnavailableError
from speaker.engines.csm.generation import CachePool, FrameModel, Sampling
from speaker.engines.registry import build_engines
from speaker.errors import EngineError, NotFoundError

FRAME = 1920  # samples per Mimi frame at 24 kHz
TEXT = "Hello there, this is a cloned voice."


@pytest.fixture(scope="module")
def reference(csm_engine: CsmEngine) -> VoiceReference:
    rng = np.random.default_rng(0)
    samples = (0.1 * rng.standard_normal(3 * 16_000)).astype(np.float32)
    transcript = "A few words of reference."
    conditioning = csm_engine.condition(samples, 16_000, transcript)
    return VoiceReference("voice-1", transcript, conditioning)


def with_voice(reference: VoiceReference) -> SynthesisParams:
    return SynthesisParams(reference=reference)


def test_the_engine_satisfies_the_interfaces(csm_engine: CsmEngine) -> None:
    assert isinstance(csm_engine, CloningEngine)
    assert csm_engine.name == "csm"
    assert csm_engine.capabilities.cloning
    assert csm_engine.capabilities.max_batch_size == 4
    assert csm_engine.capabilities.languages == ("en",)
    assert [v.id for v in csm_engine.voices()] == [BUILTIN_VOICE]
    assert csm_engine.conditioning_version.startswith("csm:")
    session = csm_engine.open_session()
    assert isinstance(session, BatchEngineSession)
    assert isinstance(session, StreamingEngineSession)
    session.close()


def test_the_registry_builds_csm_lazily(csm_settings: Settings) -> None:
    engines = build_engines(csm_settings.model_copy(update={"engines": "csm"}))
    assert isinstance(engines["csm"], CsmEngine)
    assert engines["csm"].capabilities.max_batch_size == 4


def test_a_missing_extra_is_a_clear_error(
    csm_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "speaker.engines.csm.engine", None)  # import fails
    with pytest.raises(CsmUnavailableError) as caught:
        build_engines(csm_settings.model_copy(update={"engines": "csm"}))
    assert 'pip install "speaker-tts[csm]"' in (caught.value.suggestion or "")
    assert isinstance(caught.value, ValueError)


def test_condition_encodes_the_reference_once_into_arrays(
    csm_engine: CsmEngine, reference: VoiceReference
) -> None:
    codes = reference.conditioning["audio_codes"]
    ids = reference.conditioning["text_ids"]
    assert set(reference.conditioning) == {"audio_codes", "text_ids"}
    # 3 s resampled to 24 kHz is 37.5 frames; the causal encoder rounds up.
    assert codes.shape == (38, 4)
    assert codes.dtype == np.int32
    assert ids.dtype == np.int32
    assert ids.ndim == 1
    assert ids.tolist() == csm_engine.text_ids(reference.transcript)
    assert int(codes.min()) >= 0
    assert int(codes.max()) < 64


def test_synthesis_uses_the_stored_codes_without_the_encoder(
    csm_engine: CsmEngine, reference: VoiceReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_encoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the reference was encoded again")

    monkeypatch.setattr(csm_engine.loaded.codec, "encode", no_encoding)
    session = csm_engine.open_session()
    audio = session.synthesize("Hi.", "voice-1", with_voice(reference))
    assert len(audio.samples) == csm_engine.frame_budget("Hi.") * FRAME


def test_builtin_voice_speaks_its_frame_budget(csm_engine: CsmEngine) -> None:
    audio = csm_engine.open_session().synthesize("Hello there.", BUILTIN_VOICE, SynthesisParams())
    assert audio.sample_rate == 24_000
    assert audio.samples.dtype == np.float32
    assert len(audio.samples) == csm_engine.frame_budget("Hello there.") * FRAME
    assert float(np.abs(audio.samples).max()) <= 1.0
    assert float(np.abs(audio.samples).max()) > 0.0


def test_a_cloned_voice_speaks_and_differs_from_the_builtin_one(
    csm_engine: CsmEngine, reference: VoiceReference
) -> None:
    session = csm_engine.open_session()
    cloned = session.synthesize(TEXT, "voice-1", with_voice(reference))
    plain = session.synthesize(TEXT, BUILTIN_VOICE, SynthesisParams())
    assert len(cloned.samples) == csm_engine.frame_budget(TEXT) * FRAME
    assert len(plain.samples) == len(cloned.samples)
    assert not np.allclose(cloned.samples, plain.samples)


def test_frame_budgets_grow_with_text_up_to_the_ceiling(csm_engine: CsmEngine) -> None:
    assert csm_engine.frame_budget("Hi.") < csm_engine.frame_budget(TEXT)
    assert csm_engine.frame_budget("x" * 10_000) == 30 * 12.5  # the default ceiling, 30 s
    assert frame_budget("Hi.", 12.5, 2.0) == 17  # (1 s + 3 chars × 0.12 s) × 12.5
    assert frame_budget("x" * 1000, 12.5, 2.0) == 25


def test_unknown_voices_and_bad_conditioning_are_refused(csm_engine: CsmEngine) -> None:
    session = csm_engine.open_session()
    with pytest.raises(NotFoundError):
        session.synthesize("Hi.", "nobody", SynthesisParams())
    stale = VoiceReference("v", "t", {"audio_codes": np.zeros((5, 7), np.int32)})
    with pytest.raises(EngineError) as caught:
        session.synthesize("Hi.", "v", with_voice(stale))
    assert caught.value.code == "conditioning_invalid"


def test_a_batch_gives_each_text_its_own_length(
    csm_engine: CsmEngine, reference: VoiceReference
) -> None:
    tasks = [
        SynthesisTask("Hi.", BUILTIN_VOICE, SynthesisParams()),
        SynthesisTask(TEXT, "voice-1", with_voice(reference)),
        SynthesisTask("  ", BUILTIN_VOICE, SynthesisParams()),
        SynthesisTask("A third, medium text.", "voice-1", with_voice(reference)),
    ]
    audios = csm_engine.open_session().synthesize_batch(tasks)
    expected = [csm_engine.frame_budget(t.text) * FRAME if t.text.strip() else 0 for t in tasks]
    assert [len(a.samples) for a in audios] == expected
    assert all(a.sample_rate == 24_000 for a in audios)


def test_stream_pieces_join_into_the_whole_decode(
    csm_engine: CsmEngine, reference: VoiceReference
) -> None:
    session = csm_engine.open_session()
    # Seeded sampling: the stream draws the same frames as the one-shot synthesis.
    whole = session.synthesize(TEXT, "voice-1", with_voice(reference))
    pieces = list(session.synthesize_stream(TEXT, "voice-1", with_voice(reference), lambda: False))
    frames = [len(p.samples) // FRAME for p in pieces]
    total = csm_engine.frame_budget(TEXT)
    assert frames[0] == FIRST_PIECE_FRAMES
    assert all(n == PIECE_FRAMES for n in frames[1:-1])
    assert sum(frames) == total
    joined = np.concatenate([p.samples for p in pieces])
    np.testing.assert_allclose(joined, whole.samples, atol=1e-5)


def test_a_stream_stops_generating_once_cancelled(
    csm_engine: CsmEngine, reference: VoiceReference
) -> None:
    pieces: list[AudioSegment] = []
    checks = 0

    def cancelled() -> bool:
        nonlocal checks
        checks += 1
        return bool(pieces)

    session = csm_engine.open_session()
    for piece in session.synthesize_stream(TEXT, "voice-1", with_voice(reference), cancelled):
        pieces.append(piece)
    assert len(pieces) == 1
    # One check before each of the first piece's frames, and the one that said stop.
    assert checks == FIRST_PIECE_FRAMES + 1
    assert list(session.synthesize_stream(" ", BUILTIN_VOICE, SynthesisParams(), cancelled)) == []


def test_the_stream_decoder_is_exact_across_any_piece_sizes(csm_engine: CsmEngine) -> None:
    mimi = csm_engine.loaded.codec
    codes = torch.randint(0, 64, (2, 4, 41), generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        whole = codec.decode(mimi, codes)
        decoder = codec.StreamDecoder(mimi)
        cuts = [0, 1, 4, 13, 14, 30, 41]  # crosses the 8-step attention window several times
        pieces = [decoder.decode(codes[..., a:b]) for a, b in itertools.pairwise(cuts)]
    joined = torch.cat(pieces, dim=-1)
    assert joined.shape == whole.shape == (2, 41 * FRAME)
    torch.testing.assert_close(joined, whole, atol=1e-5, rtol=0)


def test_frames_match_transformers_own_generation(csm_engine: CsmEngine) -> None:
    # Greedy (top-1) on both sides: the engine's depth-decoder steps must pick what
    # `CsmDepthDecoderForCausalLM.generate` picks.
    model = csm_engine.loaded.frames.model
    frames = FrameModel(
        model,
        codebook_size=model.config.vocab_size,
        sampling=Sampling(top_k=1),
        compiled=False,
        lock=nullcontext(),
    )
    codebooks = model.config.num_codebooks
    with torch.inference_mode():
        hidden = torch.randn(
            3, model.config.hidden_size, generator=torch.Generator().manual_seed(2)
        )
        ours = frames.sample_frame(
            hidden, CachePool(frames).get(3, 1)[1], torch.Generator().manual_seed(0)
        )
        first = ours[:, :1]
        theirs = model.depth_decoder.generate(
            input_ids=torch.cat([torch.zeros_like(first), first], dim=1),
            backbone_last_hidden_state=hidden.clone(),
            do_sample=False,
            min_new_tokens=codebooks - 1,
            max_new_tokens=codebooks - 1,
        )
    assert ours.tolist() == theirs[:, 1:].tolist()


def test_options_follow_the_settings(csm_settings: Settings) -> None:
    options = CsmOptions.from_settings(csm_settings)
    assert options.models_dir == csm_settings.resolved_models_dir
    assert options.model == "sesame/csm-1b"
    assert options.offline
    assert options.device == "cpu"
    assert options.max_batch == 4
    assert options.cpu_threads == csm_settings.engine_threads
