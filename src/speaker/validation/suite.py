"""A validation run: speak every case with every variant, listen, score, judge the thresholds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from speaker.validation.compare import word_errors
from speaker.validation.corpus import Case, Corpus
from speaker.validation.extras import MissingExtraError
from speaker.validation.similarity import Embedding, SpeakerSimilarity
from speaker.validation.synth import Synthesizer
from speaker.validation.transcribe import Listener

DEFAULT_MODEL = "tts-1"


class Variant(BaseModel):
    """One voice on one model: what a case is spoken with."""

    label: str
    voice: str | None = None
    model: str = DEFAULT_MODEL


def _label(voice: str | None, model: str, *, name_voice: bool, name_model: bool) -> str:
    parts = [voice or "default voice"] if name_voice else []
    return " / ".join([*parts, model] if name_model else parts)


def variants_of(voices: Sequence[str], models: Sequence[str]) -> list[Variant]:
    """Every voice with every model, labelled by what differs between them (A/B runs)."""
    voice_list: list[str | None] = list(dict.fromkeys(voices)) or [None]
    model_list = list(dict.fromkeys(models)) or [DEFAULT_MODEL]
    name_model = len(model_list) > 1
    name_voice = len(voice_list) > 1 or not name_model
    return [
        Variant(
            label=_label(voice, model, name_voice=name_voice, name_model=name_model),
            voice=voice,
            model=model,
        )
        for model in model_list
        for voice in voice_list
    ]


class Thresholds(BaseModel):
    """Limits that fail the run; None leaves a measure unchecked."""

    max_wer: float | None = Field(default=None, ge=0)
    """Highest word error rate of each variant over the whole corpus."""
    max_case_wer: float | None = Field(default=None, ge=0)
    """Highest word error rate of any single case."""
    min_similarity: float | None = Field(default=None, ge=-1, le=1)
    """Lowest speaker similarity of any case spoken with a cloned voice."""


class CaseResult(BaseModel):
    """One case spoken with one variant: what was heard, its errors, speed and similarity."""

    case: str
    category: str
    variant: str
    text: str
    expected: str
    heard: str
    reference: str
    """The expected words after normalization."""
    hypothesis: str
    """The heard words after normalization."""
    words: int
    errors: int
    wer: float
    audio_seconds: float
    synthesis_seconds: float
    rtf: float
    similarity: float | None = None


class VariantSummary(BaseModel):
    """A variant over the whole corpus."""

    label: str
    voice: str | None
    model: str
    cases: int
    words: int
    errors: int
    wer: float
    """Errors over all reference words of the corpus (long cases weigh more)."""
    worst_case: str
    worst_case_wer: float
    audio_seconds: float
    rtf: float
    """All synthesis seconds over all audio seconds."""
    similarity_min: float | None = None
    similarity_mean: float | None = None


class ValidationResult(BaseModel):
    """Everything a report shows, and whether the thresholds passed."""

    corpus: str
    target: str
    whisper_model: str
    beam_size: int
    created_at: datetime
    thresholds: Thresholds
    variants: list[VariantSummary]
    cases: list[CaseResult]
    wer: float
    """Errors over reference words, all variants together."""
    passed: bool
    failures: list[str]
    notes: list[str] = Field(default_factory=list)
    """What was not measured, and why."""

    def case_ids(self) -> list[str]:
        """Case ids in corpus order."""
        return list(dict.fromkeys(case.case for case in self.cases))

    def by_case(self) -> dict[str, dict[str, CaseResult]]:
        """Results per case id, then per variant label (the A/B view)."""
        table: dict[str, dict[str, CaseResult]] = {}
        for case in self.cases:
            table.setdefault(case.case, {})[case.variant] = case
        return table


def _summary(variant: Variant, cases: list[CaseResult]) -> VariantSummary:
    words = sum(c.words for c in cases)
    errors = sum(c.errors for c in cases)
    worst = max(cases, key=lambda c: c.wer)
    audio = sum(c.audio_seconds for c in cases)
    scores = [c.similarity for c in cases if c.similarity is not None]
    return VariantSummary(
        label=variant.label,
        voice=variant.voice,
        model=variant.model,
        cases=len(cases),
        words=words,
        errors=errors,
        wer=errors / words if words else 0.0,
        worst_case=worst.case,
        worst_case_wer=worst.wer,
        audio_seconds=audio,
        rtf=sum(c.synthesis_seconds for c in cases) / audio if audio else 0.0,
        similarity_min=min(scores) if scores else None,
        similarity_mean=sum(scores) / len(scores) if scores else None,
    )


def _failures(
    summaries: list[VariantSummary], cases: list[CaseResult], limits: Thresholds
) -> list[str]:
    failures = []
    if limits.max_wer is not None:
        failures += [
            f"{s.label}: WER {s.wer:.3f} is above the limit {limits.max_wer:.3f}"
            for s in summaries
            if s.wer > limits.max_wer
        ]
    if limits.max_case_wer is not None:
        failures += [
            f"{c.variant} / {c.case}: WER {c.wer:.3f} is above the case limit "
            f"{limits.max_case_wer:.3f} (heard: {c.heard!r})"
            for c in cases
            if c.wer > limits.max_case_wer
        ]
    if limits.min_similarity is not None:
        scored = [c for c in cases if c.similarity is not None]
        if not scored:
            # A similarity gate that measured nothing must not pass silently.
            failures.append("no speaker similarity was measured: no variant uses a cloned voice")
        failures += [
            f"{c.variant} / {c.case}: similarity {c.similarity:.3f} is below the limit "
            f"{limits.min_similarity:.3f}"
            for c in scored
            if c.similarity is not None and c.similarity < limits.min_similarity
        ]
    return failures


class ValidationSuite:
    """Speaks a corpus with each variant, transcribes it and scores it."""

    def __init__(
        self,
        synthesizer: Synthesizer,
        listener: Listener,
        *,
        similarity: Callable[[], SpeakerSimilarity] = SpeakerSimilarity,
    ) -> None:
        self._synthesizer = synthesizer
        self._listener = listener
        self._make_similarity = similarity
        self._similarity: SpeakerSimilarity | None = None
        self._notes: list[str] = []

    def _reference(self, variant: Variant, limits: Thresholds) -> Embedding | None:
        reference = self._synthesizer.reference(variant.voice)
        if reference is None:
            return None
        if self._similarity is None:
            try:
                self._similarity = self._make_similarity()
            except MissingExtraError as exc:
                if limits.min_similarity is not None:
                    raise
                self._notes.append(f"{variant.label}: similarity not measured: {exc}")
                return None
        return self._similarity.embed(reference)

    def _case(self, variant: Variant, case: Case, ref: Embedding | None) -> CaseResult:
        synthesis = self._synthesizer.synthesize(
            case.text, voice=variant.voice, model=variant.model
        )
        heard = self._listener.transcribe(synthesis.audio)
        errors = word_errors(case.spoken, heard)
        similarity = None
        if ref is not None and self._similarity is not None:
            similarity = self._similarity.score(ref, synthesis.audio)
        return CaseResult(
            case=case.id,
            category=case.category,
            variant=variant.label,
            text=case.text,
            expected=case.spoken,
            heard=heard,
            reference=errors.reference,
            hypothesis=errors.hypothesis,
            words=errors.words,
            errors=errors.errors,
            wer=errors.wer,
            audio_seconds=synthesis.audio.seconds,
            synthesis_seconds=synthesis.seconds,
            rtf=synthesis.rtf,
            similarity=similarity,
        )

    def run(
        self,
        corpus: Corpus,
        variants: Sequence[Variant],
        limits: Thresholds,
        *,
        on_case: Callable[[CaseResult], None] | None = None,
    ) -> ValidationResult:
        """Run every case with every variant; raises SynthesisError when speech cannot be had."""
        self._notes = []
        summaries: list[VariantSummary] = []
        results: list[CaseResult] = []
        for variant in variants:
            ref = self._reference(variant, limits)
            done = []
            for case in corpus.cases:
                result = self._case(variant, case, ref)
                done.append(result)
                if on_case is not None:
                    on_case(result)
            summaries.append(_summary(variant, done))
            results += done
        words = sum(s.words for s in summaries)
        failures = _failures(summaries, results, limits)
        return ValidationResult(
            corpus=corpus.name,
            target=self._synthesizer.target,
            whisper_model=self._listener.model_name,
            beam_size=self._listener.beam_size,
            created_at=datetime.now(UTC),
            thresholds=limits,
            variants=summaries,
            cases=results,
            wer=sum(s.errors for s in summaries) / words if words else 0.0,
            passed=not failures,
            failures=failures,
            notes=list(self._notes),
        )
