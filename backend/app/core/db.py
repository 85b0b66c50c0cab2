"""The async engine and session factory; created per application lifespan, never at import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import ClauseElement, event, text
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util.concurrency import await_

from app.core.config import Settings

CONNECT_TIMEOUT_SECONDS = 5


def create_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url_object,
        pool_size=settings.db_pool_size,
        # No overflow: an overflow connection is closed when it is returned, so under a steady
        # load above pool_size every request paid a new connection (TCP, auth, type codecs).
        # A burst waits up to pool_timeout for a pooled connection instead.
        max_overflow=0,
        # Most recently used first: under load the same few connections stay hot (no ping), and
        # the idle rest age until they are pinged or closed.
        pool_use_lifo=True,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        # No pool_pre_ping: SQLAlchemy's asyncpg ping wraps `;` in BEGIN/ROLLBACK (for
        # pgbouncer's transaction mode, not used here): three round trips per request. The
        # checkout listener below pings with the `;` alone.
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": 30,
            "server_settings": {"application_name": "dimini-backend"},
        },
    )
    event.listen(engine.sync_engine.pool, "checkout", _ping_on_checkout)
    return engine


def _ping_on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A connection that died with a Postgres restart is replaced, not handed out. Kept on every
    checkout: the hot reads run on the raw asyncpg connection, whose failures SQLAlchemy's
    disconnect detection never sees, so only this check catches a dead one."""
    try:
        await_(dbapi_connection.driver_connection.fetchrow(";"))
    except Exception as error:
        # The pool discards this connection and checks out (or opens) another.
        raise DisconnectionError("pooled connection failed its ping") from error


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def create_read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read (GET, HEAD): their statements run in autocommit, so
    no BEGIN and ROLLBACK round trips wrap the one or two queries such a request makes."""
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


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


@dataclass(frozen=True)
class Prepared:
    """A Core statement compiled once, for asyncpg: its SQL and the order of its parameters.

    The hottest requests (the authenticated user, a page of patients, a webhook's record) run
    through this on the session's asyncpg connection: SQLAlchemy's per-execution work (cache
    key, compile lookup, result and ORM loading) was most of their CPU. The statement is still
    built from the models, so a renamed column breaks it at import, not at run time.
    """

    sql: str
    names: tuple[str, ...]
    # Values the statement carries itself (literals compiled as parameters).
    fixed: Mapping[str, Any]

    @classmethod
    def of(cls, statement: ClauseElement) -> Prepared:
        compiled = statement.compile(dialect=_ASYNCPG)
        assert isinstance(compiled, SQLCompiler)  # a statement, not a DDL construct
        fixed = {name: value for name, value in compiled.params.items() if value is not None}
        return cls(str(compiled), tuple(compiled.positiontup or ()), fixed)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] if name in values else self.fixed[name] for name in self.names]

    async def fetch(self, db: AsyncSession, **values: Any) -> list[asyncpg.Record]:
        connection = await driver_connection(db)
        rows: list[asyncpg.Record] = await connection.fetch(self.sql, *self.arguments(values))
        return rows

    async def fetchrow(self, db: AsyncSession, **values: Any) -> asyncpg.Record | None:
        return await self.fetchrow_on(await driver_connection(db), **values)

    async def fetchrow_on(
        self, connection: asyncpg.Connection, **values: Any
    ) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await connection.fetchrow(self.sql, *self.arguments(values))
        return row


_ASYNCPG = postgresql_asyncpg.dialect()  # type: ignore[no-untyped-call]


@asynccontextmanager
async def pooled_driver_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection's asyncpg connection, checked out (and pinged) without an ORM session:
    for a request whose one statement needs no session, transaction or ORM state. Statements on
    it run in autocommit."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection
        yield driver


async def driver_connection(db: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under `db`'s current connection (checked out if need be).

    Statements on it run inside the session's transaction when SQLAlchemy has begun one on this
    connection, and in autocommit otherwise (a read session: see create_read_session_factory).
    """
    connection = await db.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver
