"""The async engine and session factory; created per application lifespan, never at import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import Settings

CONNECT_TIMEOUT_SECONDS = 5


def create_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url_object,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        # A connection that died with a Postgres restart is replaced, not handed out.
        pool_pre_ping=True,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": 30,
            "server_settings": {"application_name": "dimini-backend"},
        },
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that commits on success and rolls back on error."""
    async with factory() as session, session.begin():
        yield session


class DatabaseProbe:
    """Whether the database answers, re-checked at most every `ttl` seconds.

    /health is polled by every kubelet and load balancer; one shared probe per second keeps it
    cheap under load, and concurrent callers wait for the same check instead of piling up.
    """

    def __init__(self, engine: AsyncEngine, ttl: float = 1.0, timeout: float = 3.0) -> None:
        self._engine = engine
        self._ttl = ttl
        self._timeout = timeout
        self._checked_at = float("-inf")
        self._answers = False
        self._lock = asyncio.Lock()

    async def answers(self) -> bool:
        loop = asyncio.get_running_loop()
        if loop.time() - self._checked_at < self._ttl:
            return self._answers
        async with self._lock:
            if loop.time() - self._checked_at >= self._ttl:
                try:
                    self._answers = await asyncio.wait_for(
                        database_answers(self._engine), self._timeout
                    )
                except TimeoutError:
                    self._answers = False
                self._checked_at = loop.time()
        return self._answers


async def database_answers(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
