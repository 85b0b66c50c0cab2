"""Shared fixtures: the Kubernetes sandbox, a throwaway Postgres 15 and the Chromium executable.

- `sandbox` (session): the local control plane (started if not running, see sandbox/).
- `namespace` (per test): a fresh namespace in the sandbox, deleted afterwards.
- `postgres` (session): a Postgres 15 server on a free loopback port.
- `database_url` (per module): a fresh database on it, as an asyncpg SQLAlchemy URL.
- `chromium` (session): path of Debian's Chromium for browser tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.support.postgres import PostgresServer, start_postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def database_url(postgres: PostgresServer) -> Iterator[str]:
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"Chromium not found at {path}: apt-get install chromium")
    return path
