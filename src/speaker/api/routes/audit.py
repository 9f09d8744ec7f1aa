"""`GET /v1/audit` (admin): who changed keys, voices and consents, what, when, from where."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from speaker.api.deps import ReadyRuntime
from speaker.api.protocol_auth import AuditEntryObject, AuditList
from speaker.auth.audit import AuditQuery

router = APIRouter(prefix="/v1/audit", tags=["admin"])


@router.get("", summary="Read the audit log (admin)")
async def read_audit(
    runtime: ReadyRuntime,
    action: Annotated[
        str | None, Query(max_length=64, description="`voice.delete`, or a family: `voice`")
    ] = None,
    actor: Annotated[str | None, Query(max_length=64, description="A key id")] = None,
    since: Annotated[float | None, Query(description="Unix time, inclusive")] = None,
    until: Annotated[float | None, Query(description="Unix time, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int | None, Query(description="`next_cursor` of the previous page")] = None,
) -> AuditList:
    """Entries newest first, filtered and paged."""
    wanted = AuditQuery(
        action=action, actor=actor, since=since, until=until, limit=limit, cursor=cursor
    )
    entries, more = await asyncio.to_thread(runtime.audit.query, wanted)
    return AuditList(
        data=[AuditEntryObject.of(e) for e in entries],
        has_more=more,
        next_cursor=entries[-1].id if more and entries else None,
    )
