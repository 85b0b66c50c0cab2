"""Fixed-window counters in Postgres, so every process shares them.

A counter is keyed by a bucket: the client address for login and registration budgets, and a
digest of (account, address) for failed-login lockout. The table's key column is called `ip` for
history; it holds any bucket key of at most 64 characters.
"""

from __future__ import annotations

import hashlib
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


async def count(db: AsyncSession, bucket: str, window: int) -> tuple[int, int]:
    """Counts one event in `bucket`'s current window; returns (events so far, seconds left)."""
    now = datetime.now(UTC)
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
        # First event of a window: drop this bucket's stale windows so the table stays small.
        await db.execute(
            delete(LoginAttemptWindow).where(
                LoginAttemptWindow.ip == bucket,
                LoginAttemptWindow.window_start < start - timedelta(seconds=window),
            )
        )
    await db.commit()
    return attempts, int((start + timedelta(seconds=window) - now).total_seconds()) + 1


async def current(db: AsyncSession, bucket: str, window: int) -> int:
    start = _window_start(datetime.now(UTC), window)
    found = await db.scalar(
        select(LoginAttemptWindow.attempts).where(
            LoginAttemptWindow.ip == bucket, LoginAttemptWindow.window_start == start
        )
    )
    return found or 0


async def count_login_attempt(db: AsyncSession, ip: str, settings: Settings) -> None:
    """Counts this attempt; raises RateLimitedError once the IP exceeds its window's budget."""
    attempts, retry_after = await count(db, ip, settings.login_rate_window_seconds)
    if attempts > settings.login_rate_limit:
        raise RateLimitedError("Too many login attempts; try again later", retry_after)


async def count_registration(db: AsyncSession, ip: str, settings: Settings) -> None:
    attempts, retry_after = await count(db, f"register:{ip}", settings.register_rate_window_seconds)
    if attempts > settings.register_rate_limit:
        raise RateLimitedError("Too many registrations; try again later", retry_after)


HUME_TOKEN_WINDOW_SECONDS = 3600


async def count_hume_token(db: AsyncSession, user_id: uuid.UUID, settings: Settings) -> None:
    attempts, retry_after = await count(db, f"hume:{user_id}", HUME_TOKEN_WINDOW_SECONDS)
    if attempts > settings.hume_token_rate_limit:
        raise RateLimitedError("Too many voice tokens requested; try again later", retry_after)


def failure_bucket(user_id: uuid.UUID, ip: str) -> str:
    """Failed logins count per (account, address): a stranger's failures lock only the stranger."""
    digest = hashlib.sha256(f"{user_id}|{ip}".encode()).hexdigest()[:40]
    return f"fail:{digest}"
