"""Validation runs for real: the embedded voice spoken, heard by Whisper tiny.en, and scored."""

from __future__ import annotations

import pytest
from rich.console import Console

from speaker.validation.corpus import Case, Corpus, load_corpus
from speaker.validation.report import print_report
from speaker.validation.suite import Thresholds, ValidationSuite, variants_of
from speaker.validation.synth import LocalSynthesizer, RemoteSynthesizer, SynthesisError
from speaker.validation.transcribe import Listener
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow

# The limit .ci/run gates on (see the measurements there).
SMOKE_MAX_WER = 0.15

TWO = Corpus(
    name="two",
    cases=(
        Case(id="plain", text="The weather today is sunny with a light breeze from the west."),
        Case(id="money", category="currency", text="The ticket cost $47.50."),
    ),
)


def test_the_smoke_corpus_passes_on_the_embedded_voice(
    local: LocalSynthesizer, listener: Listener
) -> None:
    corpus = load_corpus("smoke")
    result = ValidationSuite(local, listener).run(
        corpus, variants_of([], []), Thresholds(max_wer=SMOKE_MAX_WER)
    )
    assert result.passed, result.failures
    assert result.wer <= SMOKE_MAX_WER
    assert [c.case for c in result.cases] == [c.id for c in corpus.cases]
    (summary,) = result.variants
    assert summary.cases == len(corpus.cases)
    assert summary.words == sum(c.words for c in result.cases) > 40
    for case in result.cases:
        assert case.heard
        assert case.audio_seconds > 1.0
        # Piper speaks about 15 times faster than real time here; 1.0 would mean no margin.
        assert 0 < case.rtf < 1.0
        assert case.synthesis_seconds == pytest.approx(case.rtf * case.audio_seconds)


def test_speech_that_is_not_the_expected_text_fails(
    local: LocalSynthesizer, listener: Listener
) -> None:
    wrong = Corpus(
        name="wrong",
        cases=(
            TWO.cases[0],
            Case(id="swapped", text="The ticket cost $47.50.", expected="I like green apples."),
        ),
    )
    limits = Thresholds(max_wer=0.5, max_case_wer=0.5)
    result = ValidationSuite(local, listener).run(wrong, variants_of([], []), limits)
    assert not result.passed
    by_id = {c.case: c for c in result.cases}
    assert by_id["plain"].wer < 0.34
    assert by_id["swapped"].wer >= 0.75
    assert any("swapped" in failure for failure in result.failures)
    # The plain case's WER stays under the case limit: only the wrong case is named.
    assert not any("/ plain" in failure for failure in result.failures)


def test_ab_runs_put_two_voices_side_by_side(local: LocalSynthesizer, listener: Listener) -> None:
    variants = variants_of(["alloy", "en_US-joe-medium"], [])
    assert [v.label for v in variants] == ["alloy", "en_US-joe-medium"]
    result = ValidationSuite(local, listener).run(TWO, variants, Thresholds())
    assert [v.label for v in result.variants] == ["alloy", "en_US-joe-medium"]
    table = result.by_case()
    assert set(table) == {"plain", "money"}
    assert all(set(row) == {"alloy", "en_US-joe-medium"} for row in table.values())
    console = Console(record=True, width=200)
    print_report(result, console)
    text = console.export_text()
    assert "WER alloy" in text
    assert "WER en_US-joe-medium" in text
    assert "Δ WER" in text


def test_two_models_are_labelled_by_model() -> None:
    variants = variants_of(["nova"], ["tts-1", "piper"])
    assert [(v.label, v.voice, v.model) for v in variants] == [
        ("tts-1", "nova", "tts-1"),
        ("piper", "nova", "piper"),
    ]
    both = variants_of(["a", "b"], ["m", "n"])
    assert [v.label for v in both] == ["a / m", "b / m", "a / n", "b / n"]
    assert [v.label for v in variants_of([], [])] == ["default voice"]


def test_a_running_server_is_validated_over_http(server: LiveServer, listener: Listener) -> None:
    remote = RemoteSynthesizer(server.url)
    try:
        result = ValidationSuite(remote, listener).run(
            TWO, variants_of(["alloy"], ["tts-1"]), Thresholds(max_wer=SMOKE_MAX_WER)
        )
        assert remote.reference("alloy") is None
    finally:
        remote.close()
    assert result.target == server.url
    assert result.passed, result.failures
    assert all(c.audio_seconds > 1.0 and c.rtf > 0 for c in result.cases)


def test_an_unknown_voice_stops_the_run_with_the_reason(
    server: LiveServer, local: LocalSynthesizer
) -> None:
    with pytest.raises(SynthesisError, match="voice 'zz' does not exist"):
        local.synthesize("Hello.", voice="zz", model="tts-1")
    remote = RemoteSynthesizer(server.url)
    try:
        with pytest.raises(SynthesisError, match="400 voice 'zz' does not exist"):
            remote.synthesize("Hello.", voice="zz", model="tts-1")
    finally:
        remote.close()
