"""Contract between the operator and the images: the containers the operator renders really run.

The backend and migration containers are rendered by the operator's pure functions, then their
command, environment (Secrets resolved, `$(VAR)` expanded as the kubelet does) and probes are run
natively: the migration first, then the backend, whose readiness probe must answer 200. The same
for the frontend's production command from the standalone build. Only the database address and
listening port are rewritten, since there is no cluster network here.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.ports import free_port
from tests.support.postgres import PostgresServer

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"
pytestmark = pytest.mark.postgres


def _render(mode: str = "production") -> list[dict[str, Any]]:
    from dimini_operator.specs.common import Stack
    from dimini_operator.specs.defaults import parse_spec
    from dimini_operator.specs.migration import render as render_job
    from dimini_operator.specs.plan import Observed, render

    spec = parse_spec(
        {
            "mode": mode,
            "backend": {"image": "dimini-backend:contract"},
            "frontend": {"image": "dimini-frontend:contract"},
        }
    )
    stack = Stack(name="dimini", namespace="contract", uid="0000", generation=1, spec=spec)
    observed = Observed(
        db_password="contract-pass-0123456789",
        secret_key="k" * 64,
        applied_image=spec.backend.image,
    )
    plan = render(stack, observed)
    return [*plan.apply, *plan.create_only, render_job(stack, spec.backend.image)]


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def _secret_value(objects: list[dict[str, Any]], name: str, key: str) -> str:
    secret = _find(objects, "Secret", name)
    if key in secret.get("stringData", {}):
        return str(secret["stringData"][key])
    return base64.b64decode(secret["data"][key]).decode()


def _container_env(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The environment the kubelet would give the container (Secrets of the stack only)."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            # $(VAR) refers to variables defined earlier in the list, as in Kubernetes.
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), item["value"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            try:
                env[item["name"]] = _secret_value(objects, ref["name"], ref["key"])
            except StopIteration:
                assert ref.get("optional"), f"{item['name']}: Secret {ref['name']} not rendered"
    return env


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"process exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback
                return int(r.status)
        except urllib.error.HTTPError as e:
            if e.code != 503:
                return int(e.code)
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s")


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def test_backend_migration_then_server_as_rendered(
    postgres: PostgresServer, started: list[subprocess.Popen[bytes]]
) -> None:
    objects = _render()
    job = _find(objects, "Job", next(o["metadata"]["name"] for o in objects if o["kind"] == "Job"))
    migrate = job["spec"]["template"]["spec"]["containers"][0]
    deployment = _find(objects, "Deployment", "dimini-backend")
    backend = deployment["spec"]["template"]["spec"]["containers"][0]

    # The database the rendered credentials name, on the test server.
    user = _secret_value(objects, "dimini-db", "username")
    database = _secret_value(objects, "dimini-db", "database")
    postgres.psql(f"CREATE ROLE \"{user}\" LOGIN PASSWORD 'unused-trust-auth'")
    postgres.psql(f'CREATE DATABASE "{database}" OWNER "{user}"')

    def native_env(container: dict[str, Any], port: int | None = None) -> dict[str, str]:
        env = _container_env(objects, container)
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(
            "dimini-postgres:5432", f"{postgres.host}:{postgres.port}"
        )
        if port is not None:
            env["PORT"] = str(port)
        return {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), **env}

    # The image's WORKDIR holds app/, alembic/ and alembic.ini, as backend/ does here.
    command = migrate["command"] + migrate.get("args", [])
    ran = subprocess.run(
        command,
        cwd=REPO / "backend",
        env=native_env(migrate),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    tables = postgres.psql("SELECT count(*) FROM alembic_version", database)
    assert tables == "1"

    port = free_port()
    command = backend["command"] + backend.get("args", [])
    command = [str(port) if part == "8000" else part for part in command]
    started.append(subprocess.Popen(command, cwd=REPO / "backend", env=native_env(backend, port)))
    probe = backend["readinessProbe"]["httpGet"]["path"]
    assert _wait_http(f"http://127.0.0.1:{port}{probe}", started[-1]) == 200
    liveness = backend["livenessProbe"]["httpGet"]["path"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{liveness}") as r:
        assert json.load(r)["database"] == "connected"


def _image_cmd(dockerfile: Path, stage: str) -> list[str]:
    """The CMD of build stage `stage` (exec form)."""
    current, cmd = None, None
    for line in dockerfile.read_text().splitlines():
        m = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if m:
            current = m[1]
        m = re.match(r"CMD\s+(\[.*\])\s*$", line)
        if m and current == stage:
            cmd = json.loads(m[1])
    assert cmd, f"no CMD in stage {stage} of {dockerfile}"
    return list(cmd)


def test_frontend_production_command_serves_pages(
    started: list[subprocess.Popen[bytes]],
) -> None:
    standalone = REPO / "frontend" / ".next" / "standalone"
    if not (standalone / "server.js").exists():
        # The frontend's Makefile installs its dependencies first when they are missing.
        build = subprocess.run(
            shlex.split("make -C frontend build"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    objects = _render()
    container = _find(objects, "Deployment", "dimini-frontend")["spec"]["template"]["spec"][
        "containers"
    ][0]
    command = container.get("command") or _image_cmd(REPO / "frontend" / "Dockerfile", "production")
    port = free_port()
    env = {
        **_container_env(objects, container),
        "PORT": str(port),
        "HOSTNAME": "127.0.0.1",
        "PATH": os.environ["PATH"],
    }
    started.append(subprocess.Popen(command, cwd=standalone, env=env))
    assert _wait_http(f"http://127.0.0.1:{port}/", started[-1]) == 200
    assert container["readinessProbe"]["tcpSocket"]["port"] == "http"
