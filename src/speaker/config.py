"""Speaker's settings: one class, read from `SPEAKER_*` environment variables and `.env`."""

from __future__ import annotations

import os
import socket
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

OPENAI_VOICE_NAMES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "onyx",
    "nova",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "speaker"


def _default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    """Every setting of the server, CLI and engines; each field maps to `SPEAKER_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="SPEAKER_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    host: str = "127.0.0.1"
    """Bind address of the HTTP server; loopback by default, so nothing outside reaches it."""

    port: Annotated[int, Field(ge=1, le=65535)] = 8012
    """TCP port of the HTTP server."""

    wyoming_uri: str | None = Field(default=None, pattern=r"^(tcp://[^/]+:\d+|unix://.+)$")
    """Also serve the Wyoming protocol (Home Assistant) here, e.g. tcp://0.0.0.0:10200; it has
    no authentication, so bind it to a trusted network only. Unset: off."""

    data_dir: Path = Field(default_factory=_default_data_dir)
    """The one directory everything the server writes lives under."""

    voices_dir: Path | None = None
    """Extra Piper voices (`name.onnx` + `name.onnx.json`); default `<data_dir>/voices`."""

    models_dir: Path | None = None
    """Model checkpoints for engines that need them. Default: `<data_dir>/models`."""

    default_engine: str = "piper"
    """Engine used for OpenAI model names (`tts-1`, `tts-1-hd`, `gpt-4o-mini-tts*`)."""

    engines: str = ""
    """More engines to load besides the default one, comma-separated (e.g. `csm`)."""

    default_voice: str = "en_US-joe-medium"
    """Voice used when a request names none, and for OpenAI voice names without a mapping."""

    voice_map: dict[str, str] = Field(default_factory=dict)
    """OpenAI voice name -> Speaker voice id, as JSON, e.g. `{"nova": "en_GB-alba-medium"}`."""

    max_input_chars: Annotated[int, Field(ge=1, le=10_000_000)] = 4096
    """Longest `input` accepted by `/v1/audio/speech`, in characters."""

    max_request_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    """Largest JSON request body; larger ones are refused with 413 before they are read."""

    normalize_text: bool = True
    """Expand numbers, dates, currencies… before synthesis (a request can switch it off)."""

    first_chunk_chars: Annotated[int, Field(ge=10, le=2000)] = 40
    """Budget of the first streamed text chunk: small, so audio starts early."""

    first_chunk_seconds: Annotated[float, Field(ge=0, le=10)] = 0.12
    """Synthesis time a first chunk should take: on an engine too slow to say
    `first_chunk_chars` that fast (measured), the first chunk gets shorter, down to 10
    characters, and a whole sentence may overshoot a later chunk's budget by less. 0 keeps
    both fixed."""

    max_chunk_chars: Annotated[int, Field(ge=20, le=10_000)] = 100
    """Budget that later chunks grow to; small enough that a worker frees up quickly for the
    stream whose listener is about to run out of audio (a chunk cannot be interrupted)."""

    workers: Annotated[int, Field(ge=0, le=256)] = 0
    """Engine worker threads; 0 means one per CPU core."""

    priority_workers: Annotated[int, Field(ge=0, le=16)] = 1
    """Extra engine workers that take only chunks a listener is about to wait for (first
    chunks, streams about to run dry), so those never queue behind a chunk in progress. Each
    opens its own engine session (on a GPU, its own KV caches)."""

    worker_nice: Annotated[int, Field(ge=0, le=19)] = 10
    """How much lower the ordinary workers' OS priority is than the priority workers' and the
    event loop's (Linux thread nice value; 0 leaves them equal)."""

    malloc_arenas: Annotated[int, Field(ge=0, le=64)] = 2
    """glibc malloc arenas for the process's threads (0 keeps glibc's eight per core, which
    fragment under load and let RSS creep up; `MALLOC_ARENA_MAX` in the environment wins)."""

    malloc_trim_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """How often the C heap's free pages go back to the system (glibc's `malloc_trim`; 0:
    never). Without it RSS creeps up slowly under steady load as freed pieces fragment."""

    engine_threads: Annotated[int, Field(ge=1, le=64)] = 1
    """Threads inside each engine worker (ONNX intra-op); one per worker is fastest on CPU."""

    warmup: bool = True
    """Before reporting ready, every worker synthesizes one full-length chunk in the default
    voice, all at once: the engine's memory grows to its working size then, not during the
    first listeners' streams."""

    engine_memory_arena: bool = True
    """Let ONNX Runtime keep its memory arena: about 10 % more throughput; what load peaks
    allocated stays allocated (off: memory is returned after every chunk and RSS swings)."""

    engine_conv2d: bool = True
    """Run a Piper voice's 1-D convolutions as 2-D ones, which ONNX Runtime computes with faster
    kernels: about 10 % more audio per CPU second, the same audio to about 1e-5; off loads the
    model exactly as shipped."""

    stream_lookahead: Annotated[int, Field(ge=1, le=16)] = 2
    """Chunks of one stream that may be queued or synthesizing at once."""

    max_streams: Annotated[int, Field(ge=0, le=100_000)] = 0
    """Streams in synthesis at once; 0 sizes it from the measured real-time capacity."""

    max_streams_per_client: Annotated[int, Field(ge=0, le=100_000)] = 0
    """Streams one client (API key, else address) may have in synthesis; 0 = no limit."""

    admission_headroom: Annotated[float, Field(gt=0, le=1.0)] = 0.5
    """Share of the measured real-time capacity admitted; the rest lets new streams catch up."""

    drain_timeout_s: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """On SIGTERM: how long streams in flight may take to finish before the server exits."""

    max_long_input_chars: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000
    """Longest text `/v1/tts/long` accepts."""

    batch_wait_ms: Annotated[float, Field(ge=0, le=1000)] = 5.0
    """For engines that batch (GPU engines): how long a worker waits to fill a batch."""

    max_pause_ms: Annotated[int, Field(ge=0, le=2000)] = 250
    """Longest silence kept where two chunks join."""

    database_url: str = ""
    """SQLAlchemy URL of the metadata database; empty: SQLite at `<data_dir>/speaker.db`."""

    require_consent: bool = False
    """Refuse native voice uploads without a consent recording (OpenAI's route always needs one)."""

    max_voice_upload_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    """Largest reference-audio or consent upload; larger ones get 413 before they are read."""

    voice_min_seconds: Annotated[float, Field(gt=0, le=60)] = 3.0
    """Shortest reference audio accepted for cloning, after silence is trimmed."""

    voice_max_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    """Longest reference audio accepted for cloning, after silence is trimmed."""

    whisper_model: str = ""
    """faster-whisper model directory for automatic transcripts; empty: the shipped tiny.en."""

    csm_model: str = "sesame/csm-1b"
    """CSM checkpoint: a Hugging Face repo id, read from `<models_dir>/<name>` when present."""

    csm_device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where CSM runs; `auto` picks CUDA when present."""

    csm_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """CSM weights' precision; `auto` is bfloat16 on CUDA and float32 on CPU."""

    csm_tf32: bool = True
    """Allow TF32 matrix maths on CUDA (faster, tiny precision loss)."""

    csm_compile: bool = False
    """`torch.compile` the CSM decoders with CUDA graphs (slow first request, faster after)."""

    csm_expandable_segments: bool = True
    """Use PyTorch's expandable CUDA memory segments, which keep long sessions from fragmenting."""

    csm_max_batch: Annotated[int, Field(ge=1, le=256)] = 8
    """Most concurrent CSM requests decoded in one batch."""

    models_offline: bool = False
    """Never download weights; a missing model is a start-up error naming the directory to fill."""

    redis_url: str = ""
    """Redis for the job queue, the audio cache and rate limits (needed by several replicas);
    empty: all of them live in this process and on the local disk."""

    replica_id: str = Field(default_factory=_default_replica_id)
    """This process's name in job leases and logs; default `<hostname>-<pid>`."""

    admin_key: SecretStr | None = Field(default=None, min_length=24)
    """An admin API key chosen outside (a Kubernetes Secret, a compose env file): added to the
    key store at start-up unless it is already there or was revoked, so a server in a container
    starts protected with no `speaker keys create` step."""

    auth: Literal["auto", "on", "off"] = "auto"
    """API keys: `auto` asks for one once any key exists, `on` always, `off` never. A server
    bound beyond loopback with no key refuses to start unless this is `off`."""

    rate_limit_rpm: Annotated[int, Field(ge=0)] = 0
    """Default requests per minute for a key without its own limit; 0 means unlimited."""

    rate_limit_cpm: Annotated[int, Field(ge=0)] = 0
    """Default input characters per minute for a key without its own limit; 0 means unlimited."""

    cors_origins: str = ""
    """Comma-separated origins allowed by CORS (`*` for any); empty turns CORS off."""

    cache_max_bytes: Annotated[int, Field(ge=0)] = 1024 * 1024 * 1024
    """Size cap of the audio cache; the least recently used entries go first. 0 turns it off."""

    cache_ttl_s: Annotated[int, Field(ge=0)] = 7 * 24 * 3600
    """How long a cached response lives in Redis (Redis evicts by its own memory policy too)."""

    job_workers: Annotated[int, Field(ge=0, le=64)] = 1
    """Batch items this process synthesizes at once; 0 leaves jobs to `speaker worker`."""

    job_max_items: Annotated[int, Field(ge=1, le=100_000)] = 1000
    """Most items one batch job may hold."""

    job_lease_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    """How long a claimed item stays with a worker that stops renewing it (a crash) before
    another worker takes it over."""

    job_max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    """Tries of one item before it is marked failed."""

    webhook_secret: str = ""
    """Signs webhooks of jobs submitted without an API key (auth off); keys carry their own."""

    webhook_allow_private: bool = False
    """Allow webhook targets in loopback, private and link-local ranges (off: no SSRF)."""

    webhook_max_attempts: Annotated[int, Field(ge=1, le=50)] = 6
    """Deliveries tried before a webhook is given up."""

    webhook_backoff_s: Annotated[float, Field(ge=0.01, le=3600)] = 2.0
    """First retry delay of a failed webhook; it doubles at each attempt."""

    webhook_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    """How long one webhook delivery may take."""

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Logging threshold."""

    log_json: bool = False
    """Write logs as one JSON object a line (for log collectors)."""

    metrics_enabled: bool = True
    """Serve Prometheus metrics at /metrics and record them (off: nothing is recorded)."""

    metrics_public: bool = False
    """Let anyone scrape /metrics; otherwise, once API keys are on, it needs a readonly key."""

    @field_validator("voice_map")
    @classmethod
    def _known_openai_names(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(OPENAI_VOICE_NAMES))
        if unknown:
            raise ValueError(
                f"unknown OpenAI voice name(s) {unknown}; the names are {list(OPENAI_VOICE_NAMES)}"
            )
        return value

    @model_validator(mode="after")
    def _chunk_budgets(self) -> Settings:
        if self.first_chunk_chars > self.max_chunk_chars:
            raise ValueError("SPEAKER_FIRST_CHUNK_CHARS must not exceed SPEAKER_MAX_CHUNK_CHARS")
        return self

    @cached_property
    def resolved_voices_dir(self) -> Path:
        """Directory scanned for extra voices."""
        return self.voices_dir or self.data_dir / "voices"

    @cached_property
    def resolved_models_dir(self) -> Path:
        """Directory that holds engine checkpoints."""
        return self.models_dir or self.data_dir / "models"

    @cached_property
    def engine_names(self) -> list[str]:
        """Engines to load, the default one first."""
        extra = [n.strip() for n in self.engines.split(",") if n.strip()]
        return list(dict.fromkeys([self.default_engine, *extra]))

    @cached_property
    def cors_origin_list(self) -> list[str]:
        """Origins CORS allows; empty when CORS is off."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @cached_property
    def worker_count(self) -> int:
        """Number of engine workers after resolving 0 to the core count."""
        return self.workers or (os.cpu_count() or 1)


class SettingsError(Exception):
    """Raised when the configuration is invalid; the message names each variable and the fix."""


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and `.env`), turning validation errors into advice."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            variable = f"SPEAKER_{field.upper()}" if err["loc"] else "settings"
            given = err.get("input")
            lines.append(f"{variable}: {err['msg']} (got {given!r})")
        raise SettingsError(
            "invalid configuration:\n  "
            + "\n  ".join(lines)
            + "\nSee .env.example for every variable."
        ) from None
