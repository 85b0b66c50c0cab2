"""The engine's checkout ping: one statement per checkout, and a dead connection is replaced."""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]
from app.core.db import create_engine
from sqlalchemy import text

from tests.backend.helpers import make_settings


async def _driver(connection: Any) -> Any:
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def test_a_checkout_pings_with_one_statement_and_no_transaction(migrated_url: str) -> None:
    engine = create_engine(make_settings(migrated_url, db_pool_size=1))
    try:
        async with engine.connect() as connection:
            driver = await _driver(connection)
        sent: list[str] = []
        driver.add_query_logger(lambda record: sent.append(record.query))
        async with engine.connect() as connection:
            assert await _driver(connection) is driver  # the pooled connection, pinged again
            # Logged by asyncpg, unlike SQLAlchemy's prepared statements: marks the checkout's end.
            await driver.fetchval("SELECT 1")
            await driver.fetchval("SELECT 2")  # asyncpg calls its loggers soon after a statement
    finally:
        await engine.dispose()
    # BEGIN + ; + ROLLBACK was three round trips before every request's first statement.
    assert sent[: sent.index("SELECT 1")] == [";"]


async def test_a_connection_that_died_in_the_pool_is_replaced_on_checkout(
    migrated_url: str,
) -> None:
    engine = create_engine(make_settings(migrated_url, db_pool_size=1))
    admin = await asyncpg.connect(migrated_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with engine.connect() as connection:
            first = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await admin.execute("SELECT pg_terminate_backend($1)", first)
        async with engine.connect() as connection:
            second = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first
    finally:
        await admin.close()
        await engine.dispose()
