"""API keys: made once, shown once, stored as a SHA-256 digest and looked up by it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from speaker.auth.principal import Principal, Role
from speaker.errors import InvalidRequestError, NotFoundError
from speaker.storage.database import Database
from speaker.storage.tables import api_keys

KEY_PREFIX = "spk-"
# Enough of the secret to tell keys apart in a list, far too little to guess the rest.
_SHOWN_CHARS = len(KEY_PREFIX) + 8
# last_used_at is for people reading `speaker keys list`: minute precision spares a write per
# request.
_LAST_USED_EVERY_S = 60
# auth=auto asks "does any key exist?" on every request; a second-old answer is good enough,
# and a key made or revoked here resets it at once.
_COUNT_TTL_S = 1.0


def digest(secret: str) -> str:
    """The stored form of a secret: keys are 256-bit random, so a fast hash cannot be reversed."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKeyRecord:
    """A key as listed: everything but its secrets."""

    id: str
    name: str
    prefix: str
    role: Role
    owner: str
    created_at: int
    revoked_at: int | None = None
    last_used_at: int | None = None
    requests_per_minute: int | None = None
    """This key's own request limit; None falls back to SPEAKER_RATE_LIMIT_RPM, 0 is unlimited."""
    chars_per_minute: int | None = None
    """This key's own character limit; None falls back to SPEAKER_RATE_LIMIT_CPM."""

    @property
    def active(self) -> bool:
        """True until the key is revoked."""
        return self.revoked_at is None

    @property
    def principal(self) -> Principal:
        """The caller a request with this key acts as."""
        return Principal(role=self.role, key_id=self.id, owner=self.owner)


@dataclass(frozen=True)
class CreatedKey:
    """A new key with its secrets, which exist in clear only in this object."""

    record: ApiKeyRecord
    secret: str
    """The bearer token; only its digest is stored."""
    webhook_secret: str
    """Signs this key's webhooks (Standard Webhooks `whsec_` form)."""


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        role=Role(row.role),
        owner=row.owner,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        requests_per_minute=row.requests_per_minute,
        chars_per_minute=row.chars_per_minute,
    )


def _limit(value: int | None, param: str) -> int | None:
    if value is not None and value < 0:
        raise InvalidRequestError(
            f"{param} must be 0 (unlimited) or more", code="invalid_value", param=param
        )
    return value


class KeyStore:
    """Create, list, revoke and authenticate API keys in the metadata database."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._lock = threading.Lock()
        self._count: tuple[float, int] | None = None

    def create(
        self,
        name: str,
        role: Role,
        owner: str,
        requests_per_minute: int | None = None,
        chars_per_minute: int | None = None,
        *,
        secret: str | None = None,
    ) -> CreatedKey:
        """A new key; its secret and webhook secret are returned here and never again.

        `secret` is for a key chosen outside (SPEAKER_ADMIN_KEY); normally one is drawn here.
        """
        name, owner = name.strip(), owner.strip()
        if not name or not owner:
            raise InvalidRequestError(
                "a key needs a name and an owner",
                code="invalid_value",
                param="name" if not name else "owner",
            )
        secret = secret or KEY_PREFIX + secrets.token_urlsafe(32)
        webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        record = ApiKeyRecord(
            id=f"key_{secrets.token_hex(8)}",
            name=name,
            prefix=secret[:_SHOWN_CHARS],
            role=role,
            owner=owner,
            created_at=int(time.time()),
            requests_per_minute=_limit(requests_per_minute, "requests_per_minute"),
            chars_per_minute=_limit(chars_per_minute, "chars_per_minute"),
        )
        with self._db.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=record.id,
                    name=record.name,
                    prefix=record.prefix,
                    secret_hash=digest(secret),
                    role=record.role.value,
                    owner=record.owner,
                    created_at=record.created_at,
                    requests_per_minute=record.requests_per_minute,
                    chars_per_minute=record.chars_per_minute,
                    webhook_secret=webhook_secret,
                )
            )
        self._forget_count()
        return CreatedKey(record, secret, webhook_secret)

    def provision(self, secret: str, name: str = "admin (SPEAKER_ADMIN_KEY)") -> bool:
        """Make `secret` an admin key unless it already is one (or was, and has been revoked).

        Returns True when it was added. Replicas starting together may race: the secret's
        unique digest lets exactly one insert win.
        """
        with self._db.begin() as conn:
            known = conn.execute(
                select(api_keys.c.id).where(api_keys.c.secret_hash == digest(secret))
            ).first()
        if known is not None:
            return False
        try:
            self.create(name, Role.ADMIN, "admin", secret=secret)
        except IntegrityError:
            return False
        return True

    def list_keys(self, *, include_revoked: bool = True) -> list[ApiKeyRecord]:
        """Every key, oldest first."""
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self._db.begin() as conn:
            return [_record(row) for row in conn.execute(query)]

    def get(self, key_id: str) -> ApiKeyRecord:
        """A key by id, or 404."""
        with self._db.begin() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFoundError(
                f"API key {key_id!r} does not exist",
                code="key_not_found",
                param="key_id",
                suggestion="list keys with GET /v1/keys or `speaker keys list`",
            )
        return _record(row)

    def webhook_secret(self, key_id: str) -> str | None:
        """The secret that signs webhooks of jobs submitted with a key; None if it is gone."""
        with self._db.begin() as conn:
            query = select(api_keys.c.webhook_secret).where(api_keys.c.id == key_id)
            secret: str | None = conn.execute(query).scalar_one_or_none()
        return secret

    def revoke(self, key_id: str) -> ApiKeyRecord:
        """Refuse the key from now on; revoking a revoked key changes nothing."""
        record = self.get(key_id)
        if record.revoked_at is not None:
            return record
        with self._db.begin() as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=int(time.time()))
            )
        self._forget_count()
        return self.get(key_id)

    def authenticate(self, secret: str) -> ApiKeyRecord | None:
        """The active key whose secret this is, or None."""
        wanted = digest(secret)
        with self._db.begin() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.secret_hash == wanted)).first()
            # The lookup is by digest, so its timing says nothing about the secret; the
            # comparison is constant-time all the same, should the index ever match loosely.
            if row is None or not hmac.compare_digest(row.secret_hash, wanted):
                return None
            if row.revoked_at is not None:
                return None
            now = int(time.time())
            if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_EVERY_S:
                conn.execute(
                    update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=now)
                )
        return _record(row)

    def active_count(self) -> int:
        """How many keys are not revoked (cached for about a second)."""
        with self._lock:
            cached = self._count
        if cached is not None and time.monotonic() - cached[0] < _COUNT_TTL_S:
            return cached[1]
        with self._db.begin() as conn:
            count = conn.execute(
                select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
            ).scalar_one()
        with self._lock:
            self._count = (time.monotonic(), int(count))
        return int(count)

    def _forget_count(self) -> None:
        with self._lock:
            self._count = None
