"""The backup and verify scripts (specs/scripts/) against a real Postgres 15: real pg_dump,
pg_restore and a throwaway server started by the verify script itself; for the S3 target a real
S3 API server (S3Proxy), real rclone and real age."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dimini_operator.specs import backup

from tests.support.postgres import PG_BIN, PostgresServer
from tests.support.s3server import S3Server, s3_server


@pytest.fixture
def database(postgres: PostgresServer) -> Iterator[str]:
    name = postgres.create_database("backup")
    postgres.psql(
        "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
        "INSERT INTO alembic_version VALUES ('0005_graph_mentions');"
        "CREATE TABLE patients (id serial PRIMARY KEY, name text NOT NULL);"
        "INSERT INTO patients (name) SELECT 'p' || g FROM generate_series(1, 250) g;"
        "CREATE TABLE sessions (id serial PRIMARY KEY, patient_id int REFERENCES patients,"
        " transcript text);"
        "INSERT INTO sessions (patient_id, transcript)"
        " SELECT 1 + g % 250, repeat('words ', 200) FROM generate_series(1, 1000) g;"
        "CREATE TABLE notes (id serial PRIMARY KEY);",
        name,
    )
    yield name
    postgres.drop_database(name)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory the postgres user can use (pytest's tmp_path is private to root)."""
    root = Path(tempfile.mkdtemp(prefix="dimini-backup-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def target(workdir: Path) -> Path:
    out = workdir / "backups"
    out.mkdir()
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
        shutil.chown(out, "postgres", "postgres")
    return out


@pytest.fixture
def scripts(workdir: Path) -> Path:
    """The scripts as the ConfigMap mounts them (readable by the postgres user)."""
    out = workdir / "scripts"
    out.mkdir()
    for name, text in backup.scripts().items():
        (out / name).write_text(text)
        (out / name).chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(out, "postgres", "postgres")
    return out


def run(
    scripts: Path,
    script: str,
    target: Path,
    env: dict[str, str],
    *args: str,
    prefix: list[str] | None = None,
    timeout: float = 300,
) -> tuple[int, dict[str, object], str]:
    """Run one script as the container would; returns (exit code, termination message, stderr).
    `prefix` wraps the command (bench/backup: a CPU limit)."""
    report = target.parent / f"{script}.termination-log"
    report.unlink(missing_ok=True)
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    full_env = {
        "PATH": f"{PG_BIN}:/usr/bin:/bin",
        "BACKUP_DIR": str(target),
        "TERMINATION_LOG": str(report),
        "TMPDIR": str(target.parent),
        **env,
    }
    done = subprocess.run(
        [
            *(prefix or []),
            *run_as,
            "env",
            *(f"{k}={v}" for k, v in full_env.items()),
            "sh",
            str(scripts / script),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    message = json.loads(report.read_text()) if report.exists() else {}
    return done.returncode, message, done.stderr


def take_backup(scripts: Path, target: Path, env: dict[str, str]) -> dict[str, object]:
    """A backup that must succeed; its stderr is the failure message if it does not."""
    code, manifest, err = run(scripts, "backup.sh", target, env)
    assert code == 0, err
    return manifest


def conn(postgres: PostgresServer, database: str) -> dict[str, str]:
    return {
        "PGHOST": postgres.host,
        "PGPORT": str(postgres.port),
        "PGUSER": "postgres",
        "PGDATABASE": database,
    }


def flip_bytes(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_backup_writes_dump_and_manifest_that_verifies(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    code, manifest, err = run(
        scripts,
        "backup.sh",
        target,
        {**conn(postgres, database), "BACKUP_NAME": "dimini-20261202T100000Z"},
    )
    assert code == 0, err
    assert manifest["name"] == "dimini-20261202T100000Z"
    assert manifest["revision"] == "0005_graph_mentions"
    assert manifest["rowCounts"] == {"notes": 0, "patients": 250, "sessions": 1000}
    assert str(manifest["postgresVersion"]).startswith("15")
    dump = target / "dimini-20261202T100000Z.dump"
    assert manifest["size"] == dump.stat().st_size
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    # Compressed: 1000 transcripts of 1.2 kB each shrink far below their raw size.
    assert dump.stat().st_size < 200_000

    code, result, err = run(scripts, "verify.sh", target, {})
    assert code == 0, err
    assert result["verified"] is True
    assert result["name"] == "dimini-20261202T100000Z"
    assert result["rowCounts"] == manifest["rowCounts"]
    assert result["count"] == 1
    assert (target / "dimini-20261202T100000Z.verified").exists()


def test_corrupted_dump_fails_and_the_verified_backup_stays(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    env = conn(postgres, database)
    first = "dimini-20261202T100000Z"
    take_backup(scripts, target, {**env, "BACKUP_NAME": first})
    assert run(scripts, "verify.sh", target, {})[0] == 0
    second = "dimini-20261202T110000Z"
    take_backup(scripts, target, {**env, "BACKUP_NAME": second})
    dump = target / f"{second}.dump"
    flip_bytes(dump, dump.stat().st_size // 2)

    code, result, _ = run(scripts, "verify.sh", target, {"RETENTION_COUNT": "1"})
    assert code == 1
    assert result["verified"] is False
    assert result["backup"] == second
    assert "checksum mismatch" in str(result["error"])
    assert (target / f"{second}.failed").exists()
    assert not (target / f"{second}.verified").exists()
    # Retention keeps one, but never the newest verified backup: the first is the restore point.
    assert (target / f"{first}.verified").exists()
    assert (target / f"{first}.dump").exists()


def test_corruption_behind_a_matching_checksum_fails_the_restore(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    """The restore itself is checked, not just the checksum: a dump corrupted before it was
    hashed (here: re-hashed after the flip) fails in the real pg_restore."""
    name = "dimini-20261202T100000Z"
    take_backup(scripts, target, {**conn(postgres, database), "BACKUP_NAME": name})
    dump = target / f"{name}.dump"
    flip_bytes(dump, dump.stat().st_size // 2)
    manifest_path = target / f"{name}.json"
    text = manifest_path.read_text()
    old = json.loads(text)["sha256"]
    manifest_path.write_text(text.replace(old, hashlib.sha256(dump.read_bytes()).hexdigest()))

    code, result, _ = run(scripts, "verify.sh", target, {})
    assert code == 1
    assert "pg_restore failed" in str(result["error"])


def test_row_counts_that_differ_from_the_manifest_fail(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    name = "dimini-20261202T100000Z"
    take_backup(scripts, target, {**conn(postgres, database), "BACKUP_NAME": name})
    manifest_path = target / f"{name}.json"
    manifest_path.write_text(
        manifest_path.read_text().replace('"patients" : 250', '"patients" : 251')
    )

    code, result, _ = run(scripts, "verify.sh", target, {})
    assert code == 1
    assert "patients: 251 rows, restored 250" in str(result["error"])


def test_retention_removes_the_oldest_beyond_the_count(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    env = conn(postgres, database)
    names = [f"dimini-20261202T1{h}0000Z" for h in range(4)]
    for n in names:
        take_backup(scripts, target, {**env, "BACKUP_NAME": n})
    code, result, err = run(scripts, "verify.sh", target, {"RETENTION_COUNT": "2"})
    assert code == 0, err
    assert result["count"] == 2
    left = sorted(p.name for p in target.glob("dimini-*.json"))
    assert left == [f"{n}.json" for n in names[2:]]


def test_backup_of_an_unreachable_database_reports_the_failure(
    postgres: PostgresServer, target: Path, scripts: Path
) -> None:
    env = {**conn(postgres, "no_such_database"), "BACKUP_NAME": "dimini-20261202T100000Z"}
    code, result, _ = run(scripts, "backup.sh", target, env)
    assert code == 1
    assert result["step"] == "backup"
    assert "no_such_database" in str(result["error"])
    assert not list(target.glob("dimini-*"))


def test_restore_into_an_empty_database_matches_the_manifest_and_runs_once(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    """bootstrap.fromBackup: the newest verified backup is loaded into a new, empty database."""
    env = conn(postgres, database)
    take_backup(scripts, target, {**env, "BACKUP_NAME": "dimini-20261202T100000Z"})
    assert run(scripts, "verify.sh", target, {})[0] == 0
    # A newer, unverified backup is not the restore point.
    take_backup(scripts, target, {**env, "BACKUP_NAME": "dimini-20261202T110000Z"})
    fresh = postgres.create_database("restored")
    try:
        code, result, err = run(scripts, "restore.sh", target, conn(postgres, fresh))
        assert code == 0, err
        assert result["name"] == "dimini-20261202T100000Z"
        assert result["step"] == "restore"
        assert postgres.psql("SELECT count(*) FROM sessions", fresh) == "1000"
        assert (
            postgres.psql("SELECT version_num FROM alembic_version", fresh) == "0005_graph_mentions"
        )
        # Again (a retried Job): the database has a schema now, nothing is restored twice.
        code, result, err = run(scripts, "restore.sh", target, conn(postgres, fresh))
        assert code == 0, err
        assert result["skipped"] is True
        assert postgres.psql("SELECT count(*) FROM patients", fresh) == "250"
    finally:
        postgres.drop_database(fresh)


def test_restore_of_a_corrupted_dump_fails_and_leaves_the_database_empty(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    name = "dimini-20261202T100000Z"
    take_backup(scripts, target, {**conn(postgres, database), "BACKUP_NAME": name})
    dump = target / f"{name}.dump"
    flip_bytes(dump, dump.stat().st_size // 2)
    fresh = postgres.create_database("restored")
    try:
        code, result, _ = run(
            scripts, "restore.sh", target, {**conn(postgres, fresh), "RESTORE_NAME": name}
        )
        assert code == 1
        assert "checksum mismatch" in str(result["error"])
        assert postgres.psql("SELECT to_regclass('public.patients') IS NULL", fresh) == "t"
    finally:
        postgres.drop_database(fresh)


def in_place(postgres: PostgresServer, database: str, name: str) -> dict[str, str]:
    """The environment of the in-place restore Job (specs/inplace.py): the live database."""
    return {**conn(postgres, database), "RESTORE_MODE": "replace", "RESTORE_NAME": name}


def newer_data(postgres: PostgresServer, database: str) -> None:
    """What happened after the backup: rows, and a newer migration's table and revision."""
    postgres.psql(
        "INSERT INTO patients (name) VALUES ('newer');"
        "CREATE TABLE reminders (id serial PRIMARY KEY);"
        "UPDATE alembic_version SET version_num = '0006_reminders';",
        database,
    )


def backed_up_then_changed(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> str:
    """A backup of the database, then newer data written after it: the backup's name."""
    name = "dimini-20261202T100000Z"
    take_backup(scripts, target, {**conn(postgres, database), "BACKUP_NAME": name})
    newer_data(postgres, database)
    return name


def test_restore_in_place_of_a_flipped_dump_is_refused_before_anything_is_dropped(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    name = backed_up_then_changed(postgres, database, target, scripts)
    dump = target / f"{name}.dump"
    flip_bytes(dump, dump.stat().st_size // 2)

    code, result, _ = run(scripts, "restore.sh", target, in_place(postgres, database, name))
    assert code == 1
    assert "checksum mismatch" in str(result["error"])
    assert result["intact"] is True
    assert postgres.psql("SELECT count(*) FROM patients", database) == "251"
    assert postgres.psql("SELECT to_regclass('public.reminders') IS NOT NULL", database) == "t"


def test_restore_in_place_that_fails_midway_rolls_back_to_the_old_database(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    """The drop and the load are one transaction: a dump that fails in pg_restore (corrupted
    behind a re-hashed manifest) leaves the database as it was."""
    name = backed_up_then_changed(postgres, database, target, scripts)
    dump = target / f"{name}.dump"
    flip_bytes(dump, dump.stat().st_size // 2)
    manifest_path = target / f"{name}.json"
    text = manifest_path.read_text()
    old = json.loads(text)["sha256"]
    manifest_path.write_text(text.replace(old, hashlib.sha256(dump.read_bytes()).hexdigest()))

    code, result, _ = run(scripts, "restore.sh", target, in_place(postgres, database, name))
    assert code == 1
    assert "pg_restore failed" in str(result["error"])
    assert result["intact"] is True
    assert postgres.psql("SELECT count(*) FROM patients", database) == "251"
    assert postgres.psql("SELECT version_num FROM alembic_version", database) == "0006_reminders"


def test_restore_in_place_replaces_the_database_with_the_backup(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    name = backed_up_then_changed(postgres, database, target, scripts)

    code, result, err = run(scripts, "restore.sh", target, in_place(postgres, database, name))
    assert code == 0, err
    assert (result["step"], result["name"], result["mode"]) == ("restore", name, "replace")
    assert postgres.psql("SELECT count(*) FROM patients WHERE name = 'newer'", database) == "0"
    assert postgres.psql("SELECT count(*) FROM patients", database) == "250"
    assert postgres.psql("SELECT count(*) FROM sessions", database) == "1000"
    assert postgres.psql("SELECT to_regclass('public.reminders') IS NULL", database) == "t"
    assert (
        postgres.psql("SELECT version_num FROM alembic_version", database) == "0005_graph_mentions"
    )


def test_restore_in_place_of_a_missing_backup_changes_nothing(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    code, result, _ = run(
        scripts, "restore.sh", target, in_place(postgres, database, "dimini-20261202T100000Z")
    )
    assert code == 1
    assert "not found" in str(result["error"]) and result["intact"] is True
    assert postgres.psql("SELECT count(*) FROM patients", database) == "250"


def test_retention_keeps_the_backup_a_restore_in_place_is_about_to_load(
    postgres: PostgresServer, database: str, target: Path, scripts: Path
) -> None:
    """The safety backup before an in-place restore runs retention: never of the backup that
    restore needs (RETENTION_KEEP), even beyond the count."""
    env = conn(postgres, database)
    wanted = "dimini-20261202T100000Z"
    take_backup(scripts, target, {**env, "BACKUP_NAME": wanted})
    assert run(scripts, "verify.sh", target, {})[0] == 0
    take_backup(scripts, target, {**env, "BACKUP_NAME": "dimini-20261202T110000Z"})
    code, result, err = run(
        scripts, "verify.sh", target, {"RETENTION_COUNT": "1", "RETENTION_KEEP": wanted}
    )
    assert code == 0, err
    assert (target / f"{wanted}.dump").exists() and result["count"] == 2


# --- the S3 target (S3Proxy, a real S3 API server), age-encrypted ------------------------------

PREFIX = "stacks/test"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server) -> str:
    name = f"dimini-{secrets.token_hex(4)}"
    s3.make_bucket(name)
    return name


def age_identity(workdir: Path, name: str) -> Path:
    """A new age identity in a file the postgres user can read (a mounted Secret's key)."""
    keys = workdir / "keys"
    keys.mkdir(exist_ok=True)
    path = keys / name
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    if os.geteuid() == 0:
        shutil.chown(keys, "postgres", "postgres")
        shutil.chown(path, "postgres", "postgres")
    path.chmod(0o400)
    return path


@pytest.fixture
def identity(workdir: Path) -> Path:
    return age_identity(workdir, "identity")


def s3_env(s3: S3Server, bucket: str, identity: Path) -> dict[str, str]:
    """The pod's environment for an S3 target (the operator renders the same variables)."""
    return {
        "BACKUP_TARGET": "s3",
        "S3_BUCKET": bucket,
        "S3_PREFIX": PREFIX,
        "AGE_IDENTITY_FILE": str(identity),
        **s3.rclone_env("DIMINI"),
    }


def objects(s3: S3Server, bucket: str) -> list[str]:
    return s3.list(f"{bucket}/{PREFIX}")


def test_s3_backup_is_encrypted_uploaded_with_its_manifest_and_verifies(
    postgres: PostgresServer,
    database: str,
    target: Path,
    scripts: Path,
    s3: S3Server,
    bucket: str,
    identity: Path,
) -> None:
    name = "dimini-20261202T100000Z"
    env = s3_env(s3, bucket, identity)
    code, manifest, err = run(
        scripts, "backup.sh", target, {**conn(postgres, database), **env, "BACKUP_NAME": name}
    )
    assert code == 0, err
    assert objects(s3, bucket) == [f"{name}.dump.age", f"{name}.json"]
    stored = s3.get(f"{bucket}/{PREFIX}/{name}.dump.age")
    assert stored.startswith(b"age-encryption.org/v1")  # ciphertext, not b"PGDMP"
    assert json.loads(s3.get(f"{bucket}/{PREFIX}/{name}.json")) == manifest
    assert manifest["encryption"] == "age"
    assert manifest["size"] == len(stored)
    assert manifest["sha256"] == hashlib.sha256(stored).hexdigest()
    plain = subprocess.run(
        ["age", "-d", "-i", str(identity)], input=stored, capture_output=True, check=True
    ).stdout
    assert plain[:5] == b"PGDMP"
    assert manifest["plaintextSha256"] == hashlib.sha256(plain).hexdigest()
    assert manifest["plaintextSize"] == len(plain)
    assert manifest["rowCounts"] == {"notes": 0, "patients": 250, "sessions": 1000}
    # Nothing was left behind locally but the pointer for the verify step.
    assert sorted(p.name for p in target.iterdir()) == [".current"]

    code, result, verify_err = run(scripts, "verify.sh", target, env)
    assert code == 0, verify_err
    assert result["verified"] is True
    assert result["count"] == 1
    assert f"{name}.verified" in objects(s3, bucket)
    for text in (err, verify_err, json.dumps(manifest), json.dumps(result)):
        assert s3.secret_access_key not in text
        assert "AGE-SECRET-KEY" not in text


def test_s3_flipped_byte_in_the_stored_object_fails_verification(
    postgres: PostgresServer,
    database: str,
    target: Path,
    scripts: Path,
    s3: S3Server,
    bucket: str,
    identity: Path,
) -> None:
    env = s3_env(s3, bucket, identity)
    first, second = "dimini-20261202T100000Z", "dimini-20261202T110000Z"
    take_backup(scripts, target, {**conn(postgres, database), **env, "BACKUP_NAME": first})
    assert run(scripts, "verify.sh", target, env)[0] == 0
    take_backup(scripts, target, {**conn(postgres, database), **env, "BACKUP_NAME": second})
    key = f"{bucket}/{PREFIX}/{second}.dump.age"
    data = bytearray(s3.get(key))
    data[len(data) // 2] ^= 0x01
    s3.put(key, bytes(data))

    code, result, _ = run(scripts, "verify.sh", target, {**env, "RETENTION_COUNT": "1"})
    assert code == 1
    assert result["verified"] is False
    assert result["backup"] == second
    assert "checksum mismatch" in str(result["error"])
    left = objects(s3, bucket)
    assert f"{second}.failed" in left
    assert f"{second}.verified" not in left
    # Retention keeps one, but never the newest verified backup: the first is the restore point.
    assert {f"{first}.dump.age", f"{first}.json", f"{first}.verified"} <= set(left)


def test_s3_ciphertext_damaged_behind_a_matching_checksum_fails_decryption(
    postgres: PostgresServer,
    database: str,
    target: Path,
    scripts: Path,
    s3: S3Server,
    bucket: str,
    identity: Path,
) -> None:
    """age authenticates the ciphertext: a flip the manifest's checksum does not catch (here:
    re-hashed after it) still fails, before anything is restored."""
    env = s3_env(s3, bucket, identity)
    name = "dimini-20261202T100000Z"
    manifest = take_backup(
        scripts, target, {**conn(postgres, database), **env, "BACKUP_NAME": name}
    )
    key = f"{bucket}/{PREFIX}/{name}.dump.age"
    data = bytearray(s3.get(key))
    data[len(data) // 2] ^= 0x01
    s3.put(key, bytes(data))
    text = json.dumps(manifest).replace(
        str(manifest["sha256"]), hashlib.sha256(bytes(data)).hexdigest()
    )
    s3.put(f"{bucket}/{PREFIX}/{name}.json", text.encode())

    code, result, _ = run(scripts, "verify.sh", target, env)
    assert code == 1
    assert "cannot decrypt" in str(result["error"])


def test_s3_wrong_age_key_fails_verification_clearly(
    postgres: PostgresServer,
    database: str,
    target: Path,
    scripts: Path,
    s3: S3Server,
    bucket: str,
    identity: Path,
    workdir: Path,
) -> None:
    env = s3_env(s3, bucket, identity)
    name = "dimini-20261202T100000Z"
    take_backup(scripts, target, {**conn(postgres, database), **env, "BACKUP_NAME": name})
    other = age_identity(workdir, "other")

    code, result, _ = run(scripts, "verify.sh", target, {**env, "AGE_IDENTITY_FILE": str(other)})
    assert code == 1
    assert result["error"] == (
        "cannot decrypt: the age identity is not the key this backup was encrypted to"
    )
    assert f"{name}.failed" in objects(s3, bucket)


def test_s3_retention_deletes_the_oldest_objects_by_count_and_age(
    postgres: PostgresServer,
    database: str,
    target: Path,
    scripts: Path,
    s3: S3Server,
    bucket: str,
    identity: Path,
) -> None:
    env = s3_env(s3, bucket, identity)
    db = conn(postgres, database)
    # A verified backup far older than the age limit: the newest verified one, so it stays.
    ancient = "dimini-20200101T000000Z"
    take_backup(scripts, target, {**db, **env, "BACKUP_NAME": ancient})
    assert run(scripts, "verify.sh", target, env)[0] == 0
    names = [f"dimini-{stamp}Z" for stamp in ("20200102T000000", "20200103T000000")]
    today = datetime.now(UTC).strftime("%Y%m%d")
    names += [f"dimini-{today}T0{h}0000Z" for h in range(3)]
    for n in names:
        take_backup(scripts, target, {**db, **env, "BACKUP_NAME": n})
    # The newest fails (a flipped byte): the ancient one stays the newest verified backup.
    key = f"{bucket}/{PREFIX}/{names[-1]}.dump.age"
    data = bytearray(s3.get(key))
    data[10] ^= 0x01
    s3.put(key, bytes(data))

    retention = {"RETENTION_COUNT": "2", "RETENTION_MAX_AGE_DAYS": "30"}
    code, result, _ = run(scripts, "verify.sh", target, {**env, **retention})
    assert code == 1
    assert result["count"] == 3
    kept = sorted({o.split(".")[0] for o in objects(s3, bucket)})
    # Count: the two newest; age: the other 2020 ones go; the newest verified one stays.
    assert kept == [ancient, names[-2], names[-1]]

    code, result, err = run(scripts, "verify.sh", target, {**env, **retention}, names[-2])
    assert code == 0, err
    assert result["count"] == 2
    kept = sorted({o.split(".")[0] for o in objects(s3, bucket)})
    assert kept == [names[-2], names[-1]]


def test_s3_restore_loads_the_newest_verified_backup(
    postgres: PostgresServer,
    database: str,
    target: Path,
    scripts: Path,
    s3: S3Server,
    bucket: str,
    identity: Path,
) -> None:
    env = s3_env(s3, bucket, identity)
    db = conn(postgres, database)
    take_backup(scripts, target, {**db, **env, "BACKUP_NAME": "dimini-20261202T100000Z"})
    assert run(scripts, "verify.sh", target, env)[0] == 0
    take_backup(scripts, target, {**db, **env, "BACKUP_NAME": "dimini-20261202T110000Z"})
    fresh = postgres.create_database("restored")
    try:
        code, result, err = run(scripts, "restore.sh", target, {**conn(postgres, fresh), **env})
        assert code == 0, err
        assert result["name"] == "dimini-20261202T100000Z"
        assert postgres.psql("SELECT count(*) FROM sessions", fresh) == "1000"
    finally:
        postgres.drop_database(fresh)


def test_s3_unreachable_credentials_fail_without_leaking_them(
    postgres: PostgresServer,
    database: str,
    target: Path,
    scripts: Path,
    s3: S3Server,
    bucket: str,
    identity: Path,
) -> None:
    wrong = "wrong-" + secrets.token_hex(8)
    env = {**s3_env(s3, bucket, identity), "RCLONE_CONFIG_DIMINI_SECRET_ACCESS_KEY": wrong}
    name = "dimini-20261202T100000Z"
    code, result, err = run(
        scripts, "backup.sh", target, {**conn(postgres, database), **env, "BACKUP_NAME": name}
    )
    assert code == 1
    assert "cannot upload" in str(result["error"])
    assert "Forbidden" in str(result["error"])  # what the server said
    assert wrong not in err and wrong not in json.dumps(result)
    assert objects(s3, bucket) == []


def test_s3_key_rotation_encrypts_to_the_first_identity_and_reads_the_older_backups(
    postgres: PostgresServer,
    database: str,
    target: Path,
    scripts: Path,
    s3: S3Server,
    bucket: str,
    identity: Path,
    workdir: Path,
) -> None:
    db = conn(postgres, database)
    old_env = s3_env(s3, bucket, identity)
    old = "dimini-20261202T100000Z"
    take_backup(scripts, target, {**db, **old_env, "BACKUP_NAME": old})
    new_key = age_identity(workdir, "new")
    rotated = workdir / "keys" / "rotated"
    rotated.write_text(new_key.read_text() + identity.read_text())
    if os.geteuid() == 0:
        shutil.chown(rotated, "postgres", "postgres")
    env = s3_env(s3, bucket, rotated)
    new = "dimini-20261202T110000Z"
    manifest = take_backup(scripts, target, {**db, **env, "BACKUP_NAME": new})
    recipient = subprocess.run(
        ["age-keygen", "-y", str(new_key)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert manifest["recipient"] == recipient
    for name in (old, new):
        code, result, err = run(scripts, "verify.sh", target, env, name)
        assert code == 0, err
    # The old key alone cannot read the new backup.
    code, result, _ = run(scripts, "verify.sh", target, old_env, new)
    assert code == 1
    assert "not the key this backup was encrypted to" in str(result["error"])
