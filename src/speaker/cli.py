"""The `speaker` command: serve the API, speak locally or through a server, manage state."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, BinaryIO

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from speaker import remote
from speaker.audio.formats import AudioFormat
from speaker.auth.audit import Action, AuditLog, AuditQuery
from speaker.auth.keys import KeyStore
from speaker.auth.principal import ANONYMOUS, Role
from speaker.auth.startup import ExposedWithoutKeysError, check_exposure
from speaker.config import Settings, SettingsError, load_settings
from speaker.errors import SpeakerError
from speaker.observability.logs import configure_logging
from speaker.runtime import Runtime, open_database
from speaker.service import SpeechOrder
from speaker.storage.database import Database

app = typer.Typer(
    name="speaker",
    help="Speaker: self-hosted text-to-speech with an OpenAI-compatible API.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
log = logging.getLogger(__name__)


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
    _check_exposure(settings)
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


@app.command()
def wyoming(
    uri: Annotated[
        str,
        typer.Option(help="Where to listen: tcp://HOST:PORT or unix://PATH (no authentication)"),
    ] = "tcp://127.0.0.1:10200",
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning or error")] = None,
) -> None:
    """Serve the Wyoming protocol only (Home Assistant's TTS), without the HTTP API."""
    from speaker.integrations.wyoming import serve as serve_wyoming

    # No job workers: batch jobs belong to the HTTP server's process.
    settings = _settings(log_level=log_level, job_workers=0)
    configure_logging(settings.log_level, json_logs=settings.log_json)
    runtime = _load(settings)
    console.print(f"Wyoming protocol on {uri} (voices: {len(runtime.catalog.voices())})")
    try:
        asyncio.run(serve_wyoming(runtime, uri))
    except (OSError, ValueError) as exc:
        console.print(f"[red]error:[/red] cannot listen on {uri}: {exc}")
        raise typer.Exit(2) from None
    finally:
        runtime.close()


def _check_exposure(settings: Settings) -> None:
    """Exit (2) rather than serve beyond loopback with nothing protecting the API."""
    try:
        active = 0 if settings.auth == "off" else _active_keys(settings)
        # SPEAKER_ADMIN_KEY becomes a key while the server loads: it protects the API already.
        active += settings.admin_key is not None
        warning = check_exposure(settings.host, settings.auth, active)
    except ExposedWithoutKeysError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if warning is not None:
        log.warning("%s", warning)


def _active_keys(settings: Settings) -> int:
    with _database(settings) as database:
        return KeyStore(database).active_count()


@contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    """The configured metadata database, for commands that need no engines."""
    try:
        database = open_database(settings)
    except SQLAlchemyError as exc:
        console.print(f"[red]error:[/red] cannot open the database: {exc}")
        raise typer.Exit(2) from None
    try:
        yield database
    finally:
        database.close()


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


@app.command()
def worker(
    jobs: Annotated[
        int | None,
        typer.Option(help="Job items synthesized at once [env: SPEAKER_JOB_WORKERS, 0 → 1]"),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Engine worker threads, 0 = one per core")
    ] = None,
) -> None:
    """Run batch-job workers only (no HTTP) until SIGTERM or Ctrl-C; items in synthesis then
    go back to the queue for another worker."""
    base = _settings(workers=workers)
    settings = _settings(workers=workers, job_workers=jobs or base.job_workers or 1)
    configure_logging(settings.log_level, json_logs=settings.log_json)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _sig, _frame: stop.set())
    runtime = _load(settings)
    console.print(
        f"worker {settings.replica_id}: {settings.job_workers} job item(s) at a time; "
        "stop with Ctrl-C or SIGTERM"
    )
    try:
        # Waking now and then lets the signal handler run even where a wait cannot be interrupted.
        while not stop.wait(1.0):
            pass
    finally:
        runtime.close()


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
    url: remote.UrlOption = None,
    api_key: remote.ApiKeyOption = None,
) -> None:
    """Synthesize speech: in this process, or on a running server with --url."""
    content = _read_text(text, file)
    if fmt is None:
        suffix = output.suffix.lstrip(".").lower()
        fmt = AudioFormat(suffix) if suffix in AudioFormat._value2member_map_ else AudioFormat.MP3
    if url is not None:
        with remote.connected(url, api_key) as client:
            size = remote.say(
                client,
                content,
                output,
                voice=voice,
                fmt=fmt.value,
                speed=speed,
                model=model,
                normalize=normalize,
            )
        if str(output) != "-":
            console.print(f"wrote {output} ({size} bytes of {fmt.value} from {url})")
        return
    # No job workers: a one-off command must not pick up the server's batch jobs.
    settings = _settings(max_input_chars=max(len(content), 1), job_workers=0)
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


voices_app = typer.Typer(
    help="Voices: list them (here, or on a server with --url); add and remove cloned ones."
)
app.add_typer(voices_app, name="voices")
voices_app.command("add")(remote.voices_add)
voices_app.command("rm")(remote.voices_rm)


# Without a subcommand `speaker voices` lists, as it did before it had subcommands.
@voices_app.callback(invoke_without_command=True)
def voices(
    ctx: typer.Context, url: remote.UrlOption = None, api_key: remote.ApiKeyOption = None
) -> None:
    """List the voices this installation (or, with --url, a running server) can speak with."""
    if ctx.invoked_subcommand is not None:
        return
    if url is not None:
        with remote.connected(url, api_key) as client:
            remote.print_voices(client)
        return
    runtime = _load(_settings(job_workers=0))
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


@app.command()
def validate(
    corpus: Annotated[
        str, typer.Option(help="smoke, full, or a file: one sentence per line, or .jsonl cases")
    ] = "smoke",
    voice: Annotated[
        list[str] | None, typer.Option(help="Voice to validate; give two to compare (A/B)")
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="Model or engine (default tts-1); two compare (A/B)")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Validate a running server instead of this installation")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="SPEAKER_API_KEY", help="Bearer key for --url")
    ] = None,
    whisper_model: Annotated[
        Path | None, typer.Option(help="A faster-whisper model directory (default: tiny.en)")
    ] = None,
    beam_size: Annotated[int, typer.Option(min=1, max=10, help="Whisper's beam size")] = 5,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the result as JSON")
    ] = None,
    html_path: Annotated[
        Path | None, typer.Option("--html", help="Write an HTML report with plots")
    ] = None,
    max_wer: Annotated[
        float | None, typer.Option(min=0, help="Fail above this WER over the corpus")
    ] = None,
    max_case_wer: Annotated[
        float | None, typer.Option(min=0, help="Fail when any case's WER is above this")
    ] = None,
    min_similarity: Annotated[
        float | None,
        typer.Option(min=-1, max=1, help="Fail when a cloned voice's similarity is below this"),
    ] = None,
) -> None:
    """Speak a corpus, transcribe it with Whisper and check word error rates (exit 1 on failure)."""
    from rich.markup import escape

    from speaker.validation.extras import MissingExtraError, require_validate

    try:
        require_validate()
    except MissingExtraError as exc:
        # Unwrapped: the install command must stay on one line to be copied.
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    from speaker.validation.command import ValidateOptions, run_validate
    from speaker.validation.suite import Thresholds

    options = ValidateOptions(
        corpus=corpus,
        voices=voice or [],
        models=model or [],
        url=url,
        api_key=api_key,
        whisper_model=str(whisper_model) if whisper_model else None,
        beam_size=beam_size,
        json_path=json_path,
        html_path=html_path,
        thresholds=Thresholds(
            max_wer=max_wer, max_case_wer=max_case_wer, min_similarity=min_similarity
        ),
    )
    status = run_validate(
        options,
        out=Console(),
        err=console,
        # No job workers: a validation run must not pick up the server's batch jobs.
        open_runtime=lambda chars: _load(_settings(max_input_chars=chars, job_workers=0)),
    )
    raise typer.Exit(status)


