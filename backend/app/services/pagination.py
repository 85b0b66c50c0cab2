"""One page of an ordered query plus the total, in a single round trip when the page has rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def paginate(
    db: AsyncSession, ordered: Select[Any], offset: int, limit: int
) -> tuple[list[Any], int]:
    # count(*) OVER () is computed before LIMIT/OFFSET, so every row carries the full total.
    rows = (
        await db.execute(ordered.add_columns(func.count().over()).offset(offset).limit(limit))
    ).all()
    if rows:
        return [row[0] for row in rows], int(rows[0][1])
    # Past the end (or empty): the page has no row to carry the total, so count separately.
    total = (await db.execute(select(func.count()).select_from(ordered.subquery()))).scalar_one()
    return [], int(total)
