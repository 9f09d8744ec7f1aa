"""The key store on real SQLite and PostgreSQL: secrets shown once, stored hashed, revocable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from speaker.auth.audit import Action, AuditLog, AuditQuery
from speaker.auth.keys import KeyStore, digest
from speaker.auth.principal import Role
from speaker.errors import InvalidRequestError, NotFoundError
from speaker.storage.database import Database, sqlite_url
from speaker.storage.tables import api_keys
from tests.servers import PostgresServer


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(sqlite_url(tmp_path / "speaker.db"))
    yield db
    db.close()


def test_a_key_authenticates_until_revoked(database: Database) -> None:
    store = KeyStore(database)
    created = store.create("ci", Role.USER, "team", requests_per_minute=10)
    assert created.secret.startswith("spk-")
    assert len(created.secret) > 40
    assert created.secret.startswith(created.record.prefix)
    assert created.webhook_secret.startswith("whsec_")
    found = store.authenticate(created.secret)
    assert found is not None
    assert found.principal.role is Role.USER
    assert (found.principal.owner, found.principal.key_id) == ("team", created.record.id)
    assert found.requests_per_minute == 10
    assert found.chars_per_minute is None
    assert store.authenticate(created.secret + "x") is None
    assert store.authenticate("") is None
    revoked = store.revoke(created.record.id)
    assert revoked.revoked_at is not None
    assert store.revoke(created.record.id) == revoked
    assert store.authenticate(created.secret) is None
    assert [k.id for k in store.list_keys()] == [created.record.id]
    assert store.list_keys(include_revoked=False) == []
    with pytest.raises(NotFoundError):
        store.revoke("key_missing")


def test_only_a_digest_of_the_secret_is_stored(database: Database, tmp_path: Path) -> None:
    created = KeyStore(database).create("ci", Role.ADMIN, "ops")
    with database.begin() as conn:
        row = conn.execute(select(api_keys)).one()
    assert row.secret_hash == digest(created.secret)
    assert created.secret not in [str(v) for v in row]
    database.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("speaker.db*"))
    assert created.secret.encode() not in stored
    assert digest(created.secret).encode() in stored


def test_each_key_has_its_own_webhook_secret(database: Database) -> None:
    store = KeyStore(database)
    first = store.create("one", Role.USER, "team")
    second = store.create("two", Role.USER, "team")
    assert store.webhook_secret(first.record.id) == first.webhook_secret
    assert store.webhook_secret(second.record.id) == second.webhook_secret
    assert first.webhook_secret != second.webhook_secret
    assert store.webhook_secret("key_gone") is None


def test_keys_need_a_name_owner_and_sane_limits(database: Database) -> None:
    store = KeyStore(database)
    with pytest.raises(InvalidRequestError):
        store.create(" ", Role.USER, "team")
    with pytest.raises(InvalidRequestError):
        store.create("ci", Role.USER, "")
    with pytest.raises(InvalidRequestError):
        store.create("ci", Role.USER, "team", chars_per_minute=-1)


def test_active_count_is_cached_but_follows_local_changes(database: Database) -> None:
    store = KeyStore(database)
    assert store.active_count() == 0
    first = store.create("a", Role.USER, "team")
    assert store.active_count() == 1
    # A key made elsewhere (another replica, the CLI) shows up within about a second.
    KeyStore(database).create("b", Role.USER, "team")
    assert store.active_count() == 1
    time.sleep(1.1)
    assert store.active_count() == 2
    store.revoke(first.record.id)
    assert store.active_count() == 1


def test_last_use_is_written_at_most_once_a_minute(database: Database) -> None:
    store = KeyStore(database)
    created = store.create("a", Role.USER, "team")
    assert created.record.last_used_at is None
    store.authenticate(created.secret)
    first = store.get(created.record.id).last_used_at
    assert first is not None
    with database.begin() as conn:
        conn.execute(update(api_keys).values(last_used_at=first - 30))
    store.authenticate(created.secret)
    assert store.get(created.record.id).last_used_at == first - 30
    with database.begin() as conn:
        conn.execute(update(api_keys).values(last_used_at=first - 61))
    store.authenticate(created.secret)
    assert store.get(created.record.id).last_used_at >= first  # type: ignore[operator]


def test_keys_and_audit_on_postgresql(postgres_server: PostgresServer) -> None:
    database = Database(postgres_server.new_database())
    try:
        store, log = KeyStore(database), AuditLog(database)
        created = store.create("replica", Role.ADMIN, "ops", chars_per_minute=500)
        found = store.authenticate(created.secret)
        assert found is not None
        assert found.chars_per_minute == 500
        assert store.active_count() == 1
        store.revoke(created.record.id)
        assert store.authenticate(created.secret) is None
        first = log.record(found.principal, Action.KEY_CREATE, target=created.record.id)
        second = log.record(found.principal, Action.VOICE_SHARE, target="voice_1")
        assert second.id > first.id
        shared, _ = log.query(AuditQuery(action="voice"))
        assert [e.id for e in shared] == [second.id]
    finally:
        database.close()


def test_a_provisioned_admin_key_is_added_once_and_stays_revoked(database: Database) -> None:
    store = KeyStore(database)
    secret = "spk-from-a-kubernetes-secret-0123456789"
    assert store.provision(secret)
    found = store.authenticate(secret)
    assert found is not None
    assert found.principal.role is Role.ADMIN
    # A restart (or a second replica) finds it and adds nothing.
    assert not store.provision(secret)
    assert len(store.list_keys()) == 1
    store.revoke(found.id)
    # Revoking it through the API wins over the configuration that keeps naming it.
    assert not store.provision(secret)
    assert store.authenticate(secret) is None


def test_runtime_provisions_speaker_admin_key(tmp_path: Path) -> None:
    from speaker.config import Settings
    from speaker.runtime import Runtime

    secret = "spk-admin-key-from-the-environment-42"
    settings = Settings(data_dir=tmp_path, admin_key=secret, job_workers=0)
    runtime = Runtime(settings)
    runtime.load()
    try:
        found = runtime.keys.authenticate(secret)
        assert found is not None
        assert found.principal.role is Role.ADMIN
        assert secret not in repr(settings)
    finally:
        runtime.close()
