"""The web studio in a real browser (Debian's chromium): speak, the library, cloning, jobs, status.

One server for all of them, with Piper and a tiny random-weight CSM (so cloned voices speak, as
noise). Each test opens its own browser context: its own storage, viewport and downloads.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.helpers import decode
from tests.web.conftest import ARTIFACTS, Studio

pytestmark = pytest.mark.slow

OpenStudio = Callable[..., Studio]
SENTENCES = "The studio speaks as soon as the first sentence is ready. The second one follows."
VIEWS = ["speak", "voices", "clone", "jobs", "status"]


def capture(page: Page, name: str) -> None:
    """A full-page screenshot into the (git-ignored) artifacts folder, for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # From the top: a full-page capture of a scrolled page repeats the sticky header mid-page.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _create_voice(server: LiveServer, wav: Path, name: str, tags: str = "") -> dict[str, object]:
    """A cloned voice made through the API (with a transcript, so Whisper is not needed)."""
    response = httpx.post(
        f"{server.url}/v1/voices",
        files={"audio": ("sample.wav", wav.read_bytes(), "audio/wav")},
        data={"name": name, "transcript": "I read a few sentences aloud.", "tags": tags},
        timeout=120,
    )
    response.raise_for_status()
    voice: dict[str, object] = response.json()
    return voice


def test_the_page_loads_without_console_errors(studio: LiveServer, page_of: OpenStudio) -> None:
    view = page_of(studio.url)
    page = view.open()
    for name in VIEWS:
        view.tab(name)
    # Every view got its data: voices listed, the models and the status shown.
    expect(page.locator("#speak-voice option")).not_to_have_count(0)
    expect(page.locator("#status-grid .stat-card")).not_to_have_count(0)
    page.keyboard.press("Home")  # focus is on the Status tab: Home goes to the first tab
    expect(page.get_by_role("tab", name="Speak")).to_have_attribute("aria-selected", "true")
    assert view.console_errors == []
    assert view.page_errors == []


def test_the_theme_follows_the_system_and_is_remembered(
    studio: LiveServer, page_of: OpenStudio
) -> None:
    view = page_of(studio.url, scheme="dark")
    page = view.open()
    scheme = "getComputedStyle(document.documentElement).colorScheme"
    assert page.evaluate(scheme) == "dark"  # the system's
    button = page.locator("#theme-button")
    expect(button).to_have_attribute("aria-label", "Theme: System. Change theme")
    button.click()
    expect(button).to_have_attribute("aria-label", "Theme: Light. Change theme")
    assert page.evaluate(scheme) == "light"
    page.reload()
    page.wait_for_selector("#server-pill.ok")
    assert page.evaluate(scheme) == "light"  # remembered, against the system's dark
    button.click()
    button.click()
    expect(button).to_have_attribute("aria-label", "Theme: System. Change theme")
    assert page.evaluate(scheme) == "dark"


