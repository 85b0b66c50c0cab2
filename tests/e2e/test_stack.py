"""Dimini end to end on real pods, through the Ingress: one scenario, one step per test, in order.

1. the sample stack reaches Ready with every pod really running;
2. a therapist's flow through the Ingress, realtime over a real websocket, a signed webhook;
   two clients with different source addresses have separate login budgets, and a spoofed
   X-Forwarded-For does not change a client's budget; a body over the limit gets 413 from
   Traefik (the operator's Middleware) before it reaches the backend; a real Prometheus scrapes
   the operator, the backend and the postgres_exporter, and every dashboard query has data;
3. the backend and Postgres pods are killed: the app comes back with its data;
4. a backend image with a new migration: the Job migrates, then the Deployment rolls, and no
   request to /health fails meanwhile;
5. the stack is deleted (Retain) and created again: the patient of step 2 is still there.

Each step needs the previous ones (pytest runs a module's tests in file order).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from app.migrate import alembic_config
from lightkube.resources.core_v1 import Pod

import images
from sandbox import realnode
from tests.e2e import prometheus
from tests.e2e.conftest import (
    HOST,
    LOGIN_WINDOW_SECONDS,
    RELEASE,
    STACK_NAMESPACE,
    World,
    since,
    stack_manifest,
)
from tests.e2e.dimini_client import DiminiClient
from tests.e2e.flow import PASSWORD, therapist_flow
from tests.e2e.health_prober import HealthProber
from tests.monitoring.promql import dashboard_expressions, grafana_to_promql
from tests.operator.integration.support import STACK, stack_ready
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

READY_TIMEOUT = 420  # first start pulls nothing, but Postgres initdb + migration + 3 images start
UPGRADE_REVISION = "e2e_upgrade_0002"


def client(world: World) -> DiminiClient:
    return DiminiClient(world.base_url, HOST, timeout=15)


def pods(world: World, component: str) -> list[Pod]:
    selector: dict[str, Any] = {
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/instance": STACK,
    }
    return list(world.kube.list(Pod, namespace=STACK_NAMESPACE, labels=selector))


def really_running(pod: Pod) -> bool:
    """Running on the real node, every container started by containerd and ready."""
    status, spec = pod.status, pod.spec
    if not status or not spec or status.phase != "Running" or spec.nodeName != realnode.NODE_NAME:
        return False
    statuses = status.containerStatuses or []
    return bool(statuses) and all(
        c.ready and c.started and (c.containerID or "").startswith("containerd://")
        for c in statuses
    )


def db_credentials(world: World) -> dict[str, str]:
    secret = world.kubectl.get("secret", f"{STACK}-db")
    assert secret, f"the generated Secret {STACK}-db"
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def schema_revision(world: World) -> str | None:
    """Ask the Postgres pod from the host, with the generated credentials (psql, as an admin)."""
    (pg,) = pods(world, "postgres")
    assert pg.status and pg.status.podIP
    creds = db_credentials(world)
    out = subprocess.run(
        ["psql", "-h", pg.status.podIP, "-p", creds["port"], "-U", creds["username"],
         "-d", creds["database"], "-Atc", "SELECT version_num FROM alembic_version"],
        env={**os.environ, "PGPASSWORD": creds["password"], "PGCONNECT_TIMEOUT": "10"},
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return out.stdout.strip() or None


def backend_head() -> str:
    (head,) = ScriptDirectory.from_config(alembic_config()).get_heads()
    return str(head)


def app_answers(world: World) -> bool:
    with client(world) as c:
        try:
            return c.ready() == 200
        except Exception:  # the Ingress or the pod is not there yet
            return False


def wait_ready(world: World, timeout: float = READY_TIMEOUT) -> None:
    wait_for("the stack Ready", lambda: stack_ready(world.kubectl), timeout, interval=1)
    wait_for("backend /ready through the Ingress", lambda: app_answers(world), 120, interval=0.5)


def test_1_sample_stack_is_ready_with_every_pod_really_running(world: World) -> None:
    started = time.monotonic()
    world.kubectl.apply(stack_manifest(world.refs))
    wait_ready(world)
    world.record("apply_to_ready_seconds", since(started))

    for component in ("postgres", "backend", "frontend"):
        found = pods(world, component)
        assert found, f"no {component} pod"
        assert all(really_running(p) for p in found), f"{component} pods not really running"
    job = world.kubectl.list("job", f"app.kubernetes.io/instance={STACK}")
    assert job and all(j["status"].get("succeeded") == 1 for j in job), "the migration Job"
    assert schema_revision(world) == backend_head(), "the Job migrated the real database"
    with client(world) as c:
        assert c.ready() == 200
        page = c.page("/")
        assert page.status_code == 200 and "Dimini" in page.text


def test_2_a_therapist_works_through_the_ingress(world: World) -> None:
    with client(world) as c:
        done = therapist_flow(c, world.signing_key, "E2E")
    world.facts.update(email=done.email, patient=done.patient, session=done.session)


LOGIN_BUDGET = 20  # the backend's LOGIN_RATE_LIMIT default, per client address per window


def _wrong_logins(world: World, source: str, count: int, **headers: str) -> list[int]:
    """Wrong logins (a fresh unknown email each, so no account lockout is involved) from a socket
    bound to `source`: Traefik sees that peer address, as it would a distinct client's."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=world.base_url, transport=transport, timeout=15) as http:
        return [
            http.post(
                "/api/auth/login",
                json={"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": "x" * 12},
                headers={"Host": HOST, **headers},
            ).status_code
            for _ in range(count)
        ]


