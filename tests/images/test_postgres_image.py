"""The Postgres image honours the env contract the operator uses, as uid 70 with no capabilities."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from tests.images import runc
from tests.support.ports import free_port
from tests.support.waiting import wait_for

PROBE = 'pg_isready -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'  # the operator's probe


def _volume(tmp_path: Path) -> Path:
    """A volume as Kubernetes prepares it with fsGroup 70: group 70, setgid, group-writable."""
    volume = tmp_path / "volume"
    volume.mkdir()
    os.chown(volume, 0, 70)
    volume.chmod(0o2770)
    return volume


def _run(
    ref: str,
    bundle: Path,
    volume: Path,
    port: int,
    password: str = "s3cret pass'word",  # noqa: S107
) -> AbstractContextManager[runc.Container]:
    return runc.run(
        ref,
        bundle,
        user=(70, 70),
        env={
            "POSTGRES_USER": "dimini",
            "POSTGRES_PASSWORD": password,
            "POSTGRES_DB": "dimini_app",
            "PGDATA": "/var/lib/postgresql/data/pgdata",
            "PGPORT": str(port),  # host network in the test; 5432 may be taken on the host
        },
        tmpfs=["/tmp", "/var/run/postgresql"],
        binds={"/var/lib/postgresql/data": volume},
    )


def _ready(container: runc.Container) -> bool:
    if container.process.poll() is not None:
        raise AssertionError(f"postgres exited:\n{container.output()}")
    return container.exec("sh", "-c", PROBE).returncode == 0


async def _query(port: int, password: str, *statements: str) -> list[asyncpg.Record]:
    """Run `statements` over TCP with a password; return the last one's rows."""
    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user="dimini", password=password, database="dimini_app"
    )
    try:
        for sql in statements[:-1]:
            await conn.execute(sql)
        return list(await conn.fetch(statements[-1]))
    finally:
        await conn.close()


def test_initialises_then_restarts_on_existing_data(postgres_image: str, tmp_path: Path) -> None:
    volume = _volume(tmp_path)
    port = free_port()
    password = "s3cret pass'word"

    with _run(postgres_image, tmp_path / "first", volume, port) as pg:
        wait_for("the first start's pg_isready", lambda: _ready(pg), 60)
        rows = asyncio.run(
            _query(
                port,
                password,
                "CREATE TABLE kept (v int)",
                "INSERT INTO kept VALUES (7)",
                "SELECT current_user, current_database(), current_setting('password_encryption')",
            )
        )
        assert tuple(rows[0]) == ("dimini", "dimini_app", "scram-sha-256")
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(_query(port, "wrong", "SELECT 1"))
        assert pg.stop() == 0, pg.output()  # the image's STOPSIGNAL: fast shutdown
        first_log = pg.output()
    assert "initialising /var/lib/postgresql/data/pgdata" in first_log
    assert "database system is shut down" in first_log
    data = volume / "pgdata"
    assert data.stat().st_uid == 70
    hba = (data / "pg_hba.conf").read_text()
    assert "host all all all scram-sha-256" in hba
    assert "trust" not in "".join(ln for ln in hba.splitlines() if not ln.startswith("#"))
    # What a kubelet's recursive fsGroup pass leaves on the next pod's start.
    data.chmod(0o2770)

    with _run(postgres_image, tmp_path / "second", volume, port) as pg:
        wait_for("the restart's pg_isready", lambda: _ready(pg), 60)
        rows = asyncio.run(_query(port, password, "SELECT v FROM kept"))
        assert [r["v"] for r in rows] == [7]
        assert pg.stop("TERM") == 0, pg.output()  # SIGTERM reaches postgres (PID 1) too
        second_log = pg.output()
    assert "starting without initialisation" in second_log
    assert "initialising" not in second_log


def test_refuses_an_empty_data_dir_without_a_password(postgres_image: str, tmp_path: Path) -> None:
    volume = _volume(tmp_path)
    with runc.run(
        postgres_image,
        tmp_path / "bundle",
        user=(70, 70),
        env={"PGDATA": "/var/lib/postgresql/data/pgdata"},
        tmpfs=["/tmp", "/var/run/postgresql"],
        binds={"/var/lib/postgresql/data": volume},
    ) as pg:
        code = pg.wait(timeout=30)
        out = pg.output()
    assert code != 0
    assert "POSTGRES_PASSWORD is not set" in out
    assert not (volume / "pgdata" / "PG_VERSION").exists()


def test_the_exporter_sidecar_command_exports_pg_up(postgres_image: str, tmp_path: Path) -> None:
    """spec.observability.postgresExporter runs this image's prometheus-postgres-exporter with
    the operator's DATA_SOURCE_* contract, over loopback with the password."""
    volume = _volume(tmp_path)
    port, metrics_port = free_port(), free_port()
    # Debian's exporter (0.11.1) builds a key=value DSN from DATA_SOURCE_* and refuses a password
    # with a quote ("malformed dsn"); the operator's generated passwords are URL-safe.
    password = "s3cret-pass_word"
    env = {
        "DATA_SOURCE_URI": f"127.0.0.1:{port}/dimini_app?sslmode=disable",
        "DATA_SOURCE_USER": "dimini",
        "DATA_SOURCE_PASS": password,
    }
    assign = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    with _run(postgres_image, tmp_path / "bundle", volume, port, password) as pg:
        wait_for("pg_isready", lambda: _ready(pg), 60)
        log = tmp_path / "exporter.log"
        with log.open("wb") as out:
            exporter = subprocess.Popen(
                ["runc", "exec", pg.id, "sh", "-c",
                 f"{assign} exec prometheus-postgres-exporter "
                 f"--web.listen-address=127.0.0.1:{metrics_port}"],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:

            def scraped() -> str | None:
                assert exporter.poll() is None, log.read_text(errors="replace")
                text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
                return text if "\npg_up 1" in text else None

            text = wait_for("pg_up 1 from the exporter", scraped, 30)
        finally:
            exporter.terminate()
            exporter.wait(10)
    assert "pg_stat_database_numbackends" in text


def test_the_image_has_the_s3_backup_tools(postgres_image: str, tmp_path: Path) -> None:
    """spec.postgres.backup.target.s3 runs rclone (Debian's 1.60) and age in this image: an
    age round trip as the pod's user, and rclone's S3 backend."""
    volume = _volume(tmp_path)
    port = free_port()
    with _run(postgres_image, tmp_path / "bundle", volume, port) as pg:
        wait_for("pg_isready", lambda: _ready(pg), 60)
        script = (
            "set -e; cd /tmp; age-keygen -o key 2>/dev/null;"
            ' echo dimini | age -r "$(age-keygen -y key)" | age -d -i key;'
            " rclone version | head -n1; rclone help backends | grep -w s3"
        )
        done = pg.exec("sh", "-c", script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "dimini"
    assert lines[1].startswith("rclone v1.60")
    assert lines[2].split()[0] == "s3"
