"""`speaker validate`: load, run, report, and turn the verdict into an exit status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from speaker.runtime import Runtime
from speaker.validation.corpus import Corpus, CorpusError, load_corpus
from speaker.validation.extras import MissingExtraError
from speaker.validation.report import print_report, write_html, write_json
from speaker.validation.suite import (
    CaseResult,
    Thresholds,
    ValidationResult,
    ValidationSuite,
    variants_of,
)
from speaker.validation.synth import (
    LocalSynthesizer,
    RemoteSynthesizer,
    SynthesisError,
    Synthesizer,
)
from speaker.validation.transcribe import Listener, ListenerError

# Exit statuses CI can tell apart: the voice failed its thresholds, or the check could not run.
EXIT_FAILED = 1
EXIT_ERROR = 2


@dataclass(frozen=True)
class ValidateOptions:
    """What `speaker validate` was asked to do."""

    corpus: str = "smoke"
    voices: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    url: str | None = None
    api_key: str | None = None
    whisper_model: str | None = None
    beam_size: int = 5
    json_path: Path | None = None
    html_path: Path | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)


def _run(
    options: ValidateOptions,
    corpus: Corpus,
    synthesizer: Synthesizer,
    listener: Listener,
    console: Console,
) -> ValidationResult:
    variants = variants_of(options.voices, options.models)
    with Progress(
        TextColumn("validating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=len(corpus.cases) * len(variants))

        def advance(case: CaseResult) -> None:
            progress.update(task, advance=1, description=f"{case.case}: WER {case.wer:.2f}")

        return ValidationSuite(synthesizer, listener).run(
            corpus, variants, options.thresholds, on_case=advance
        )


def run_validate(
    options: ValidateOptions,
    *,
    out: Console,
    err: Console,
    open_runtime: Callable[[int], Runtime],
) -> int:
    """Run a validation and write its reports; returns the exit status (0 pass, 1 fail, 2 error).

    `open_runtime(max_input_chars)` gives a loaded runtime when no server URL is given.
    """
    try:
        corpus = load_corpus(options.corpus)
        listener = Listener(options.whisper_model, beam_size=options.beam_size)
        listener.load()
    except (CorpusError, ListenerError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        return EXIT_ERROR
    runtime: Runtime | None = None
    remote: RemoteSynthesizer | None = None
    synthesizer: Synthesizer
    if options.url:
        synthesizer = remote = RemoteSynthesizer(options.url, api_key=options.api_key)
    else:
        longest = max(len(case.text) for case in corpus.cases)
        synthesizer = LocalSynthesizer(runtime := open_runtime(longest))
    try:
        result = _run(options, corpus, synthesizer, listener, err)
    except (SynthesisError, MissingExtraError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        return EXIT_ERROR
    finally:
        if runtime is not None:
            runtime.close()
        if remote is not None:
            remote.close()
    print_report(result, out)
    if options.json_path is not None:
        write_json(result, options.json_path)
        err.print(escape(f"wrote {options.json_path}"))
    if options.html_path is not None:
        write_html(result, options.html_path)
        err.print(escape(f"wrote {options.html_path}"))
    return 0 if result.passed else EXIT_FAILED