def test_speaking_plays_the_stream_with_the_right_duration(
    studio: LiveServer, page_of: OpenStudio, tmp_path: Path
) -> None:
    view = page_of(studio.url)
    page = view.open()
    page.fill("#speak-text", SENTENCES)
    page.select_option("#speak-model", "piper")
    page.click("#speak-button")
    speak = page.locator("#view-speak")
    expect(speak).to_have_attribute("data-state", "playing")
    started = time.monotonic()
    # Audio is playing on the AudioContext's clock: its time passes the first sample's.
    page.wait_for_function(
        "() => { const p = window.__speaker.player(); return p.playedSeconds > 0.2 }"
    )
    playing = view.player()
    assert playing["contextState"] == "running"
    assert playing["sampleRate"] == 24_000
    assert playing["contextTime"] > playing["startTime"]
    assert playing["firstAudioMs"] is not None
    expect(speak).to_have_attribute("data-state", "done", timeout=60_000)
    took = time.monotonic() - started
    done = view.player()
    # Every byte received was scheduled, and it was played out in real time.
    assert done["receivedBytes"] % 2 == 0
    assert done["scheduledSeconds"] == pytest.approx(done["receivedBytes"] / 2 / 24_000)
    assert took >= done["scheduledSeconds"] - 0.5

    body = {"model": "piper", "input": SENTENCES, "response_format": "pcm"}
    same = httpx.post(f"{studio.url}/v1/audio/speech", json=body, timeout=60)
    # The same request again is the same audio (from the cache): exactly what the page played.
    assert same.headers["x-speaker-cache"] == "hit"
    assert len(same.content) == done["receivedBytes"]
    wav = httpx.post(
        f"{studio.url}/v1/audio/speech", json={**body, "response_format": "wav"}, timeout=60
    )
    # Fetched as WAV it is synthesized anew, and Piper's durations vary a little between runs.
    assert decode(wav.content, "wav").duration == pytest.approx(done["scheduledSeconds"], rel=0.1)

    # The download in WAV is built from the samples the page received, not synthesized again.
    page.select_option("#speak-format", "wav")
    with page.expect_download() as download:
        page.click("#download-button")
    saved = download.value.path()
    assert saved is not None
    assert decode(Path(saved).read_bytes(), "wav").duration == pytest.approx(
        done["scheduledSeconds"], abs=1e-6
    )
    # MP3 is asked of the server: a valid file of about the same length.
    page.select_option("#speak-format", "mp3")
    with page.expect_download() as download:
        page.click("#download-button")
    assert download.value.suggested_filename.endswith(".mp3")
    mp3 = decode(Path(str(download.value.path())).read_bytes(), "mp3")
    assert mp3.duration == pytest.approx(done["scheduledSeconds"], rel=0.15)
    expect(page.locator("#speak-status")).to_contain_text("MP3 file")
    capture(page, "speak-played-1280-light")
    assert view.console_errors == []


def test_reads_split_inside_a_sample_are_joined(studio: LiveServer, page_of: OpenStudio) -> None:
    """The network may split the stream at any byte: the player joins the halves of a sample."""
    page = page_of(studio.url).open()
    result = page.evaluate(
        """async () => {
            const { StreamPlayer } = await import("/static/player.js");
            const count = 4800;  // 0.2 s
            const bytes = new Uint8Array(count * 2);
            const view = new DataView(bytes.buffer);
            for (let i = 0; i < count; i += 1) view.setInt16(i * 2, (i * 37) % 65536 - 32768, true);
            // Reads of 1, 3, 5, ... bytes: nearly every one ends in the middle of a sample.
            const pieces = [];
            for (let at = 0, size = 1; at < bytes.length; at += size, size += 2) {
                pieces.push(bytes.slice(at, at + size));
            }
            const body = new ReadableStream({
                pull(controller) {
                    const next = pieces.shift();
                    if (next) controller.enqueue(next); else controller.close();
                },
            });
            const player = new StreamPlayer();
            await player.play(new Response(body));
            const got = player.samples();
            let same = got.length === count;
            for (let i = 0; same && i < count; i += 1) same = got[i] === view.getInt16(i * 2, true);
            return { same, pieces: player.pieces.length, state: player.state,
                     seconds: player.scheduledSeconds };
        }"""
    )
    assert result["same"]
    assert result["pieces"] > 50
    assert result["state"] == "done"
    assert result["seconds"] == pytest.approx(0.2)


def test_keyboard_speaks_and_stops(studio: LiveServer, page_of: OpenStudio) -> None:
    view = page_of(studio.url)
    page = view.open()
    page.fill("#speak-text", " ".join([SENTENCES] * 6))
    page.focus("#speak-text")
    page.keyboard.press("Control+Enter")
    speak = page.locator("#view-speak")
    expect(speak).to_have_attribute("data-state", "playing")
    page.keyboard.press("Escape")
    expect(speak).to_have_attribute("data-state", "stopped")
    stopped = view.player()
    assert stopped["state"] == "stopped"
    # Stopped long before the end: the rest was neither played nor fetched.
    assert stopped["scheduledSeconds"] < 20
    expect(page.locator("#speak-status")).to_have_text("Stopped.")


