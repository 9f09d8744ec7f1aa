"""The command line's server-facing commands: everything goes through the SDK (speaker.client)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from speaker.client import (
    APIConnectionError,
    BatchItem,
    Job,
    SpeakerAPIError,
    SpeakerClient,
    SpeakerClientError,
)

console = Console(stderr=True)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="SPEAKER_URL",
        help="A running Speaker server, e.g. http://127.0.0.1:8012",
        show_default=False,
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="SPEAKER_API_KEY",
        help="API key for a server that asks for one",
        show_default=False,
        show_envvar=True,
    ),
]
# The OpenAI endpoint takes 4,096 characters; longer texts go to /v1/tts/long.
SPEECH_LIMIT = 4096


@contextmanager
def connected(url: str | None, api_key: str | None) -> Iterator[SpeakerClient]:
    """A client for `url`; the server's refusals and transport failures end the command (1)."""
    client = SpeakerClient(url, api_key=api_key)
    # Unwrapped (soft_wrap): each message stays one line, whole for grep and for copying; escaped,
    # as a server's text may hold brackets that rich would read as markup.
    try:
        yield client
    except SpeakerAPIError as exc:
        console.print(f"[red]error:[/red] {escape(exc.message)} ({exc.code})", soft_wrap=True)
        if exc.suggestion:
            console.print(f"[yellow]hint:[/yellow] {escape(exc.suggestion)}", soft_wrap=True)
        raise typer.Exit(1) from None
    except APIConnectionError as exc:
        reason = escape(f"cannot reach {client.options.base_url}: {exc}")
        console.print(f"[red]error:[/red] {reason}", soft_wrap=True)
        raise typer.Exit(1) from None
    except SpeakerClientError as exc:
        # Given up on the client's side, such as a wait that ran out of time.
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        client.close()


@contextmanager
def _sink(output: Path) -> Iterator[BinaryIO]:
    if str(output) == "-":
        yield sys.stdout.buffer
        return
    with output.open("wb") as file:
        yield file


def say(
    client: SpeakerClient,
    text: str,
    output: Path,
    *,
    voice: str | None,
    fmt: str,
    speed: float,
    model: str,
    normalize: bool,
) -> int:
    """Stream speech from the server into `output` as it arrives; returns the bytes written."""
    written = 0
    pieces = client.stream_speech(
        text,
        voice=voice,
        model=model,
        format=fmt,  # type: ignore[arg-type]
        speed=speed,
        normalize=normalize,
        long=len(text) > SPEECH_LIMIT,
    )
    with _sink(output) as sink:
        for piece in pieces:
            sink.write(piece)
            written += len(piece)
    return written


def print_voices(client: SpeakerClient) -> None:
    """The server's voices, built-in and cloned, as a table."""
    # Whole ids, whatever the terminal's width: they are what the other commands take.
    table = Table(Column("id", no_wrap=True), "name", "type", "language", "engines")
    for voice in client.voices.list():
        table.add_row(voice.id, voice.name, voice.type, voice.language, ", ".join(voice.engines))
    Console().print(table)


def status(url: UrlOption = None, api_key: ApiKeyOption = None) -> None:
    """Show a running server's status: version, engines, voices and queue."""
    with connected(url, api_key) as client:
        found = client.status()
        table = Table("", "", show_header=False)
        table.add_row("server", client.options.base_url)
        table.add_row("status", found.status)
        table.add_row("version", found.version)
        table.add_row("uptime", f"{found.uptime_seconds:.0f} s")
        engines = ", ".join(f"{e.name} ({e.device or 'cpu'})" for e in found.engines)
        table.add_row("engines", engines)
        table.add_row("default voice", found.default_voice)
        table.add_row("voices", str(len(found.voices)))
        for name, value in found.queue.items():
            table.add_row(f"queue {name}", str(value))
        Console().print(table)