def _window_left() -> float:
    # The backend's windows are epoch-aligned (rate_limit._window_start).
    return LOGIN_WINDOW_SECONDS - time.time() % LOGIN_WINDOW_SECONDS


def test_2_each_client_behind_the_ingress_has_its_own_login_budget(world: World) -> None:
    # Start well inside one window (a boundary mid-step would refill the first client's budget).
    wait_for("a fresh login window", lambda: _window_left() > 300, 310, interval=1)
    first, second = "127.0.0.2", "127.0.0.3"  # 127.0.0.1 is the other steps' client
    assert _wrong_logins(world, first, LOGIN_BUDGET + 1) == [401] * LOGIN_BUDGET + [429]
    # Traefik drops an untrusted client's X-Forwarded-For and appends the peer it saw; the
    # backend takes the rightmost untrusted entry. A spoofed header buys no fresh budget.
    spoofed = _wrong_logins(world, first, 2, **{"X-Forwarded-For": "203.0.113.9"})
    assert spoofed == [429, 429], "a spoofed X-Forwarded-For changed the client's budget"
    assert _wrong_logins(world, first, 1, **{"X-Forwarded-For": f"203.0.113.9, {second}"}) == [
        429
    ], "a spoofed chain naming another client moved the budget"
    # Another client address keeps its whole budget (one bucket per client, not per ingress).
    assert _wrong_logins(world, second, LOGIN_BUDGET) == [401] * LOGIN_BUDGET


def test_2_a_body_over_the_limit_is_refused_at_the_ingress(world: World) -> None:
    limit = 1024 * 1024  # spec.ingress.maxBodySize's default

    def login(size: int) -> httpx.Response:
        body = b"{" + b" " * (size - 2) + b"}"
        headers = {"Host": HOST, "Content-Type": "application/json"}
        with httpx.Client(base_url=world.base_url, timeout=30) as http:
            return http.post("/api/auth/login", content=body, headers=headers)

    over = login(limit + 1)
    # Traefik's answer, not the backend's (whose errors are JSON): the body never crossed.
    assert over.status_code == 413, over.text
    assert not over.headers.get("content-type", "").startswith("application/json"), over.text
    # At the limit it reaches the backend, which judges it (a login without fields).
    at = login(limit)
    assert at.status_code == 422 and at.headers["content-type"].startswith("application/json")


