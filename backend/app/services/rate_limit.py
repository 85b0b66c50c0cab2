"""Per-IP login rate limit: a fixed-window counter in Postgres, so every process shares it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.models import LoginAttemptWindow
from app.services.errors import RateLimitedError


async def count_login_attempt(db: AsyncSession, ip: str, settings: Settings) -> None:
    """Counts this attempt; raises RateLimitedError once the IP exceeds its window's budget."""
    window = settings.login_rate_window_seconds
    now = datetime.now(UTC)
    start = datetime.fromtimestamp(int(now.timestamp()) // window * window, UTC)
    statement = (
        insert(LoginAttemptWindow)
        .values(ip=ip, window_start=start, attempts=1)
        .on_conflict_do_update(
            index_elements=["ip", "window_start"],
            set_={"attempts": LoginAttemptWindow.attempts + 1},
        )
        .returning(LoginAttemptWindow.attempts)
    )
    attempts = (await db.execute(statement)).scalar_one()
    if attempts == 1:
        # First attempt of a window: drop this IP's stale windows so the table stays small.
        await db.execute(
            delete(LoginAttemptWindow).where(
                LoginAttemptWindow.ip == ip,
                LoginAttemptWindow.window_start < start - timedelta(seconds=window),
            )
        )
    await db.commit()
    if attempts > settings.login_rate_limit:
        retry_after = int((start + timedelta(seconds=window) - now).total_seconds()) + 1
        raise RateLimitedError("Too many login attempts; try again later", retry_after)
