"""The audit log on a real SQLite database: recorded with who and where, read back filtered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from speaker.auth.audit import Action, AuditLog, AuditQuery
from speaker.auth.principal import ANONYMOUS, Principal, Role
from speaker.storage.database import Database, sqlite_url


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    database = Database(sqlite_url(tmp_path / "speaker.db"))
    yield AuditLog(database)
    database.close()


def test_entries_say_who_did_what_when_and_from_where(log: AuditLog) -> None:
    alice = Principal(Role.USER, key_id="key_a", owner="alice")
    entry = log.record(
        alice, Action.VOICE_CREATE, target="voice_1", address="10.0.0.7", detail={"name": "A"}
    )
    log.record(ANONYMOUS, Action.KEY_CREATE, target="key_b", address="cli")
    entries, more = log.query(AuditQuery())
    assert not more
    assert [e.action for e in entries] == ["key.create", "voice.create"]
    assert entries[1] == entry
    assert (entry.actor, entry.owner, entry.address) == ("key_a", "alice", "10.0.0.7")
    assert entry.detail == {"name": "A"}
    assert entries[0].actor is None


def test_queries_filter_and_page(log: AuditLog) -> None:
    bob = Principal(Role.USER, key_id="key_b", owner="bob")
    actions = [Action.VOICE_CREATE, Action.VOICE_SHARE, Action.CONSENT_CREATE, Action.VOICE_DELETE]
    made = [log.record(bob, action, target=f"t{n}") for n, action in enumerate(actions)]
    log.record(ANONYMOUS, Action.KEY_REVOKE, target="key_x")

    voice, more = log.query(AuditQuery(action="voice", limit=2))
    assert [e.action for e in voice] == ["voice.delete", "voice.share"]
    assert more
    older, more = log.query(AuditQuery(action="voice", limit=2, cursor=voice[-1].id))
    assert [e.action for e in older] == ["voice.create"]
    assert not more
    exact, _ = log.query(AuditQuery(action="voice.share"))
    assert [e.target for e in exact] == ["t1"]
    assert log.query(AuditQuery(action="voice.sh"))[0] == []
    by_bob, _ = log.query(AuditQuery(actor="key_b"))
    assert len(by_bob) == 4
    window, _ = log.query(AuditQuery(since=made[1].at, until=made[3].at))
    assert [e.target for e in window] == ["t2", "t1"]
