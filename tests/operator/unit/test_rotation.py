"""Credential rotation inside Postgres first (issue 14, acceptance 2, second half): the Job's
render, the sequencing, and the Job's script run against a real Postgres 15 with password
authentication and passwords containing `@%/:` and quotes."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from dimini_operator.specs import rotation
from dimini_operator.specs.common import Stack
from dimini_operator.specs.secrets import db_uri

from tests.operator.pss import restricted_violations
from tests.operator.unit.conftest import make_stack
from tests.support.postgres import PG_BIN, PostgresServer, start_postgres

OLD = "o1d@%/:pa'ss"
NEW = "n3w@%/:\"pa'ss;$(x)"
IDENTITY = "uid-1/rv-42"


def test_the_job_reads_every_password_from_secrets(stack: Stack) -> None:
    job = rotation.render(stack, "byo", IDENTITY)
    text = json.dumps(job)
    assert OLD not in text and NEW not in text  # no credential in the manifest
    assert job["metadata"]["name"] == rotation.job_name(stack, IDENTITY)
    assert job["metadata"]["name"].startswith("demo-rotate-")
    pod = job["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    (container,) = pod["containers"]
    assert container["image"] == stack.spec.postgres.image  # psql is in the Postgres image
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert refs["NEW_PASSWORD"] == {"name": "byo", "key": "password"}
    assert refs["PGUSER"] == {"name": "byo", "key": "username"}
    assert refs["DATABASE_URL"] == {"name": "demo-connection", "key": "DATABASE_URL"}
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == (
        "credentials"
    )


def test_a_new_secret_version_gets_a_new_job_name(stack: Stack) -> None:
    assert rotation.job_name(stack, "uid/1") != rotation.job_name(stack, "uid/2")


def plan(stack: Stack, in_use: str | None, state: str) -> rotation.Rotation:
    return rotation.plan(
        stack,
        in_use=in_use,
        desired=NEW,
        secret_name="byo",
        secret_identity=IDENTITY,
        job_state=state,
        job_message="BackoffLimitExceeded",
    )


def test_sequencing_postgres_first_then_the_pods(stack: Stack) -> None:
    # First creation: nothing runs on an old password yet.
    assert plan(stack, None, "Missing") == rotation.Rotation(
        NEW, None, "Current", "credentials in use"
    )
    assert plan(stack, NEW, "Missing").job is None
    # A new password: the Job first, the pods keep the old one while it runs...
    start = plan(stack, OLD, "Missing")
    assert start.connection_password == OLD and start.state == "Rotating"
    assert start.job is not None and start.job["kind"] == "Job"
    running = plan(stack, OLD, "Running")
    assert running.connection_password == OLD and running.job is None
    # ...and only its success moves `<stack>-connection` (and so the pods) to the new one.
    done = plan(stack, OLD, "Succeeded")
    assert done.connection_password == NEW and done.state == "Current"
    failed = plan(stack, OLD, "Failed")
    assert failed.connection_password == OLD and failed.state == "Failed"
    assert "BackoffLimitExceeded" in failed.message and NEW not in failed.message


@pytest.fixture(scope="module")
def scram_postgres() -> Iterator[PostgresServer]:
    """A Postgres 15 that checks passwords over TCP (scram) except for the test's superuser."""
    server = start_postgres()
    try:
        (server.data_dir / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        server._pg_ctl("reload")
        yield server
    finally:
        server.destroy()


def run_job_script(
    server: PostgresServer, stack: Stack, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    job = rotation.render(stack, "byo", IDENTITY)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    plain: dict[str, Any] = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    plain.update(PGHOST=server.host, PGPORT=str(server.port), **env)
    return subprocess.run(
        container["command"],
        env={"PATH": f"{PG_BIN}:/usr/bin:/bin", **plain},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def can_login(server: PostgresServer, database: str, user: str, password: str) -> bool:
    proc = subprocess.run(
        [str(PG_BIN / "psql"), "-h", server.host, "-p", str(server.port), "-U", user,
         "-d", database, "-tAc", "select 1"],
        env={"PGPASSWORD": password}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return proc.returncode == 0


def test_the_job_changes_the_password_inside_postgres(scram_postgres: PostgresServer) -> None:
    server = scram_postgres
    stack = make_stack()
    database = stack.spec.postgres.database
    user = stack.spec.postgres.username
    server.psql(f"DROP DATABASE IF EXISTS {database}")
    server.psql(f"DROP ROLE IF EXISTS {user}")
    server.psql(f"CREATE ROLE {user} LOGIN SUPERUSER PASSWORD $p${OLD}$p$")
    server.psql(f"CREATE DATABASE {database} OWNER {user}")
    assert can_login(server, database, user, OLD) and not can_login(server, database, user, NEW)
    # DATABASE_URL as `<stack>-connection` carries it (percent-encoded), pointing at this server.
    url = db_uri(stack, user, OLD).replace(
        f"@{stack.child('postgres')}:5432/", f"@{server.host}:{server.port}/"
    )
    env = {"PGUSER": user, "NEW_PASSWORD": NEW, "DATABASE_URL": url}

    proc = run_job_script(server, stack, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "password changed inside Postgres" in proc.stdout
    assert can_login(server, database, user, NEW) and not can_login(server, database, user, OLD)
    assert NEW not in proc.stdout + proc.stderr

    # Run again (a retried Job, or the old URL now stale): nothing to do, still succeeds.
    again = run_job_script(server, stack, env)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stderr
    # A wrong old password and a new one that does not work: the Job fails, nothing changes.
    bad = run_job_script(server, stack, {**env, "NEW_PASSWORD": "other", "DATABASE_URL": url})
    assert bad.returncode != 0
    assert can_login(server, database, user, NEW)


def test_postgres_admits_the_rotation_pods(stack: Stack) -> None:
    from dimini_operator.specs import networkpolicies

    (policy,) = networkpolicies.render(stack)
    (rule,) = policy["spec"]["ingress"]
    (expr,) = rule["from"][0]["podSelector"]["matchExpressions"]
    assert rotation.COMPONENT in expr["values"]


def test_a_changed_username_keeps_the_pods_on_the_old_one_until_the_job_succeeded(
    stack: Stack,
) -> None:
    """A BYO Secret with a new username (same password): the pods must not roll onto a role
    Postgres may not have. The Job checks the new login first; only its success moves them."""

    def user_plan(state: str) -> rotation.Rotation:
        return rotation.plan(
            stack,
            in_use=NEW,
            desired=NEW,
            in_use_user="dimini",
            desired_user="dimini2",
            secret_name="byo",
            secret_identity=IDENTITY,
            job_state=state,
            job_message="BackoffLimitExceeded",
        )

    start = user_plan("Missing")
    assert start.state == "Rotating" and start.connection_user == "dimini"
    assert start.job is not None
    (container,) = start.job["spec"]["template"]["spec"]["containers"]
    assert {"name": "USERNAME_CHANGED", "value": "1"} in container["env"]
    assert user_plan("Succeeded").connection_user == "dimini2"
    failed = user_plan("Failed")
    assert failed.state == "Failed" and failed.connection_user == "dimini"
    assert "username" in failed.message and NEW not in failed.message
    # No username change: the Job is the password rotation alone.
    plain_job = plan(stack, OLD, "Missing").job
    assert plain_job is not None
    (plain,) = plain_job["spec"]["template"]["spec"]["containers"]
    assert not [e for e in plain["env"] if e["name"] == "USERNAME_CHANGED"]


def test_the_job_refuses_a_new_username_postgres_does_not_know(
    scram_postgres: PostgresServer,
) -> None:
    server = scram_postgres
    stack = make_stack()
    database = stack.spec.postgres.database
    user, renamed = stack.spec.postgres.username, "dimini_renamed"
    server.psql(f"DROP DATABASE IF EXISTS {database}")
    server.psql(f"DROP ROLE IF EXISTS {user}")
    server.psql(f"DROP ROLE IF EXISTS {renamed}")
    server.psql(f"CREATE ROLE {user} LOGIN SUPERUSER PASSWORD $p${OLD}$p$")
    server.psql(f"CREATE DATABASE {database} OWNER {user}")
    url = db_uri(stack, user, OLD).replace(
        f"@{stack.child('postgres')}:5432/", f"@{server.host}:{server.port}/"
    )
    env = {"PGUSER": renamed, "NEW_PASSWORD": OLD, "DATABASE_URL": url, "USERNAME_CHANGED": "1"}

    refused = run_job_script(server, stack, env)
    assert refused.returncode != 0
    assert "changes passwords only" in refused.stderr, refused.stdout + refused.stderr
    assert OLD not in refused.stdout + refused.stderr
    assert not can_login(server, database, renamed, OLD), "no role was created or renamed"
    assert can_login(server, database, user, OLD), "the role in use is untouched"

    # The admin created the role (docs/operator.md, Credential rotation): the Job succeeds.
    server.psql(f"CREATE ROLE {renamed} LOGIN PASSWORD $p${OLD}$p$ IN ROLE {user}")
    done = run_job_script(server, stack, env)
    assert done.returncode == 0 and "already work" in done.stdout, done.stderr
