"""A throwaway PostgreSQL 15 server for tests: initdb into a temp dir, pg_ctl on a free port.

Debian's `postgresql-15` package provides the binaries (/usr/lib/postgresql/15/bin). The server
trusts local connections only and is removed with its data when stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port

PG_BIN = Path(os.environ.get("DIMINI_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"


@dataclass
class PostgresServer:
    """One running postgres: `url(db)` gives an asyncpg SQLAlchemy URL for database `db`."""

    port: int
    root: Path
    host: str = "127.0.0.1"
    # initdb and pg_ctl refuse to run as root; tests running as root run them as `postgres`.
    run_as: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def create_database(self, prefix: str = "test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.run_as, str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), *args],
            capture_output=True,
            text=True,
        )

    def is_running(self) -> bool:
        return self._pg_ctl("status").returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """Shut down (fast: connections are cut, committed data stays on disk)."""
        done = self._pg_ctl("-m", mode, "-w", "stop")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop -m {mode} failed: {done.stderr.strip()}")

    def start(self) -> None:
        log = self.root / "postgres.log"
        subprocess.run(
            [
                *self.run_as,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses={self.host} -c fsync=off "
                "-c full_page_writes=off -c max_connections=300",
                "start",
            ],
            check=True,
            capture_output=True,
        )

    def destroy(self) -> None:
        """Stop the server if it runs (a test may have stopped it) and remove its files."""
        try:
            if self.is_running():
                try:
                    self.stop()
                except RuntimeError:
                    self.stop("immediate")  # the data is thrown away next anyway
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresServer:
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL 15 not found in {PG_BIN}: apt-get install postgresql-15")
    root = Path(tempfile.mkdtemp(prefix="dimini-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(port=free_port(), root=root, run_as=run_as)
    subprocess.run(
        [
            *run_as,
            str(PG_BIN / "initdb"),
            "-D",
            str(server.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    server.start()
    return server