def test_the_servers_errors_are_shown(studio: LiveServer, page_of: OpenStudio) -> None:
    view = page_of(studio.url)
    page = view.open()
    alert = page.locator("#speak-error [role=alert]")

    too_long = "word " * 1000
    answer = httpx.post(f"{studio.url}/v1/audio/speech", json={"input": too_long}, timeout=30)
    error = answer.json()["error"]
    assert error["code"] == "input_too_long"
    page.fill("#speak-text", too_long)
    expect(page.locator("#speak-count")).to_have_class("muted over")
    page.click("#speak-button")
    expect(alert).to_be_visible()
    message = error["message"]
    expect(alert).to_contain_text(message[0].upper() + message[1:])
    expect(alert).to_contain_text(error["suggestion"])
    expect(alert).to_contain_text("input_too_long")
    expect(page.locator("#view-speak")).to_have_attribute("data-state", "error")
    capture(page, "speak-error-1280-light")

    page.fill("#speak-text", "   ")
    page.click("#speak-button")
    expect(alert).to_contain_text("Input is empty")
    expect(alert).to_contain_text("send some text")
    # Dismissed by its button.
    alert.get_by_role("button", name="Dismiss").click()
    expect(alert).to_have_count(0)


def test_uploading_a_wav_makes_a_voice_that_speaks_and_is_listed(
    studio: LiveServer, page_of: OpenStudio, speech_wav: Path
) -> None:
    view = page_of(studio.url)
    page = view.open("clone")
    expect(page.locator("#clone-engine-note")).to_be_hidden()  # CSM clones
    page.fill("#clone-name", "Uploaded Ana")
    page.set_input_files("#clone-file", str(speech_wav))
    expect(page.locator("#sample-chosen")).to_be_visible()
    page.click("#sample-next")
    expect(page.locator("#consent-next")).to_have_text("Skip and create voice")
    expect(page.locator("#consent-script")).to_contain_text("I, Uploaded Ana, agree")
    page.set_input_files("#consent-file", str(speech_wav))
    expect(page.locator("#consent-chosen")).to_be_visible()
    expect(page.locator("#consent-next")).to_have_text("Create voice")
    page.click("#consent-next")

    # The server's quality report and Whisper's transcript.
    expect(page.locator("#step-review")).to_be_visible(timeout=120_000)
    expect(page.locator("#quality .metric")).to_have_count(4)
    capture(page, "clone-review-1280-light")
    voices = httpx.get(f"{studio.url}/v1/voices", params={"q": "Uploaded Ana"}).json()["data"]
    assert len(voices) == 1
    consent = voices[0]["consent_id"]
    assert consent is not None
    assert httpx.get(f"{studio.url}/v1/audio/voice_consents/{consent}").json()["name"] == (
        "Uploaded Ana"
    )
    quality = voices[0]["quality"]
    expect(page.locator("#quality .metric").first).to_contain_text(f"{quality['duration_s']:.1f} s")
    transcript = page.locator("#clone-transcript")
    assert "fox" in transcript.input_value().lower()
    expect(page.locator("#transcript-source")).to_contain_text("Whisper")

    # A corrected transcript is saved, and the test sentence speaks in the cloned voice (CSM).
    transcript.fill(voices[0]["transcript"] + " Corrected.")
    page.fill("#clone-test-text", "Test.")
    page.click("#clone-test")
    expect(page.locator("#clone-test-status")).to_contain_text("Spoken by csm", timeout=120_000)
    page.click("#clone-save")
    expect(page.locator("#step-done")).to_be_visible()
    stored = httpx.get(f"{studio.url}/v1/voices/{voices[0]['id']}").json()
    assert stored["transcript"].endswith("Corrected.")

    view.tab("voices")
    card = page.locator(f'[data-voice-id="{voices[0]["id"]}"]')
    expect(card).to_contain_text("Uploaded Ana")
    expect(card).to_contain_text("Cloned")
    # It is offered in the Speak view too.
    expect(page.locator(f'#speak-voice option[value="{voices[0]["id"]}"]')).to_have_count(1)
    assert view.console_errors == []


