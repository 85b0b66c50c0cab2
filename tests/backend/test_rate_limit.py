"""Budgets over the last window, not per calendar window: a burst timed across a window's edge
got twice the budget (login guesses, registrations, lockout failures), and a test doing four
logins across the edge saw its fourth one allowed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from app.core.db import create_engine, create_session_factory
from app.services import rate_limit
from sqlalchemy.ext.asyncio import AsyncSession

from tests.backend.helpers import make_settings

WINDOW = 60
EDGE = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a window boundary for WINDOW


@pytest.fixture
async def db(migrated_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(make_settings(migrated_url))
    try:
        async with create_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def _at(seconds: float) -> datetime:
    return EDGE + timedelta(seconds=seconds)


async def _count(db: AsyncSession, bucket: str, seconds: float) -> tuple[int, int]:
    return await rate_limit.count(db, bucket, WINDOW, now=_at(seconds))


async def test_a_burst_across_the_window_edge_counts_against_one_budget(db: AsyncSession) -> None:
    bucket = f"test:{uuid.uuid4()}"
    for _ in range(3):
        await _count(db, bucket, -0.5)
    attempts, _ = await _count(db, bucket, 0.5)
    assert attempts == 4  # the three of half a second ago still count


async def test_the_previous_window_fades_with_the_time_since(db: AsyncSession) -> None:
    bucket = f"test:{uuid.uuid4()}"
    for _ in range(4):
        await _count(db, bucket, -30)
    # Half-way through the next window half of the previous window's events remain.
    assert (await _count(db, bucket, 30))[0] == 1 + 2
    assert await rate_limit.current(db, bucket, WINDOW, now=_at(30)) == 3
    # A whole window later they are gone.
    assert await rate_limit.current(db, bucket, WINDOW, now=_at(WINDOW + 30)) == 1
    assert await rate_limit.current(db, bucket, WINDOW, now=_at(2 * WINDOW + 1)) == 0


@pytest.mark.parametrize(
    ("current", "previous", "elapsed", "expected"),
    [
        (1, 0, 10, 0),  # free now
        (1, 4, 15, 30),  # under it in this window: once the previous one has faded to one event
        (2, 4, 15, 45),  # one short of it: once the previous window is out of reach
        (3, 0, 10, 70),  # at it: a third into the next window, as this one fades to two events
        (6, 0, 0, 100),  # twice over: two thirds into the next window
    ],
)
def test_retry_after_is_when_one_more_event_fits(
    current: int, previous: int, elapsed: float, expected: int
) -> None:
    # Budget 3 per 60 s: one more event fits once current + 1 + previous' remaining share <= 3.
    assert rate_limit.seconds_until_allowed(current, previous, elapsed, WINDOW, 3) == expected
