"""The hand-written migrations build exactly the schema the models describe, and go both ways."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from app import migrate
from app.core.logging import redactor
from sqlalchemy import URL, make_url

from tests.backend.helpers import BACKEND_DIR, backend_env
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.waiting import wait_for

COMPARE = """
import asyncio, os
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from app.models import Base

async def main() -> None:
    engine = create_async_engine(os.environ["DATABASE_URL"])
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )
    await engine.dispose()
    print(repr(diff))

asyncio.run(main())
"""


def _python(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def _alembic(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return _python(env, "-m", "alembic", "-c", os.path.join(BACKEND_DIR, "alembic.ini"), *args)


def test_migrations_match_the_models_and_downgrade_cleanly(postgres: PostgresServer) -> None:
    database = postgres.create_database("migrations")
    env = backend_env(postgres.url(database))
    try:
        _python(env, "-m", "app.migrate")
        _python(env, "-m", "app.migrate")  # idempotent: a second run changes nothing
        assert _python(env, "-c", COMPARE).stdout.strip() == "[]"

        _alembic(env, "downgrade", "base")
        tables = postgres.psql(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_name <> 'alembic_version'",
            database,
        )
        assert tables == "0"
        _alembic(env, "upgrade", "head")
        assert _python(env, "-c", COMPARE).stdout.strip() == "[]"
    finally:
        postgres.drop_database(database)


def test_migrate_leaves_a_schema_written_by_a_newer_release(postgres: PostgresServer) -> None:
    """An image rollback: the database was migrated by a newer release (a revision this code
    does not ship). Migrations are expand-only, so the older code runs on it: the Job succeeds and
    changes nothing, instead of failing on a revision Alembic cannot locate."""
    database = postgres.create_database("rollback")
    env = backend_env(postgres.url(database))
    newer = "f00dfeedbeef"  # also in the UPDATE below
    try:
        _python(env, "-m", "app.migrate")
        postgres.psql("UPDATE alembic_version SET version_num = 'f00dfeedbeef'", database)
        result = _python(env, "-m", "app.migrate")
        assert postgres.psql("SELECT version_num FROM alembic_version", database) == newer
        assert newer in result.stdout + result.stderr
        assert "ahead" in result.stdout + result.stderr
    finally:
        postgres.drop_database(database)


def test_hume_events_keep_the_first_of_each_delivery_and_refuse_another(
    postgres: PostgresServer,
) -> None:
    """0006: duplicates stored before it are dropped (the first kept); after it a second start of
    a chat (no tool call id) is refused, as a second row for one tool call is."""
    database = postgres.create_database("hume_once")
    env = backend_env(postgres.url(database))
    insert = "INSERT INTO hume_events (event_name, chat_id, chat_group_id, tool_call_id) VALUES "
    try:
        _alembic(env, "upgrade", "0005_graph_mentions")
        postgres.psql(
            insert + "('chat_started', 'c', 'g', NULL), ('tool_call', 'c', 'g', 't1'), "
            "('chat_started', 'c', 'g', NULL), ('tool_call', 'c', 'g', 't1'), "
            "('tool_call', 'c', 'g', 't2')",
            database,
        )
        _alembic(env, "upgrade", "head")
        kept = postgres.psql(
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM hume_events", database
        )
        assert kept == "1,2,5"
        for values in ("('chat_started', 'c', 'g', NULL)", "('tool_call', 'c', 'g', 't2')"):
            try:
                postgres.psql(insert + values, database)
            except subprocess.CalledProcessError as refused:
                assert "uq_hume_events_delivery" in refused.stderr, refused.stderr
            else:
                raise AssertionError(f"a second {values} was stored")
    finally:
        postgres.drop_database(database)


def test_a_failed_migration_says_why_in_one_line_without_the_password() -> None:
    """The operator's Job reports this line in the stack's status (specs/migration.py)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: the connection is refused
        password = "pw-" + secrets.token_hex(8)
        env = backend_env(f"postgresql+asyncpg://dimini:{password}@127.0.0.1:{port}/dimini")
        done = _python(env, "-m", "app.migrate", check=False)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "migration failed: " in output and "Connect" in output
    assert "Traceback" not in output
    assert password not in output


def test_the_failure_is_written_only_where_the_kubelet_made_the_file(tmp_path: Path) -> None:
    log = tmp_path / "termination-log"
    migrate.report_failure("OSError: refused", log)
    assert not log.exists()
    log.touch()
    migrate.report_failure("OSError: refused", log)
    assert log.read_text() == "migration failed: OSError: refused\n"


def test_the_summary_is_redacted_and_bounded() -> None:
    redactor.register(["s3cr3t-value"])
    summary = migrate.failure_summary(ValueError("bad s3cr3t-value\n" + "x" * 1000))
    assert summary.startswith("ValueError: bad ")
    assert "s3cr3t-value" not in summary and "\n" not in summary
    assert len(summary) <= migrate.SUMMARY_CHARS


def test_migrate_waits_for_a_postgres_that_is_still_starting() -> None:
    """A new stack's Job starts beside its Postgres (the operator sets MIGRATE_WAIT_SECONDS):
    refused connections are waited for, then the schema is migrated."""
    server = start_postgres()
    try:
        database = server.create_database("wait")
        server.stop()
        env = {**backend_env(server.url(database)), "MIGRATE_WAIT_SECONDS": "120"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.migrate"],
            env=env,
            cwd=BACKEND_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
        reader.start()
        try:
            waiting = lambda: any("waiting for the database" in line for line in lines)  # noqa: E731
            wait_for("app.migrate waiting for Postgres", waiting, 60, interval=0.1)
            assert proc.poll() is None, "".join(lines)
            server.start()
            assert proc.wait(timeout=120) == 0, "".join(lines)
        finally:
            proc.kill()
            reader.join(timeout=10)
        revision = server.psql("SELECT version_num FROM alembic_version", database).strip()
        assert revision == migrate.head_revision()
    finally:
        server.destroy()


def test_a_wrong_certificate_or_password_is_not_waited_for() -> None:
    calls: list[int] = []

    async def read(url: URL) -> str | None:
        calls.append(1)
        raise OSError("connect failed") from ssl.SSLCertVerificationError("verify failed")

    logger = logging.getLogger("test")
    with pytest.raises(OSError):
        asyncio.run(migrate.revision_once_reachable(make_url("postgresql://x/y"), 60, logger, read))
    assert calls == [1]
    assert migrate.still_starting(ConnectionRefusedError())
    assert not migrate.still_starting(ssl.SSLError("handshake"))
    assert not migrate.still_starting(asyncpg.InvalidPasswordError("password authentication"))