def test_2_prometheus_scrapes_the_stack_and_every_dashboard_query_has_data(
    world: World, tmp_path: Path
) -> None:
    monitors = json.loads(world.kubectl.run("get", "servicemonitors", "-A", "-o", "json").stdout)
    names = sorted(m["metadata"]["name"] for m in monitors["items"])
    # The chart's for the operator, the stack's for its backend and postgres_exporter.
    assert names == sorted([RELEASE, f"{STACK}-backend", f"{STACK}-postgres"]), names
    with prometheus.running(monitors["items"], world.kubectl, tmp_path) as prom:

        def every_target_up() -> bool:
            targets = prom.targets()
            up = [t for t in targets if t["health"] == "up"]
            return len(up) == len(targets) and len({t["labels"].get("job") for t in up}) == 3

        wait_for(f"every target scraped (log: {prom.log})", every_target_up, 60, interval=1)
        # Traffic while scraped: rates, histograms, websocket events, webhooks, graph stages.
        with client(world) as c:
            therapist_flow(c, world.signing_key, "Metrics")
        for panel, expr in dashboard_expressions().items():
            query = grafana_to_promql(expr)

            def has_data(query: str = query) -> bool:
                return bool(prom.query(query))

            wait_for(f"{panel}: {query} returns data", has_data, 60, 1)
        # Series carry the labels the dashboard's variables and the alerts group by.
        (up,) = prom.query(f'up{{job="{STACK}-backend"}}')
        assert up["metric"]["namespace"] == STACK_NAMESPACE and up["metric"]["stack"] == STACK


def test_3_killed_backend_and_postgres_pods_come_back_with_the_data(world: World) -> None:
    victims = pods(world, "backend") + pods(world, "postgres")
    before = {p.metadata.uid for p in victims if p.metadata}
    started = time.monotonic()
    for pod in victims:
        assert pod.metadata and pod.metadata.name
        world.kube.delete(Pod, pod.metadata.name, namespace=STACK_NAMESPACE, grace_period=0)

    def replaced() -> bool:
        now = pods(world, "backend") + pods(world, "postgres")
        fresh = [p for p in now if p.metadata and p.metadata.uid not in before]
        return len(fresh) >= 2 and all(really_running(p) for p in now)

    wait_for("new backend and postgres pods running", replaced, 180, interval=0.5)
    wait_for("backend /ready through the Ingress", lambda: app_answers(world), 120, interval=0.5)
    world.record("pod_kill_to_ready_seconds", since(started))
    with client(world) as c:
        c.login(world.facts["email"], PASSWORD)
        assert c.get_patient(world.facts["patient"])["name"] == "Pat E2E"
        notes = c.session_notes(world.facts["session"])
        assert notes["total"] == 1, "the committed note survived"


def job_complete(job: dict[str, Any]) -> bool:
    """The operator's test of a finished migration (its Complete condition), or the count."""
    conditions = (job.get("status") or {}).get("conditions") or []
    complete = any(c.get("type") == "Complete" and c.get("status") == "True" for c in conditions)
    return complete or (job.get("status") or {}).get("succeeded") == 1


def job_image(job: dict[str, Any]) -> str:
    return str(job["spec"]["template"]["spec"]["containers"][0]["image"])


def upgrade_migration(down_revision: str) -> str:
    return f'''"""e2e: an upgrade that adds a table (expand-only, as every Dimini migration)."""

import sqlalchemy as sa
from alembic import op

revision = "{UPGRADE_REVISION}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("e2e_upgrade_marker", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("e2e_upgrade_marker")
'''


def backend_image(world: World) -> str:
    dep = world.kubectl.get("deployment", f"{STACK}-backend") or {}
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


def migration_jobs(world: World, image: str) -> list[dict[str, Any]]:
    jobs = world.kubectl.list("job", f"app.kubernetes.io/instance={STACK}")
    return [j for j in jobs if job_image(j) == image]


