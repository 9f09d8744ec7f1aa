"""The voice library over HTTP: OpenAI's consent and voice endpoints and the native ones."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from speaker.audio.formats import AudioFormat
from speaker.auth.principal import ANONYMOUS
from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from speaker.voices.intake import encode_wav
from tests.conftest import LiveServer
from tests.helpers import decode

pytestmark = pytest.mark.slow

SAMPLE_TEXT = (
    "My voice is my own. I read this short passage so the server can learn how I sound, "
    "and I agree that it may speak in my voice."
)


def _speech_wav(runtime: Runtime, text: str) -> bytes:
    order = SpeechOrder(text=text, model="piper", fmt=AudioFormat.WAV)
    return asyncio.run(runtime.service.synthesize(order))


@pytest.fixture(scope="module")
def sample(runtime: Runtime) -> bytes:
    return _speech_wav(runtime, SAMPLE_TEXT)


@pytest.fixture(scope="module")
def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="not-needed", max_retries=0)


@pytest.fixture(scope="module")
def http(server: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c  # type: ignore[misc]


@pytest.fixture(scope="module")
def consent_id(client: openai.OpenAI, sample: bytes) -> str:
    consent = client.audio.voice_consents.create(
        recording=("consent.wav", sample, "audio/wav"), name="Joe's consent", language="en-US"
    )
    return consent.id


@pytest.fixture(scope="module")
def voice_id(client: openai.OpenAI, sample: bytes, consent_id: str) -> str:
    voice = client.audio.voices.create(
        audio_sample=("joe.wav", sample, "audio/wav"), consent=consent_id, name="Joe cloned"
    )
    return voice.id


def test_consents_follow_openais_lifecycle(client: openai.OpenAI, sample: bytes) -> None:
    consent = client.audio.voice_consents.create(
        recording=("c.wav", sample, "audio/wav"), name="first", language="en-GB"
    )
    assert consent.id.startswith("cons_")
    assert consent.object == "audio.voice_consent"
    assert (consent.name, consent.language) == ("first", "en-GB")
    assert client.audio.voice_consents.retrieve(consent.id).id == consent.id
    renamed = client.audio.voice_consents.update(consent.id, name="renamed")
    assert renamed.name == "renamed"
    listed = [c.id for c in client.audio.voice_consents.list(limit=100)]
    assert consent.id in listed
    deleted = client.audio.voice_consents.delete(consent.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError) as caught:
        client.audio.voice_consents.retrieve(consent.id)
    assert caught.value.body["code"] == "consent_not_found"  # type: ignore[index]


def test_consent_pages_are_cursor_paged(client: openai.OpenAI, sample: bytes) -> None:
    made = [
        client.audio.voice_consents.create(
            recording=("c.wav", sample, "audio/wav"), name=f"page {n}", language="en"
        ).id
        for n in range(3)
    ]
    first = client.audio.voice_consents.list(limit=2)
    assert len(first.data) == 2
    assert first.has_more is True
    seen = [c.id for c in client.audio.voice_consents.list(limit=2)]  # auto-paginates
    assert set(made) <= set(seen)
    assert len(seen) == len(set(seen))
    for consent in made:
        client.audio.voice_consents.delete(consent)


def test_voice_created_with_the_openai_client(
    client: openai.OpenAI, http: httpx.Client, voice_id: str, consent_id: str
) -> None:
    assert voice_id.startswith("voice_")
    voice = http.get(f"/v1/voices/{voice_id}").json()
    assert voice["type"] == "cloned"
    assert voice["consent_id"] == consent_id
    assert voice["language"] == "en-US"
    # No transcript was sent: Whisper made one from the audio.
    assert voice["transcript_source"] == "automatic"
    words = set(voice["transcript"].lower().replace(".", "").replace(",", "").split())
    assert len(words & {"my", "voice", "own", "server", "agree", "speak"}) >= 4
    quality = voice["quality"]
    assert 5 < quality["duration_s"] < 15
    assert quality["clipping_ratio"] < 0.01
    listed = http.get("/v1/audio/voices").json()["voices"]
    assert any(v["id"] == voice_id and v["source"] == "cloned" for v in listed)


def test_voice_upload_needs_a_known_consent(client: openai.OpenAI, sample: bytes) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.audio.voices.create(
            audio_sample=("a.wav", sample, "audio/wav"), consent="cons_000000000000", name="x"
        )
    assert caught.value.body["code"] == "consent_not_found"  # type: ignore[index]


def test_piper_cannot_speak_a_cloned_voice(client: openai.OpenAI, voice_id: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="tts-1", voice={"id": voice_id}, input="Hello there.")
    body = caught.value.body
    assert body["code"] == "voice_requires_cloning_engine"  # type: ignore[index]
    assert "speaker-tts[csm]" in body["suggestion"]  # type: ignore[index]


def test_native_update_filter_and_search(http: httpx.Client, voice_id: str) -> None:
    changed = http.patch(
        f"/v1/voices/{voice_id}",
        json={"tags": ["warm", "narration"], "description": "calm reader", "gender": "male"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["tags"] == ["narration", "warm"]
    ids = lambda **q: [v["id"] for v in http.get("/v1/voices", params=q).json()["data"]]  # noqa: E731
    assert voice_id in ids(tag="warm")
    assert voice_id not in ids(tag="cheerful")
    assert voice_id in ids(language="en")
    assert voice_id not in ids(language="de")
    assert voice_id in ids(q="calm")
    assert voice_id not in ids(type="builtin")
    assert "en_US-joe-medium" in ids(type="builtin")
    bad = http.patch(f"/v1/voices/{voice_id}", json={"id": "voice_mine"})
    assert bad.status_code == 400


def test_preview_without_a_cloning_engine_is_the_reference(
    http: httpx.Client, voice_id: str
) -> None:
    reply = http.get(f"/v1/voices/{voice_id}/preview")
    assert reply.status_code == 200
    assert reply.headers["x-speaker-preview"] == "reference"
    assert decode(reply.content, "wav").duration > 3


def test_builtin_preview_is_synthesized_once_then_cached(
    http: httpx.Client, runtime: Runtime
) -> None:
    first = http.get("/v1/voices/en_US-joe-medium/preview", params={"format": "wav"})
    assert first.status_code == 200
    assert first.headers["x-speaker-preview"] == "synthesized"
    completed = runtime.scheduler.stats().completed
    second = http.get("/v1/voices/en_US-joe-medium/preview", params={"format": "wav"})
    assert second.content == first.content
    assert runtime.scheduler.stats().completed == completed
    assert decode(first.content, "wav").duration > 2


def test_export_then_import_makes_new_voices(http: httpx.Client, voice_id: str) -> None:
    exported = http.get("/v1/voices/export", params={"ids": voice_id})
    assert exported.status_code == 200
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert sorted(archive.namelist()) == sorted(["manifest.json", f"{voice_id}.wav"])
    imported = http.post(
        "/v1/voices/import", files={"file": ("voices.zip", exported.content, "application/zip")}
    )
    assert imported.status_code == 201, imported.text
    (copy,) = imported.json()["data"]
    assert copy["id"] != voice_id
    assert copy["name"] == "Joe cloned"
    assert copy["tags"] == ["narration", "warm"]
    assert http.delete(f"/v1/voices/{copy['id']}").status_code == 200
    junk = http.post("/v1/voices/import", files={"file": ("v.zip", b"PK\x03\x04junk", "x")})
    assert junk.status_code == 422
    assert junk.json()["error"]["code"] == "invalid_export"


def _post_voice(
    http: httpx.Client, data: bytes, filename: str = "a.wav", name: str = "n"
) -> httpx.Response:
    return http.post(
        "/v1/voices", data={"name": name}, files={"audio": (filename, data, "audio/wav")}
    )


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("empty", 400, "empty_file"),
        ("text", 415, "unsupported_audio"),
        ("truncated", None, None),
        ("silence", 422, "no_speech"),
        ("short", 422, "audio_too_short"),
        ("long", 422, "audio_too_long"),
        ("huge", 413, None),
    ],
)
def test_bad_uploads_get_a_clear_4xx(
    http: httpx.Client,
    runtime: Runtime,
    sample: bytes,
    case: str,
    status: int | None,
    code: str | None,
) -> None:
    rate = 24_000
    speech = decode(sample, "wav").samples
    data = {
        "empty": b"",
        "text": b"this is not audio at all, just words in a file\n" * 20,
        "truncated": sample[:30],
        "silence": encode_wav(np.zeros(rate * 5, np.float32), rate),
        "short": encode_wav(speech[: int(rate * 1.5)], rate),
        "long": encode_wav(np.tile(speech, 20)[: rate * 120], rate),
        "huge": b"\0" * (11 * 1024 * 1024),
    }[case]
    before = {v.id for v in runtime.library.search(viewer=ANONYMOUS)}
    reply = _post_voice(http, data)
    if status is None:
        assert reply.status_code in (415, 422), reply.text
    else:
        assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    assert {v.id for v in runtime.library.search(viewer=ANONYMOUS)} == before


def test_path_like_names_never_become_paths(
    http: httpx.Client, runtime: Runtime, sample: bytes, settings: object
) -> None:
    data_dir = Path(runtime.settings.data_dir).resolve()
    reply = _post_voice(http, sample, filename="../../etc/passwd", name="../../etc/passwd")
    assert reply.status_code == 201, reply.text
    voice = reply.json()
    assert voice["name"] == "../../etc/passwd"
    assert voice["id"].startswith("voice_")
    folder = runtime.library.reference_path(voice["id"], viewer=ANONYMOUS).parent.resolve()
    assert folder.parent == data_dir / "library" / "voices"
    assert not any("passwd" in p.name for p in data_dir.rglob("*"))
    assert http.delete(f"/v1/voices/{voice['id']}").status_code == 200
    assert not folder.exists()
    assert http.get(f"/v1/voices/{voice['id']}").status_code == 404
    traversal = http.get("/v1/voices/..%2F..%2Fetc%2Fpasswd")
    assert traversal.status_code == 404


def test_deleting_a_voice_frees_its_files(
    client: openai.OpenAI, runtime: Runtime, sample: bytes, consent_id: str
) -> None:
    voice = client.audio.voices.create(
        audio_sample=("x.wav", sample, "audio/wav"), consent=consent_id, name="temporary"
    )
    folder = runtime.library.reference_path(voice.id, viewer=ANONYMOUS).parent
    assert folder.is_dir()
    deleted = client.audio.voices.delete(voice.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (voice.id, True, "audio.voice.deleted")
    assert not folder.exists()
    with pytest.raises(openai.NotFoundError):
        client.audio.voices.delete(voice.id)


def test_voice_conversion_needs_a_cloning_engine(http: httpx.Client, sample: bytes) -> None:
    reply = http.post(
        "/v1/audio/vc",
        data={"input": "Say this in my voice."},
        files={"reference_audio": ("me.wav", sample, "audio/wav")},
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "voice_requires_cloning_engine"
