"""Open WebUI's OpenAI TTS provider, replayed request for request against a live server.

Open WebUI (backend/open_webui/routers/audio.py) lists models with `GET {base}/audio/models`
and voices with `GET {base}/audio/voices`, both without a key, and falls back to OpenAI's
names when either fails; it speaks with `POST {base}/audio/speech`, a JSON body of `input`,
`voice` and `model` plus its "OpenAI params", the admin's key as a bearer token, and stores
the answer as an .mp3 file. These tests send exactly that, with the base URL of docs/open-webui.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from speaker.auth.principal import Role
from speaker.config import Settings
from speaker.runtime import Runtime
from tests.conftest import LiveServer
from tests.helpers import decode, voiced_seconds

TEXT = "Here is the answer to your question. It has two sentences."


def _speak(base: str, key: str, voice: str, **params: object) -> httpx.Response:
    payload = {"input": TEXT, "voice": voice, "model": "tts-1", **params}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    return httpx.post(f"{base}/audio/speech", json=payload, headers=headers, timeout=60)


def _assert_speech_mp3(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    audio = decode(response.content, "mp3")
    # Open WebUI saves whatever comes back as .mp3 and plays it: it must be real mp3 speech.
    assert voiced_seconds(audio.samples, audio.sample_rate) > 1.5


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("owui-data"), workers=1, auth="on")
    runtime = Runtime(settings)
    runtime.load()
    secret = runtime.keys.create("open-webui", Role.USER, "owui", None, None).secret
    live = LiveServer(settings, runtime)
    live.start()
    yield live, secret
    live.stop()
    runtime.close()


def test_model_and_voice_lists_have_the_shape_open_webui_reads(server: LiveServer) -> None:
    base = f"{server.url}/v1"
    models = httpx.get(f"{base}/audio/models").json()["models"]
    ids = [m["id"] for m in models]
    assert {"tts-1", "tts-1-hd", "piper"} <= set(ids)
    assert all(m["name"] for m in models)
    voices = httpx.get(f"{base}/audio/voices").json()["voices"]
    # Open WebUI builds {voice["id"]: voice["name"]} from the list.
    by_id = {v["id"]: v["name"] for v in voices}
    assert by_id["en_US-joe-medium"]


def test_speech_with_the_guide_settings(server: LiveServer) -> None:
    base = f"{server.url}/v1"
    # Auth off: any key works, as the guide says for a loopback-only server.
    _assert_speech_mp3(_speak(base, "sk-anything", "en_US-joe-medium"))
    # The voice Open WebUI falls back to when it cannot list voices is an OpenAI name.
    _assert_speech_mp3(_speak(base, "sk-anything", "alloy"))


def test_open_webui_params_pass_through(server: LiveServer) -> None:
    base = f"{server.url}/v1"
    slow = _speak(base, "k", "alloy", speed=0.5, response_format="mp3")
    normal = _speak(base, "k", "alloy")
    slow_audio, normal_audio = decode(slow.content, "mp3"), decode(normal.content, "mp3")
    assert slow_audio.duration > 1.5 * normal_audio.duration


def test_keyed_server_refuses_the_unkeyed_lists_and_speaks_with_the_key(
    keyed: tuple[LiveServer, str],
) -> None:
    live, secret = keyed
    base = f"{live.url}/v1"
    # Open WebUI sends no key for the lists: a refusal makes it offer OpenAI's six names.
    listed = httpx.get(f"{base}/audio/voices")
    assert listed.status_code == 401
    assert listed.json()["error"]["code"]
    _assert_speech_mp3(_speak(base, secret, "nova"))
    wrong = _speak(base, "sk-not-a-key", "nova")
    assert wrong.status_code == 401
    # Open WebUI shows `error.message` to the user: it must say what is wrong.
    assert "key" in wrong.json()["error"]["message"].lower()