def set_backend_image(world: World, prober: HealthProber, ref: str) -> tuple[float, float]:
    """Set spec.backend.image; (seconds until its migration Job succeeded, until every backend
    pod runs it). Fails if the Deployment got the image before its Job completed."""
    started = time.monotonic()
    world.kubectl.patch("diministack", STACK, {"spec": {"backend": {"image": ref}}})
    rolled_early: list[float] = []

    def migrated_first() -> bool:
        # The Deployment first, then the Job: a Job never un-completes, so a Job still running
        # after the Deployment was seen on `ref` proves the roll came early. The other order
        # raced (CI, stop 22): the Job completed and the roll followed between the two reads.
        rolled = backend_image(world) == ref
        mine = migration_jobs(world, ref)
        if not mine:
            return False
        done = job_complete(mine[0])
        if rolled and not done:
            rolled_early.append(time.monotonic())
        return done

    wait_for("the migration Job of " + ref, migrated_first, 300, interval=0.5)
    assert not rolled_early, "the Deployment had the new image before its Job completed"
    migrated_at = since(started)
    wait_for(
        "the stack Ready on " + ref,
        lambda: backend_image(world) == ref and stack_ready(world.kubectl) is not None,
        300,
        interval=1,
    )
    wait_for("every backend pod on " + ref,
             lambda: all(p.spec and p.spec.containers[0].image == ref and really_running(p)
                         for p in pods(world, "backend")), 180, interval=0.5)  # fmt: skip
    rolled_at = since(started)
    # Keep probing a little after the roll: the old pods drain and go in this window.
    seen = prober.report().ok
    prober.wait_until(lambda r: r.ok >= seen + 40, timeout=60)
    return migrated_at, rolled_at


def test_4_upgrade_migrates_first_then_rolls_without_a_failed_request(world: World) -> None:
    new_ref = images.build(
        "backend",
        extra_files={f"alembic/versions/{UPGRADE_REVISION}.py": upgrade_migration(backend_head())},
    )
    assert new_ref != world.refs["backend"]
    images.load(new_ref, world.sandbox.containerd_socket)

    with HealthProber(world.base_url, HOST) as prober:
        prober.wait_until(lambda r: r.ok >= 5, timeout=30)
        migrated_at, rolled_at = set_backend_image(world, prober, new_ref)
    report = prober.report()
    world.record("upgrade_migration_seconds", migrated_at)
    world.record("upgrade_total_seconds", rolled_at)
    world.record("upgrade_health_requests", report.ok + report.failed)
    world.record("upgrade_failed_requests", report.failed)
    assert report.failed == 0, report.summary()
    assert schema_revision(world) == UPGRADE_REVISION
    world.facts["backend_before_upgrade"] = world.refs["backend"]
    world.refs["backend"] = new_ref


def test_4_b_rolling_back_the_image_keeps_the_newer_schema_without_a_failed_request(
    world: World,
) -> None:
    old_ref: str = world.facts["backend_before_upgrade"]
    # As after the Job's TTL: the old image's first Job is gone, so its migration runs again, now
    # against a schema the newer release wrote, which it must leave alone and succeed.
    for job in migration_jobs(world, old_ref):
        world.kubectl.run("delete", "job", job["metadata"]["name"], "--wait=true")
    with HealthProber(world.base_url, HOST) as prober:
        prober.wait_until(lambda r: r.ok >= 5, timeout=30)
        set_backend_image(world, prober, old_ref)
    report = prober.report()
    assert report.failed == 0, report.summary()
    assert schema_revision(world) == UPGRADE_REVISION, "the rollback left the newer schema"
    world.refs["backend"] = old_ref


def test_5_retained_data_survives_deleting_and_recreating_the_stack(world: World) -> None:
    world.kubectl.run("delete", "diministack", STACK, "--wait=true", "--timeout=180s")

    def children_gone() -> bool:
        return not world.kubectl.list("deployment") and not world.kubectl.list("statefulset")

    wait_for("the stack's workloads deleted", children_gone, 180, interval=1)
    claims = world.kubectl.list("pvc")
    assert claims, "the Retain policy kept the data volume's claim"

    doc: dict[str, Any] = stack_manifest(world.refs)
    world.kubectl.apply(doc)
    wait_ready(world)
    with client(world) as c:
        c.login(world.facts["email"], PASSWORD)
        assert c.get_patient(world.facts["patient"])["name"] == "Pat E2E"
