"""`python -m app.migrate`: bring the database schema to the Alembic head (the operator's Job)."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import load_settings_or_exit
from app.core.logging import configure_logging, redactor

BACKEND_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_DIR = BACKEND_ROOT / "alembic"
# Kubernetes' default terminationMessagePath: the operator puts what is written here into the
# stack's status when the migration Job fails (a TLS or authentication failure, say).
TERMINATION_LOG = Path("/dev/termination-log")
SUMMARY_CHARS = 400
RETRY_PAUSE_SECONDS = 0.5
# What a Postgres that is still starting answers (initdb, recovery, no endpoint yet): waited for.
STARTING_UP: tuple[type[BaseException], ...] = (
    ConnectionRefusedError,
    ConnectionResetError,
    socket.gaierror,
    TimeoutError,
    asyncpg.CannotConnectNowError,
)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The revision the code expects; /ready compares the database against it."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one Alembic head, found {heads}")
    return heads[0]


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    """Every revision this code ships; a database revision outside it was written by a newer
    release."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(r.revision for r in scripts.walk_revisions())


def schema_is_compatible(revision: str | None) -> bool:
    """At the head, or ahead of it: during a rolling upgrade the migration Job has already moved
    the schema on while pods of the previous release still serve. Migrations are expand-only
    (backward compatible) for exactly this reason; a schema behind the head is not compatible."""
    return revision == head_revision() or is_ahead(revision)


def is_ahead(revision: str | None) -> bool:
    """A revision written by a newer release: an image rollback onto a migrated database."""
    return revision is not None and revision not in known_revisions()


async def current_revision(url: URL) -> str | None:
    """The database's Alembic revision, or None before the first migration."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return chain


def still_starting(error: BaseException) -> bool:
    """Postgres not up yet, as opposed to a wrong CA, password or database: those fail at once
    (an SSL error is an OSError too, so it is ruled out first)."""
    chain = _causes(error)
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return False
    return any(isinstance(e, STARTING_UP) for e in chain)


async def revision_once_reachable(
    url: URL,
    wait_seconds: float,
    logger: logging.Logger,
    read: Callable[[URL], Awaitable[str | None]] = current_revision,
) -> str | None:
    """current_revision, retried while Postgres is still starting, for up to `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    waiting = False
    while True:
        try:
            return await read(url)
        except Exception as error:
            if not still_starting(error) or time.monotonic() >= deadline:
                raise
            if not waiting:
                logger.info("waiting for the database to accept connections")
                waiting = True
            await asyncio.sleep(RETRY_PAUSE_SECONDS)


def upgrade_to_head() -> None:
    command.upgrade(alembic_config(), "head")


def failure_summary(error: BaseException) -> str:
    """One redacted line naming the error (e.g. `SSLCertVerificationError: [SSL:
    CERTIFICATE_VERIFY_FAILED] certificate verify failed: ...`), never a credential."""
    text = " ".join(str(error).split()) or "no detail"
    line = redactor.redact(f"{type(error).__name__}: {text}")
    return line[:SUMMARY_CHARS]


def report_failure(summary: str, path: Path = TERMINATION_LOG) -> None:
    # Only where the kubelet made the file: elsewhere /dev is no place to create one.
    if path.exists():
        path.write_text(f"migration failed: {summary}\n")


def main() -> None:
    settings = load_settings_or_exit()
    configure_logging(settings.log_level, settings.secret_values())
    logger = logging.getLogger("app.migrate")
    try:
        migrate(settings.database_url_object, logger, settings.migrate_wait_seconds)
    except Exception as error:
        summary = failure_summary(error)
        logger.error("migration failed: %s", summary)
        report_failure(summary)
        sys.exit(1)


def migrate(url: URL, logger: logging.Logger, wait_seconds: float = 0) -> None:
    current = asyncio.run(revision_once_reachable(url, wait_seconds, logger))
    if is_ahead(current):
        # Rolled back onto a schema a newer release migrated: migrations are expand-only, so this
        # release runs on it (/ready agrees); Alembic itself would fail on the unknown revision.
        logger.warning(
            "database schema at %s, ahead of this release's head %s: left as it is",
            current,
            head_revision(),
        )
        return
    logger.info("migrating database to %s", head_revision())
    upgrade_to_head()
    logger.info("database at %s", head_revision())


if __name__ == "__main__":
    main()