def test_recording_with_the_microphone_makes_a_voice(
    studio: LiveServer, page_of: OpenStudio
) -> None:
    # On a phone, in the dark: the wizard must work and fit there too.
    view = page_of(studio.url, width=390, height=844, scheme="dark")
    page = view.open("clone")
    page.fill("#clone-name", "Recorded Ben")
    recorder = page.locator("#sample-recorder .recorder")
    recorder.get_by_role("button", name="Record").click()
    expect(recorder).to_have_attribute("data-state", "countdown")
    expect(recorder.locator(".countdown")).to_be_visible()
    expect(recorder).to_have_attribute("data-state", "recording", timeout=10_000)
    # Chromium's fake microphone plays the speech WAV: the meter shows its level.
    page.wait_for_function(
        "() => Number(document.querySelector('#sample-recorder [role=meter]')"
        ".getAttribute('aria-valuenow')) > -50"
    )
    page.wait_for_function(
        "() => Number(document.querySelector('#sample-recorder .recorder').dataset.seconds) >= 6"
    )
    recorder.get_by_role("button", name="Stop").click()
    expect(page.locator("#sample-chosen")).to_be_visible()
    expect(page.locator("#sample-chosen-name")).to_contain_text("Recording")
    page.click("#sample-next")
    page.click("#consent-next")
    expect(page.locator("#step-review")).to_be_visible(timeout=120_000)
    # What was recorded is speech: the server kept seconds of it and Whisper heard words of it.
    voice = httpx.get(f"{studio.url}/v1/voices", params={"q": "Recorded Ben"}).json()["data"][0]
    assert voice["quality"]["duration_s"] >= 3
    heard = set(voice["transcript"].lower().replace(",", " ").replace(".", " ").split())
    spoken = {"read", "few", "sentences", "aloud", "voice", "cloned", "server", "fox", "lazy"}
    assert len(heard & spoken) >= 3
    expect(page.locator("#clone-transcript")).to_have_value(voice["transcript"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    capture(page, "clone-review-390-dark")
    page.click("#clone-save")
    expect(page.locator("#step-done")).to_be_visible()
    assert view.console_errors == []


def test_the_voice_library_filters_edits_exports_imports_and_deletes(
    studio: LiveServer, page_of: OpenStudio, speech_wav: Path
) -> None:
    created = _create_voice(studio, speech_wav, "Library Cleo", tags="calm")
    view = page_of(studio.url)
    page = view.open("voices")
    card = page.locator(f'[data-voice-id="{created["id"]}"]')
    expect(card).to_be_visible()

    # Search and filters go through the API's own filters.
    page.fill("#voice-q", "Library Cleo")
    expect(page.locator("#voice-list > li")).to_have_count(1)
    page.fill("#voice-q", "")
    page.select_option("#voice-tag", "calm")
    expect(page.locator("#voice-list > li")).to_have_count(1)
    page.select_option("#voice-type", "builtin")
    expect(page.locator("#voice-list > li")).to_have_count(0)
    expect(page.locator("#voices-empty")).to_contain_text("No voices match")
    page.get_by_role("button", name="Clear filters").click()
    expect(card).to_be_visible()

    # Preview: the server synthesizes it in the voice (CSM here) and the page plays it.
    with page.expect_response(lambda r: "/preview" in r.url) as preview:
        card.get_by_role("button", name="Preview Library Cleo").click()
    assert preview.value.status == 200
    assert preview.value.headers["x-speaker-preview"] == "synthesized"

    # Edit metadata.
    card.get_by_role("button", name="Edit Library Cleo").click()
    dialog = page.locator("#edit-dialog")
    expect(dialog).to_be_visible()
    page.fill("#edit-name", "Library Cleo Renamed")
    page.fill("#edit-tags", "calm, narration")
    page.fill("#edit-description", "Edited in the studio")
    page.click("#edit-save")
    expect(dialog).to_be_hidden()
    expect(card).to_contain_text("Library Cleo Renamed")
    expect(card).to_contain_text("narration")
    stored = httpx.get(f"{studio.url}/v1/voices/{created['id']}").json()
    assert stored["name"] == "Library Cleo Renamed"
    assert stored["tags"] == ["calm", "narration"]
    assert stored["description"] == "Edited in the studio"

    # Export the voices listed, then import the zip: a copy with a new id.
    page.fill("#voice-q", "Library Cleo Renamed")
    expect(page.locator("#voice-list > li")).to_have_count(1)
    with page.expect_download() as download:
        page.click("#voices-export")
    exported = Path(str(download.value.path())).read_bytes()
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(exported)).namelist()
    page.set_input_files("#voices-import", str(download.value.path()))
    expect(page.locator("#voice-list > li")).to_have_count(2, timeout=60_000)

    # Delete: nothing happens without confirmation; confirmed, it is gone.
    card.get_by_role("button", name="Delete Library Cleo Renamed").click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("Library Cleo Renamed")
    confirm.get_by_role("button", name="Cancel").click()
    expect(card).to_be_visible()
    card.get_by_role("button", name="Delete Library Cleo Renamed").click()
    confirm.get_by_role("button", name="Delete").click()
    expect(card).to_have_count(0)
    expect(page.locator("#voice-list > li")).to_have_count(1)
    assert httpx.get(f"{studio.url}/v1/voices/{created['id']}").status_code == 404
    assert view.console_errors == []


def test_a_batch_job_is_submitted_followed_and_downloaded(
    studio: LiveServer, page_of: OpenStudio, tmp_path: Path
) -> None:
    view = page_of(studio.url)
    page = view.open("jobs")
    expect(page.locator("#jobs-empty")).to_be_visible()
    lines = tmp_path / "lines.txt"
    lines.write_text("First line of the batch.\n\nSecond line of the batch.\n")
    page.set_input_files("#job-file", str(lines))
    expect(page.locator("#job-summary")).to_contain_text("2 files")
    page.select_option("#job-format", "wav")
    page.click("#job-submit")
    job = page.locator("#job-list > li").first
    expect(job).to_have_attribute("data-state", "succeeded", timeout=60_000)
    expect(job).to_contain_text("2 of 2 done")
    items = job.locator(".job-item")
    expect(items).to_have_count(2)
    with page.expect_download() as download:
        items.nth(1).get_by_role("button", name="Download file 2").click()
    assert decode(Path(str(download.value.path())).read_bytes(), "wav").duration > 1
    with page.expect_download() as download:
        job.get_by_role("button", name="All files (.zip)").click()
    names = zipfile.ZipFile(io.BytesIO(Path(str(download.value.path())).read_bytes())).namelist()
    assert sorted(n for n in names if n.endswith(".wav")) == ["00000.wav", "00001.wav"]
    assert view.console_errors == []


def test_status_shows_the_servers_own_numbers(studio: LiveServer, page_of: OpenStudio) -> None:
    httpx.post(
        f"{studio.url}/v1/audio/speech",
        json={"model": "piper", "input": "Numbers for the status page.", "response_format": "pcm"},
        timeout=60,
    ).raise_for_status()
    view = page_of(studio.url)
    page = view.open("status")
    expect(page.locator("#status-grid .engine-row")).to_have_count(2)
    expect(page.locator("#status-grid")).to_contain_text("clones voices")
    recent = httpx.get(f"{studio.url}/status").json()["recent"]
    assert recent["requests"] >= 1
    ttfa = page.locator("#status-ttfa .stat-big")
    expect(ttfa).to_have_text(re.compile(r"^\d+\s*ms$"))
    # Rounded for display (JavaScript rounds halves up, Python to even): within half a unit.
    assert float(ttfa.inner_text().removesuffix("ms")) == pytest.approx(
        recent["ttfa_ms_p50"], abs=0.51
    )
    rtf = page.locator("#status-rtf .stat-big")
    expect(rtf).to_have_text(re.compile(r"^\d+\.\d{3}$"))
    assert float(rtf.inner_text()) == pytest.approx(recent["realtime_factor"], abs=0.00051)
    assert view.console_errors == []


@pytest.mark.parametrize(
    ("width", "scheme"), [(1280, "light"), (1280, "dark"), (390, "light"), (390, "dark")]
)
def test_every_view_fits_and_is_captured(
    studio: LiveServer, page_of: OpenStudio, width: int, scheme: str
) -> None:
    view = page_of(studio.url, width=width, height=844 if width < 500 else 900, scheme=scheme)
    page = view.open()
    theme = page.evaluate("getComputedStyle(document.documentElement).colorScheme")
    assert theme == scheme
    for name in VIEWS:
        view.tab(name)
        if name == "voices":
            expect(page.locator("#voice-list > li")).not_to_have_count(0)
        if name == "status":
            expect(page.locator("#status-grid .stat-card")).not_to_have_count(0)
        # No horizontal scrolling at any width, the phone's 390 px included.
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        capture(page, f"{name}-{width}-{scheme}")
    assert view.console_errors == []
    assert view.page_errors == []
