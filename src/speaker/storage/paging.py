"""Cursor pages of a table, newest first, as OpenAI lists things (`after` = the last id seen)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, Table, select


def newest_first(
    conn: Connection, table: Table, query: Select[Any], after: str | None, limit: int
) -> tuple[Sequence[Row[Any]], bool]:
    """Up to `limit` rows of `query` older than row `after`; True when more follow.

    Keyset paging on (created_at, id): a page stays right while rows are added or removed, and
    an `after` that no longer exists starts from the newest.
    """
    query = query.order_by(table.c.created_at.desc(), table.c.id.desc())
    if after is not None:
        anchor = conn.execute(select(table.c.created_at).where(table.c.id == after)).first()
        if anchor is not None:
            query = query.where(
                (table.c.created_at < anchor.created_at)
                | ((table.c.created_at == anchor.created_at) & (table.c.id < after))
            )
    rows = conn.execute(query.limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit
