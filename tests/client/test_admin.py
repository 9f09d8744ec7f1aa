"""The SDK's consents, keys, audit, voice export/import, clearing fields and wait_ready, live."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from speaker.client import (
    AsyncSpeakerClient,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    SpeakerClient,
    WaitTimeoutError,
)
from tests.conftest import LiveServer
from tests.helpers import free_port

pytestmark = pytest.mark.slow

SAMPLE_TEXT = (
    "My voice is my own. I read this short passage so the server can learn how I sound, "
    "and I agree that it may speak in my voice."
)


@pytest.fixture(scope="module")
def admin(keyed_server: tuple[LiveServer, str]) -> Iterator[SpeakerClient]:
    live, secret = keyed_server
    with SpeakerClient(live.url, api_key=secret, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def sample(admin: SpeakerClient) -> bytes:
    return admin.speech(SAMPLE_TEXT, format="wav")


def test_keys_are_created_used_listed_and_revoked(
    admin: SpeakerClient, keyed_server: tuple[LiveServer, str]
) -> None:
    live, _ = keyed_server
    created = admin.keys.create("reader", role="readonly", requests_per_minute=100)
    assert created.secret.startswith(created.prefix)
    assert (created.role, created.owner, created.requests_per_minute) == ("readonly", "reader", 100)
    with SpeakerClient(live.url, api_key=created.secret) as reader:
        assert reader.status().status == "ready"
        with pytest.raises(PermissionDeniedError):
            reader.keys.list()
    listed = {k.id: k for k in admin.keys.list()}
    assert created.id in listed
    assert not hasattr(listed[created.id], "secret")
    revoked = admin.keys.revoke(created.id)
    assert revoked.revoked_at is not None
    assert admin.keys.get(created.id).revoked_at == revoked.revoked_at
    with (
        SpeakerClient(live.url, api_key=created.secret, max_retries=0) as gone,
        pytest.raises(AuthenticationError) as refused,
    ):
        gone.status()
    assert refused.value.code == "invalid_api_key"


def test_the_audit_log_pages_newest_first(admin: SpeakerClient) -> None:
    for n in range(3):
        admin.keys.revoke(admin.keys.create(f"temp-{n}").id)
    page = admin.audit.list(action="key", limit=2)
    assert len(page.data) == 2
    assert page.has_more
    assert page.next_cursor is not None
    assert page.data[0].at >= page.data[1].at
    assert all(e.action.startswith("key.") for e in page.data)
    older = admin.audit.list(action="key", limit=2, cursor=page.next_cursor)
    assert {e.id for e in older.data}.isdisjoint(e.id for e in page.data)


def test_consents_are_recorded_listed_renamed_and_deleted(
    admin: SpeakerClient, sample: bytes
) -> None:
    consent = admin.consents.create(sample, name="Ana agrees", language="en-US")
    assert consent.id.startswith("cons_")
    assert admin.consents.get(consent.id).name == "Ana agrees"
    assert consent.id in [c.id for c in admin.consents.list(limit=100).data]
    assert admin.consents.rename(consent.id, "Ana (signed)").name == "Ana (signed)"
    assert admin.consents.delete(consent.id).deleted
    with pytest.raises(NotFoundError):
        admin.consents.get(consent.id)


def test_voices_export_import_and_clearing_a_field(admin: SpeakerClient, sample: bytes) -> None:
    voice = admin.voices.create(
        sample, name="Exported", transcript=SAMPLE_TEXT, gender="female", description="warm"
    )
    # Not given: stays. None: cleared.
    edited = admin.voices.update(voice.id, gender=None)
    assert (edited.gender, edited.description, edited.name) == (None, "warm", "Exported")
    archive = admin.voices.export([voice.id])
    assert archive[:2] == b"PK"
    (imported,) = admin.voices.import_archive(archive)
    assert imported.id != voice.id
    assert (imported.name, imported.transcript) == ("Exported", SAMPLE_TEXT)
    for made in (voice, imported):
        admin.voices.delete(made.id)


def test_wait_ready_returns_once_ready_and_times_out_when_nothing_listens(
    keyed_server: tuple[LiveServer, str],
) -> None:
    live, secret = keyed_server
    with SpeakerClient(live.url, api_key=secret) as ready:
        ready.wait_ready(timeout=10)
    nowhere = f"http://127.0.0.1:{free_port()}"
    with (
        SpeakerClient(nowhere, max_retries=0) as absent,
        pytest.raises(WaitTimeoutError, match="not ready after 1"),
    ):
        absent.wait_ready(timeout=1)


def test_the_async_client_has_the_same_admin_calls(keyed_server: tuple[LiveServer, str]) -> None:
    live, secret = keyed_server

    async def scenario() -> tuple[int, int]:
        async with AsyncSpeakerClient(live.url, api_key=secret) as client:
            await client.wait_ready(timeout=10)
            created = await client.keys.create("async-key")
            await client.keys.revoke(created.id)
            page = await client.audit.list(action="key.revoke", limit=1)
            consents = await client.consents.list()
            return len(page.data), len(consents.data)

    entries, _ = asyncio.run(scenario())
    assert entries == 1
