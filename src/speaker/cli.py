"""The `speaker` command: serve the API, speak locally, list voices."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, BinaryIO

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from speaker.audio.formats import AudioFormat
from speaker.config import Settings, SettingsError, load_settings
from speaker.errors import SpeakerError
from speaker.observability.logs import configure_logging
from speaker.runtime import Runtime
from speaker.service import SpeechOrder

app = typer.Typer(
    name="speaker",
    help="Speaker: self-hosted text-to-speech with an OpenAI-compatible API.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _load(settings: Settings) -> Runtime:
    try:
        runtime = Runtime(settings)
        runtime.load()
    except (ValueError, SpeakerError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    return runtime


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [env: SPEAKER_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port [env: SPEAKER_PORT]")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Engine worker threads, 0 = one per core")
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning or error")] = None,
) -> None:
    """Start the HTTP server (OpenAI-compatible API, docs at /docs)."""
    from speaker.api.app import create_app

    settings = _settings(host=host, port=port, workers=workers, log_level=log_level)
    configure_logging(settings.log_level, json_logs=settings.log_json)
    try:
        runtime = Runtime(settings)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    server: DrainingServer | None = None

    def stop_on_failure(error: BaseException) -> None:
        # A server that can never become ready should not sit behind a load balancer.
        if server is not None:
            server.should_exit = True

    config = uvicorn.Config(
        create_app(settings, runtime, on_load_failure=stop_on_failure),
        host=settings.host,
        port=settings.port,
        log_config=None,
        # Longer than clients' usual idle gaps (a Retry-After wait), so a kept-alive connection
        # is rarely closed by the server just as the client reuses it.
        timeout_keep_alive=30,
        timeout_graceful_shutdown=10,
    )
    server = DrainingServer(config, runtime, settings.drain_timeout_s)
    server.run()
    if runtime.load_error is not None:
        console.print(f"[red]error:[/red] {runtime.load_error}")
        raise typer.Exit(2)


class DrainingServer(uvicorn.Server):
    """On the first SIGTERM/SIGINT: readiness off, new work refused, streams finish, then exit."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime, timeout: float) -> None:
        super().__init__(config)
        self._runtime = runtime
        self._timeout = timeout
        self._draining: threading.Thread | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Drain first; a second signal exits at once."""
        if self._draining is not None or not self._runtime.ready:
            super().handle_exit(sig, frame)
            return
        console.print(f"draining: waiting up to {self._timeout:.0f} s for streams in flight")
        self._draining = threading.Thread(target=self._drain, args=(sig, frame), daemon=True)
        self._draining.start()

    def _drain(self, sig: int, frame: FrameType | None) -> None:
        if not self._runtime.drain(self._timeout):
            console.print("drain timeout: exiting with streams still in flight")
        super().handle_exit(sig, frame)


def _read_text(text: str | None, file: Path | None) -> str:
    if file is not None:
        return sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    if text is None or text == "-":
        return sys.stdin.read()
    return text


@app.command()
def say(
    text: Annotated[
        str | None, typer.Argument(help="Text to speak; '-' or nothing reads stdin")
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output file; '-' writes to stdout")
    ] = Path("speech.mp3"),
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the text from a file")
    ] = None,
    voice: Annotated[str | None, typer.Option(help="Voice id or OpenAI voice name")] = None,
    fmt: Annotated[
        AudioFormat | None,
        typer.Option("--format", help="Audio format (default: from the file extension, else mp3)"),
    ] = None,
    speed: Annotated[float, typer.Option(min=0.25, max=4.0, help="0.25 to 4.0")] = 1.0,
    model: Annotated[str, typer.Option(help="Model or engine name")] = "tts-1",
    normalize: Annotated[bool, typer.Option(help="Expand numbers, dates and symbols")] = True,
) -> None:
    """Synthesize speech locally, without a server."""
    content = _read_text(text, file)
    if fmt is None:
        suffix = output.suffix.lstrip(".").lower()
        fmt = AudioFormat(suffix) if suffix in AudioFormat._value2member_map_ else AudioFormat.MP3
    settings = _settings(max_input_chars=max(len(content), 1))
    runtime = _load(settings)
    order = SpeechOrder(
        text=content, model=model, voice=voice, fmt=fmt, speed=speed, normalize=normalize
    )
    try:
        seconds = asyncio.run(_say(runtime, order, output))
    except SpeakerError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        if exc.suggestion:
            console.print(f"[yellow]hint:[/yellow] {exc.suggestion}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    if str(output) != "-":
        console.print(f"wrote {output} ({seconds:.1f} s of audio, {fmt.value})")


async def _say(runtime: Runtime, order: SpeechOrder, output: Path) -> float:
    speech = await runtime.service.prepare(order)
    seconds = 0.0
    sink: BinaryIO = sys.stdout.buffer if str(output) == "-" else output.open("wb")
    try:
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} chunks"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=len(speech.chunks) < 2,
        ) as progress:
            task = progress.add_task("speaking", total=len(speech.chunks))
            async for chunk in runtime.service.stream(speech):
                sink.write(chunk.data)
                seconds += chunk.audio_seconds
                progress.advance(task)
    finally:
        if sink is not sys.stdout.buffer:
            sink.close()
    return seconds


@app.command()
def voices() -> None:
    """List the voices this installation can speak with."""
    runtime = _load(_settings())
    try:
        table = Table("id", "engine", "language", "rate", "source", "OpenAI names")
        for voice in runtime.catalog.voices():
            table.add_row(
                voice.id,
                voice.engine,
                voice.language,
                str(voice.sample_rate),
                voice.source,
                ", ".join(runtime.catalog.aliases_of(voice.id)),
            )
        Console().print(table)
    finally:
        runtime.close()


models_app = typer.Typer(
    help="Checkpoints of the engines that need a download (CSM).", no_args_is_help=True
)
app.add_typer(models_app, name="models")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


@models_app.command("list")
def models_list() -> None:
    """List the checkpoints in the models directory, their sizes and the engine using each."""
    from speaker.engines.csm.weights import KNOWN_MODELS, installed_models, model_directory

    directory = _settings().resolved_models_dir
    found = installed_models(directory)
    table = Table("name", "engine", "size", "status", title=f"models in {directory}")
    for model in found:
        status = "installed" if model.complete else "incomplete (pull again)"
        table.add_row(model.name, model.engine or "-", _size(model.size_bytes), status)
    present = {model.name for model in found}
    for short, known in KNOWN_MODELS.items():
        if model_directory(known.repo_id, directory).name not in present:
            table.add_row(short, known.engine, "-", f"not installed: speaker models pull {short}")
    Console().print(table)


@models_app.command("pull")
def models_pull(
    name: Annotated[
        str, typer.Argument(help="A short name (csm-1b) or a Hugging Face repo id")
    ] = "csm-1b",
) -> None:
    """Download a checkpoint into the models directory (gated ones need HF_TOKEN)."""
    from speaker.engines.csm.weights import (
        KNOWN_MODELS,
        directory_size,
        download,
        is_installed,
        model_directory,
    )

    settings = _settings()
    known = KNOWN_MODELS.get(name)
    repo_id = known.repo_id if known else name
    if "/" not in repo_id:
        console.print(
            f"[red]error:[/red] unknown model {name!r}: use one of "
            f"{', '.join(KNOWN_MODELS)} or a Hugging Face repo id (owner/name)"
        )
        raise typer.Exit(2)
    try:
        directory = model_directory(repo_id, settings.resolved_models_dir)
        if is_installed(directory):
            console.print(f"{repo_id} is already installed in {directory}")
            return
        console.print(f"downloading {repo_id} into {directory}")
        download(repo_id, directory)
    except SpeakerError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        if exc.suggestion:
            console.print(f"[yellow]hint:[/yellow] {exc.suggestion}")
        raise typer.Exit(1) from None
    console.print(f"installed {repo_id} in {directory} ({_size(directory_size(directory))})")


if __name__ == "__main__":
    app()
