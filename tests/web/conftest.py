"""Fixtures of the web studio tests: Debian's chromium driven by Playwright, and live servers.

No browser is downloaded: Playwright drives `/usr/bin/chromium` (`apt-get install chromium`).
Where it (or Playwright) is missing the browser tests are skipped locally and fail in CI, as the
Redis and PostgreSQL tests do. Chromium's fake microphone plays a WAV of real speech (the Piper
voice's), so recording in the page records speech.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest

from speaker.auth.principal import Role
from speaker.config import Settings
from speaker.runtime import Runtime
from tests.conftest import LiveServer
from tests.helpers import decode

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
SPEECH_TEXT = (
    "I read a few sentences aloud so that my voice can be cloned by the server. "
    "The quick brown fox jumps over the lazy dog, and then it runs away."
)


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _chromium() -> str:
    path = shutil.which("chromium") or CHROMIUM
    if not Path(path).exists():
        _missing("chromium is not installed (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        _missing('playwright is not installed (pip install -e ".[test]")')
    return path


def start_server(settings: Settings) -> tuple[LiveServer, Runtime]:
    """A loaded runtime behind a live server on loopback."""
    runtime = Runtime(settings)
    runtime.load()
    live = LiveServer(settings, runtime)
    live.start()
    return live, runtime


@pytest.fixture(scope="session")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Piper plus a tiny random-weight CSM: every part of the studio works, cloning included
    (the cloned voice speaks noise, which is all a UI test needs)."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("the csm extra is not installed")
    from tests.csm_checkpoint import build_tiny_csm

    models = tmp_path_factory.mktemp("web-models")
    build_tiny_csm(models / "csm-1b")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("web-data"),
        models_dir=models,
        models_offline=True,
        engines="csm",
        csm_device="cpu",
        workers=2,
    )
    live, runtime = start_server(settings)
    yield live
    live.stop()
    runtime.close()


@dataclass
class Locked:
    """A Piper-only server that requires API keys, and a valid key."""

    server: LiveServer
    key: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Locked]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("web-locked"), auth="on", workers=1)
    live, runtime = start_server(settings)
    created = runtime.keys.create("studio", Role.USER, "tester")
    yield Locked(live, created.secret)
    live.stop()
    runtime.close()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """A plain 16-bit PCM WAV with exact sizes (chromium's fake microphone reads only those)."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="session")
def speech_wav(locked: Locked, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About seven seconds of real speech, by the Piper voice, with a little silence around it."""
    response = httpx.post(
        f"{locked.url}/v1/audio/speech",
        json={"model": "piper", "input": SPEECH_TEXT, "response_format": "wav"},
        headers={"Authorization": f"Bearer {locked.key}"},
        timeout=60,
    )
    response.raise_for_status()
    audio = decode(response.content, "wav")
    pad = np.zeros(audio.sample_rate // 2, dtype=np.float32)
    samples = np.concatenate([pad, audio.samples, pad])
    return write_wav(
        tmp_path_factory.mktemp("web-audio") / "speech.wav", samples, audio.sample_rate
    )


@pytest.fixture(scope="session")
def browser(speech_wav: Path) -> Iterator[Browser]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={speech_wav}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield launched
        launched.close()


@dataclass
class Studio:
    """A page of the studio, with every console error and uncaught exception it produced."""

    page: Page
    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def open(self, view: str = "speak") -> Page:
        """Load the studio on a view and wait until it has its data."""
        self.page.goto(f"{self.url}/#{view}")
        self.page.wait_for_selector("#server-pill.ok")
        return self.page

    def tab(self, view: str) -> Page:
        """Switch views the way a person does: by the tab."""
        self.page.get_by_role("tab", name=view.capitalize()).click()
        self.page.wait_for_selector(f"#view-{view}:not([hidden])")
        return self.page

    def player(self) -> dict[str, Any]:
        """The Speak view's playback numbers (`window.__speaker`)."""
        snapshot: dict[str, Any] = self.page.evaluate("window.__speaker.player()")
        return snapshot


def new_studio(
    browser: Browser,
    url: str,
    *,
    width: int = 1280,
    height: int = 900,
    scheme: str = "light",
    key: str | None = None,
) -> Studio:
    context = browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme=scheme,  # type: ignore[arg-type]
        accept_downloads=True,
    )
    if key is not None:
        # As if the key had been entered before: the page reads it from localStorage.
        context.add_init_script(f"localStorage.setItem('speaker.apiKey', {key!r})")
    page = context.new_page()
    page.set_default_timeout(30_000)
    studio = Studio(page, url)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            studio.console_errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: studio.page_errors.append(str(error)))
    return studio


@pytest.fixture
def page_of(browser: Browser) -> Iterator[Any]:
    """Open studio pages; each gets its own browser context (storage, viewport), closed after."""
    opened: list[Studio] = []

    def make(url: str, **options: Any) -> Studio:
        studio = new_studio(browser, url, **options)
        opened.append(studio)
        return studio

    yield make
    for studio in opened:
        studio.page.context.close()


def zip_names(data: bytes) -> list[str]:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()
