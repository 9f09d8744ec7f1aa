"""The studio against a Piper-only server that requires API keys: the key prompt, and the
message when no loaded engine can speak a cloned voice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import Locked, Studio

pytestmark = pytest.mark.slow

OpenStudio = Callable[..., Studio]


def test_the_page_asks_for_a_key_and_remembers_it(locked: Locked, page_of: OpenStudio) -> None:
    view = page_of(locked.url)
    page = view.page
    page.goto(f"{locked.url}/#voices")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    # The server's own words, from its 401.
    expect(dialog).to_contain_text("This server needs an API key")
    expect(page.locator("#key-input")).to_be_focused()

    page.fill("#key-input", "spk-not-a-real-key")
    page.click("#key-save")
    expect(dialog.locator("[role=alert]")).to_contain_text("The API key is not valid")
    page.fill("#key-input", locked.key)
    page.click("#key-save")
    expect(dialog).to_be_hidden()
    expect(page.locator("#server-pill")).to_have_class("pill ok")
    expect(page.locator("#voice-list > li")).not_to_have_count(0)
    assert page.evaluate("localStorage.getItem('speaker.apiKey')") == locked.key

    # Remembered: a new visit asks nothing.
    page.reload()
    expect(page.locator("#server-pill")).to_have_class("pill ok")
    expect(dialog).to_be_hidden()
    expect(page.locator("#key-button")).to_be_visible()


def test_cancelling_the_key_prompt_shows_why_nothing_loaded(
    locked: Locked, page_of: OpenStudio
) -> None:
    view = page_of(locked.url)
    page = view.page
    page.goto(f"{locked.url}/#speak")
    expect(page.locator("#key-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    alert = page.locator("#speak-error [role=alert]")
    expect(alert).to_contain_text("This server needs an API key")
    expect(alert).to_contain_text("speaker keys create")
    expect(page.locator("#server-pill")).to_have_text("Needs a key")


def test_an_engine_that_cannot_clone_is_explained(
    locked: Locked, page_of: OpenStudio, speech_wav: Path
) -> None:
    view = page_of(locked.url, key=locked.key)
    page = view.open("clone")
    note = page.locator("#clone-engine-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("cannot clone")

    page.fill("#clone-name", "Piper only")
    page.set_input_files("#clone-file", str(speech_wav))
    page.click("#sample-next")
    page.click("#consent-next")
    expect(page.locator("#step-review")).to_be_visible(timeout=120_000)
    page.click("#clone-test")

    voices = httpx.get(
        f"{locked.url}/v1/voices",
        params={"q": "Piper only"},
        headers={"Authorization": f"Bearer {locked.key}"},
    ).json()["data"]
    refused = httpx.post(
        f"{locked.url}/v1/audio/speech",
        json={"model": "tts-1", "voice": {"id": voices[0]["id"]}, "input": "Test."},
        headers={"Authorization": f"Bearer {locked.key}"},
    ).json()["error"]
    assert refused["code"] == "voice_requires_cloning_engine"
    alert = page.locator("#clone-error [role=alert]")
    expect(alert).to_contain_text(refused["message"][0].upper() + refused["message"][1:])
    expect(alert).to_contain_text(refused["suggestion"])
    assert view.console_errors == [
        # The refused request, as chromium logs every failed fetch.
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
