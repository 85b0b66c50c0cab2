"""Sliding-window counters in Postgres, so every process shares them.

A counter is keyed by a bucket: the client address for login and registration budgets, and a
digest of (account, address) for failed-login lockout. The table's key column is called `ip` for
history; it holds any bucket key of at most 64 characters.

Events are stored per calendar window, and a budget holds over the last `window` seconds: this
window's events plus the previous window's, weighted by the share of it still within reach
(rounded up). Per calendar window alone, a burst timed across a window's edge got twice the budget.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.models import LoginAttemptWindow
from app.services.errors import RateLimitedError


def _window_start(now: datetime, window: int) -> datetime:
    return datetime.fromtimestamp(int(now.timestamp()) // window * window, UTC)


def estimate(current: int, previous: int, elapsed: float, window: int) -> int:
    """Events within the last `window` seconds, `elapsed` seconds into the current window."""
    return current + math.ceil(previous * (window - elapsed) / window)


def seconds_until_allowed(
    current: int, previous: int, elapsed: float, window: int, limit: int
) -> int:
    """Seconds until one more event fits `limit`, if none comes meanwhile (for Retry-After)."""
    room = limit - 1 - current  # what the previous window may still weigh for one more to fit
    if room >= 0:
        # Within this window, once previous * (window - x) / window <= room.
        at = 0.0 if previous <= room else window * (1 - room / previous)
        return max(0, math.ceil(at - elapsed))
    # Into the next one, once 1 + current * (window - y) / window <= limit.
    return math.ceil(window - elapsed + window * (1 - (limit - 1) / current))


async def _previous(db: AsyncSession, bucket: str, start: datetime, window: int) -> int:
    found = await db.scalar(
        select(LoginAttemptWindow.attempts).where(
            LoginAttemptWindow.ip == bucket,
            LoginAttemptWindow.window_start == start - timedelta(seconds=window),
        )
    )
    return found or 0


async def count(
    db: AsyncSession,
    bucket: str,
    window: int,
    limit: int | None = None,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Counts one event in `bucket`; returns (events within the last window, this one included;
    seconds until one more fits `limit`, 0 without one)."""
    now = now or datetime.now(UTC)
    start = _window_start(now, window)
    statement = (
        insert(LoginAttemptWindow)
        .values(ip=bucket, window_start=start, attempts=1)
        .on_conflict_do_update(
            index_elements=["ip", "window_start"],
            set_={"attempts": LoginAttemptWindow.attempts + 1},
        )
        .returning(LoginAttemptWindow.attempts)
    )
    attempts = (await db.execute(statement)).scalar_one()
    if attempts == 1:
        # First event of a window: drop this bucket's windows out of reach so the table stays
        # small (the previous one still counts).
        await db.execute(
            delete(LoginAttemptWindow).where(
                LoginAttemptWindow.ip == bucket,
                LoginAttemptWindow.window_start < start - timedelta(seconds=window),
            )
        )
    previous = await _previous(db, bucket, start, window)
    await db.commit()
    elapsed = (now - start).total_seconds()
    retry = seconds_until_allowed(attempts, previous, elapsed, window, limit) if limit else 0
    return estimate(attempts, previous, elapsed, window), retry


async def current(db: AsyncSession, bucket: str, window: int, now: datetime | None = None) -> int:
    """Events within the last window, counting nothing."""
    now = now or datetime.now(UTC)
    start = _window_start(now, window)
    rows = await db.execute(
        select(LoginAttemptWindow.window_start, LoginAttemptWindow.attempts).where(
            LoginAttemptWindow.ip == bucket,
            LoginAttemptWindow.window_start.in_([start, start - timedelta(seconds=window)]),
        )
    )
    found = {window_start: attempts for window_start, attempts in rows}
    elapsed = (now - start).total_seconds()
    previous = found.get(start - timedelta(seconds=window), 0)
    return estimate(found.get(start, 0), previous, elapsed, window)


async def count_login_attempt(db: AsyncSession, ip: str, settings: Settings) -> None:
    """Counts this attempt; raises RateLimitedError once the IP exceeds its window's budget."""
    limit = settings.login_rate_limit
    attempts, retry_after = await count(db, ip, settings.login_rate_window_seconds, limit)
    if attempts > limit:
        raise RateLimitedError("Too many login attempts; try again later", retry_after)


async def count_registration(db: AsyncSession, ip: str, settings: Settings) -> None:
    limit = settings.register_rate_limit
    attempts, retry_after = await count(
        db, f"register:{ip}", settings.register_rate_window_seconds, limit
    )
    if attempts > limit:
        raise RateLimitedError("Too many registrations; try again later", retry_after)


HUME_TOKEN_WINDOW_SECONDS = 3600


async def count_hume_token(db: AsyncSession, user_id: uuid.UUID, settings: Settings) -> None:
    limit = settings.hume_token_rate_limit
    attempts, retry_after = await count(db, f"hume:{user_id}", HUME_TOKEN_WINDOW_SECONDS, limit)
    if attempts > limit:
        raise RateLimitedError("Too many voice tokens requested; try again later", retry_after)


def failure_bucket(user_id: uuid.UUID, ip: str) -> str:
    """Failed logins count per (account, address): a stranger's failures lock only the stranger."""
    digest = hashlib.sha256(f"{user_id}|{ip}".encode()).hexdigest()[:40]
    return f"fail:{digest}"