app.command()(remote.status)
app.add_typer(remote.jobs_app, name="jobs")

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


keys_app = typer.Typer(
    help="API keys, in the configured database (the server need not run).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
# What the audit log records as the address of operations made with this command.
_CLI_ADDRESS = "cli"


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for")],
    role: Annotated[Role, typer.Option(help="readonly, user or admin")] = Role.USER,
    owner: Annotated[
        str | None, typer.Option(help="Whose voices the key makes and sees (default: the name)")
    ] = None,
    rpm: Annotated[
        int | None,
        typer.Option(min=0, help="Requests per minute (default: SPEAKER_RATE_LIMIT_RPM)"),
    ] = None,
    cpm: Annotated[
        int | None,
        typer.Option(min=0, help="Input characters per minute (default: SPEAKER_RATE_LIMIT_CPM)"),
    ] = None,
) -> None:
    """Create a key; its secret and webhook secret are printed once and never again."""
    with _database(_settings()) as database:
        try:
            created = KeyStore(database).create(name, role, owner or name, rpm, cpm)
        except SpeakerError as exc:
            console.print(f"[red]error:[/red] {exc.message}")
            raise typer.Exit(1) from None
        record = created.record
        AuditLog(database).record(
            ANONYMOUS,
            Action.KEY_CREATE,
            target=record.id,
            address=_CLI_ADDRESS,
            detail={"name": record.name, "role": record.role.value, "owner": record.owner},
        )
    console.print(f"created {record.id} ({record.role.value}, owner {record.owner!r})")
    typer.echo(f"secret:         {created.secret}")
    typer.echo(f"webhook secret: {created.webhook_secret}")
    console.print("[yellow]store both now: they are not shown again[/yellow]")


@keys_app.command("list")
def keys_list() -> None:
    """List keys: id, name, prefix, role, owner, created, last used, revoked."""
    with _database(_settings()) as database:
        records = KeyStore(database).list_keys()
    table = Table("id", "name", "prefix", "role", "owner", "created", "last used", "revoked")
    for r in records:
        table.add_row(
            r.id,
            r.name,
            f"{r.prefix}…",
            r.role.value,
            r.owner,
            _when(r.created_at),
            _when(r.last_used_at),
            _when(r.revoked_at),
        )
    Console(width=200).print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_…)")]) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    with _database(_settings()) as database:
        try:
            record = KeyStore(database).revoke(key_id)
        except SpeakerError as exc:
            console.print(f"[red]error:[/red] {exc.message}")
            raise typer.Exit(1) from None
        AuditLog(database).record(
            ANONYMOUS,
            Action.KEY_REVOKE,
            target=record.id,
            address=_CLI_ADDRESS,
            detail={"name": record.name},
        )
    console.print(f"revoked {record.id} ({record.name})")


@app.command()
def audit(
    action: Annotated[
        str | None, typer.Option(help="An action (voice.delete) or a family (voice)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most entries shown")] = 50,
) -> None:
    """Show the audit log, newest first: key, voice and consent changes."""
    with _database(_settings()) as database:
        entries, more = AuditLog(database).query(AuditQuery(action=action, limit=limit))
    table = Table("time", "action", "target", "actor", "owner", "address", "detail")
    for e in entries:
        table.add_row(
            datetime.fromtimestamp(e.at).strftime("%Y-%m-%d %H:%M:%S"),
            e.action,
            e.target or "-",
            e.actor or "-",
            e.owner or "-",
            e.address or "-",
            json.dumps(e.detail, separators=(",", ":")),
        )
    Console(width=200).print(table)
    if more:
        console.print(f"more entries exist: raise --limit (now {limit})")


if __name__ == "__main__":
    app()
