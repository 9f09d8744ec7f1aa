"""Voices, jobs and API keys through the SDK against live servers."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from speaker.auth.keys import KeyStore
from speaker.auth.principal import Role
from speaker.client import (
    AsyncSpeakerClient,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    Job,
    NotFoundError,
    SpeakerClient,
)
from speaker.config import Settings
from speaker.runtime import Runtime
from tests.conftest import LiveServer
from tests.helpers import decode

pytestmark = pytest.mark.slow

SAMPLE_TEXT = (
    "My voice is my own. I read this short passage so the server can learn how I sound, "
    "and I agree that it may speak in my voice."
)


@pytest.fixture(scope="module")
def sample(client: SpeakerClient) -> bytes:
    return client.speech(SAMPLE_TEXT, format="wav")


def test_a_voice_is_created_listed_edited_previewed_and_deleted(
    client: SpeakerClient, sample: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "ana.wav"
    path.write_bytes(sample)
    voice = client.voices.create(
        path, name="Ana", transcript=SAMPLE_TEXT, tags=["warm", "sdk"], language="en-US"
    )
    try:
        assert voice.type == "cloned"
        assert voice.id.startswith("voice_")
        assert (voice.name, voice.tags, voice.transcript) == ("Ana", ["sdk", "warm"], SAMPLE_TEXT)
        assert voice.quality is not None
        assert [v.id for v in client.voices.list(tag="sdk", type="cloned")] == [voice.id]
        assert voice.id not in [v.id for v in client.voices.list(type="builtin")]
        edited = client.voices.update(voice.id, name="Ana B.", tags=["calm"])
        assert (edited.name, edited.tags, edited.transcript) == ("Ana B.", ["calm"], SAMPLE_TEXT)
        assert client.voices.get(voice.id).name == "Ana B."
        reference = decode(client.voices.reference_audio(voice.id), "wav")
        assert 3 <= reference.duration <= 30
        assert decode(client.voices.preview(voice.id, format="wav"), "wav").duration > 1
        # Piper cannot clone: speaking the voice says which engine to install.
        with pytest.raises(InvalidRequestError) as err:
            client.speech("Hi.", voice=voice)
        assert err.value.code == "voice_requires_cloning_engine"
        assert err.value.suggestion
    finally:
        deleted = client.voices.delete(voice.id)
    assert (deleted.id, deleted.deleted) == (voice.id, True)
    with pytest.raises(NotFoundError) as gone:
        client.voices.get(voice.id)
    assert gone.value.status == 404


def test_a_voice_from_bytes_and_a_bad_upload(client: SpeakerClient, sample: bytes) -> None:
    voice = client.voices.create(sample, name="From bytes", transcript=SAMPLE_TEXT)
    assert client.voices.delete(voice.id).deleted
    with pytest.raises(InvalidRequestError) as err:
        client.voices.create(b"not audio at all", name="junk", filename="junk.txt")
    assert err.value.status == 415
    assert err.value.code == "unsupported_audio"


def test_a_job_is_submitted_waited_for_with_progress_and_downloaded(
    client: SpeakerClient,
) -> None:
    texts = ["Chapter one. It was a bright cold day.", "Chapter two. The hallway smelt."]
    job = client.jobs.submit(texts, format="wav", metadata={"book": "sdk"})
    assert job.state in ("queued", "running")
    assert job.item_count == 2
    seen: list[Job] = []
    done = client.jobs.wait(job.id, on_progress=seen.append, timeout=60)
    assert done.state == "succeeded"
    assert done.progress == 1.0
    assert seen
    assert seen[-1] == done
    assert [i.state for i in done.items or []] == ["succeeded", "succeeded"]
    assert decode(client.jobs.download_item(job.id, 1), "wav").duration > 1
    with zipfile.ZipFile(io.BytesIO(client.jobs.download_results(job.id))) as archive:
        assert sorted(archive.namelist()) == ["00000.wav", "00001.wav", "job.json"]
        assert json.loads(archive.read("job.json"))["metadata"] == {"book": "sdk"}
    assert job.id in [j.id for j in client.jobs.list(state="succeeded", limit=100).data]


def test_a_cancelled_job_and_its_missing_items(client: SpeakerClient) -> None:
    job = client.jobs.submit(["A sentence to speak, slowly and at length."] * 6, priority=9)
    cancelled = client.jobs.cancel(job.id)
    assert cancelled.state == "cancelled"
    assert cancelled.counts.cancelled >= 4
    with pytest.raises(ConflictError) as err:
        client.jobs.download_item(job.id, 5)
    assert err.value.code == "item_cancelled"
    with pytest.raises(NotFoundError) as missing:
        client.jobs.get("job_nope")
    assert missing.value.code == "job_not_found"


def test_the_async_client_runs_jobs_and_voices(server: LiveServer, sample: bytes) -> None:
    async def run() -> tuple[Job, list[Job], bytes]:
        async with AsyncSpeakerClient(server.url) as client:
            job = await client.jobs.submit(["Asynchronous batch."], format="mp3")
            snapshots = [j async for j in client.jobs.watch(job.id)]
            audio = await client.jobs.download_item(job.id, 0)
            voice = await client.voices.create(sample, name="Async", transcript=SAMPLE_TEXT)
            assert (await client.voices.get(voice.id)).name == "Async"
            assert (await client.voices.delete(voice.id)).deleted
            return await client.jobs.wait(job.id), snapshots, audio

    done, snapshots, audio = asyncio.run(run())
    assert done.state == "succeeded"
    assert snapshots[-1].finished
    assert not any(s.finished for s in snapshots[:-1])
    assert decode(audio, "mp3").duration > 0.5


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("keyed-sdk"), workers=1, auth="on")
    runtime = Runtime(settings)
    runtime.load()
    secret = KeyStore(runtime.database).create("sdk", Role.USER, "ana").secret
    live = LiveServer(settings, runtime)
    live.start()
    yield live, secret
    live.stop()
    runtime.close()


def test_a_key_is_sent_from_the_argument_or_the_environment(
    keyed: tuple[LiveServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    live, secret = keyed
    monkeypatch.delenv("SPEAKER_API_KEY", raising=False)
    with SpeakerClient(live.url) as anonymous, pytest.raises(AuthenticationError) as err:
        anonymous.status()
    assert (err.value.status, err.value.code) == (401, "missing_api_key")
    with SpeakerClient(live.url, api_key="sk-wrong") as wrong, pytest.raises(AuthenticationError):
        wrong.speech("Hi.")
    with SpeakerClient(live.url, api_key=secret) as client:
        assert client.status().status == "ready"
        assert decode(client.speech("With a key.", format="wav"), "wav").duration > 0.5
    monkeypatch.setenv("SPEAKER_URL", live.url)
    monkeypatch.setenv("SPEAKER_API_KEY", secret)
    with SpeakerClient() as from_env:
        assert from_env.options.base_url == live.url
        with from_env.session() as session:
            session.send_text("A keyed session.")
            session.close()
            assert b"".join(session)
    monkeypatch.delenv("SPEAKER_API_KEY")
    with (
        SpeakerClient() as keyless,
        pytest.raises(AuthenticationError) as refused,
        keyless.session(),
    ):
        pass
    assert refused.value.code == "missing_api_key"