def voices_add(
    name: Annotated[str, typer.Argument(help="The new voice's name")],
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="3–30 s of one person speaking"),
    ],
    transcript: Annotated[
        str | None, typer.Option(help="What the recording says (default: transcribed)")
    ] = None,
    language: Annotated[str, typer.Option(help="Language tag, e.g. en or en-US")] = "en",
    gender: Annotated[str | None, typer.Option(help="For filtering the voice list")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag; give it more than once")] = None,
    description: Annotated[str, typer.Option(help="A note on the voice")] = "",
    consent: Annotated[
        str | None, typer.Option(help="A recorded consent's id (cons_…), if the server needs one")
    ] = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Clone a voice on a server from a recording; prints its id (on stdout, for scripts)."""
    with connected(url, api_key) as client:
        voice = client.voices.create(
            file,
            name=name,
            transcript=transcript,
            language=language,
            gender=gender,
            tags=tag or (),
            description=description,
            consent=consent,
        )
    print(voice.id)
    quality = voice.quality or {}
    seconds = quality.get("duration_s")
    length = f", {seconds:.1f} s of reference audio" if isinstance(seconds, int | float) else ""
    console.print(f"added {voice.id} ({voice.name}{length})")
    for warning in quality.get("warnings") or ():
        console.print(f"[yellow]warning:[/yellow] {escape(str(warning))}")


def voices_rm(
    voice_id: Annotated[str, typer.Argument(help="The cloned voice's id")],
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Delete a cloned voice from a server, with its recording and previews."""
    with connected(url, api_key) as client:
        client.voices.delete(voice_id)
    console.print(f"deleted {voice_id}")


jobs_app = typer.Typer(
    help="Batch jobs on a running server: submit, wait, download.", no_args_is_help=True
)


def _items(file: Path) -> list[str | BatchItem]:
    lines = [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if file.suffix != ".jsonl":
        return list(lines)
    items: list[str | BatchItem] = []
    for n, line in enumerate(lines, 1):
        try:
            items.append(BatchItem.model_validate_json(line))
        except ValidationError as exc:
            # Found before anything is sent: the server never sees half a file.
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            reason = f"{where}: {first['msg']}" if where else first["msg"]
            message = escape(f"{file}, request {n}: {reason}")
            console.print(f"[red]error:[/red] {message}", soft_wrap=True)
            raise typer.Exit(2) from None
    return items


def _wait(client: SpeakerClient, job_id: str, timeout: float | None) -> Job:
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} items"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(job_id, total=None)

        def show(job: Job) -> None:
            done = job.counts.succeeded + job.counts.failed + job.counts.cancelled
            progress.update(task, total=job.item_count, completed=done, description=job.state)

        job = client.jobs.wait(job_id, on_progress=show, timeout=timeout)
    console.print(
        f"{job.id}: {job.state} ({job.counts.succeeded} succeeded, {job.counts.failed} failed)"
    )
    return job


@jobs_app.command("submit")
def jobs_submit(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="One text per line, or .jsonl speech requests"
        ),
    ],
    voice: Annotated[str | None, typer.Option(help="Voice for plain-text lines")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Audio format of plain-text lines")] = "mp3",
    wait: Annotated[bool, typer.Option(help="Wait for the job, with a progress bar")] = False,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Submit a batch job; prints its id (on stdout, for scripts)."""
    with connected(url, api_key) as client:
        job = client.jobs.submit(_items(file), voice=voice, format=fmt)  # type: ignore[arg-type]
        print(job.id)
        if wait:
            _wait(client, job.id, None)


@jobs_app.command("wait")
def jobs_wait(
    job_id: Annotated[str, typer.Argument(help="The job's id (job_…)")],
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds")] = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Wait for a job to finish, showing its progress; exit 1 unless every item succeeded."""
    with connected(url, api_key) as client:
        job = _wait(client, job_id, timeout)
    if job.counts.succeeded != job.item_count:
        raise typer.Exit(1)


@jobs_app.command("download")
def jobs_download(
    job_id: Annotated[str, typer.Argument(help="The job's id (job_…)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Zip file to write")] = Path(
        "results.zip"
    ),
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Download a finished job's audio files as one zip."""
    with connected(url, api_key) as client:
        data = client.jobs.download_results(job_id)
    output.write_bytes(data)
    console.print(f"wrote {output} ({len(data)} bytes)")
