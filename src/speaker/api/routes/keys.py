"""Admin routes for API keys: list, create (the secret is shown once) and revoke."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from speaker.api.deps import Audit, ReadyRuntime
from speaker.api.protocol_auth import KeyCreate, KeyCreated, KeyList, KeyObject
from speaker.auth.audit import Action

router = APIRouter(prefix="/v1/keys", tags=["admin"])


@router.get("", summary="List API keys (admin)")
async def list_keys(runtime: ReadyRuntime) -> KeyList:
    """Every key, oldest first, with its prefix but never its secret."""
    records = await asyncio.to_thread(runtime.keys.list_keys)
    return KeyList(data=[KeyObject.of(r) for r in records])


@router.post("", summary="Create an API key (admin)", status_code=201)
async def create_key(runtime: ReadyRuntime, audit: Audit, body: KeyCreate) -> KeyCreated:
    """A new key; its secret and webhook secret are in this answer and nowhere else."""
    created = await asyncio.to_thread(
        runtime.keys.create,
        body.name,
        body.role,
        body.owner or body.name,
        body.requests_per_minute,
        body.chars_per_minute,
    )
    record = created.record
    await audit.record(
        Action.KEY_CREATE, record.id, name=record.name, role=record.role.value, owner=record.owner
    )
    return KeyCreated(
        **KeyObject.of(record).model_dump(),
        secret=created.secret,
        webhook_secret=created.webhook_secret,
    )


@router.get("/{key_id}", summary="One API key (admin)")
async def get_key(runtime: ReadyRuntime, key_id: str) -> KeyObject:
    """A key by id, without its secret."""
    return KeyObject.of(await asyncio.to_thread(runtime.keys.get, key_id))


@router.delete("/{key_id}", summary="Revoke an API key (admin)")
async def revoke_key(runtime: ReadyRuntime, audit: Audit, key_id: str) -> KeyObject:
    """Refuse the key from now on; it stays listed, with `revoked_at`."""
    record = await asyncio.to_thread(runtime.keys.revoke, key_id)
    await audit.record(Action.KEY_REVOKE, record.id, name=record.name)
    return KeyObject.of(record)
