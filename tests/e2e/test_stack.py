"""Dimini end to end on real pods, through the Ingress: one scenario, one step per test, in order.

1. the sample stack reaches Ready with every pod really running;
2. a therapist's flow through the Ingress, realtime over a real websocket, a signed webhook;
   two clients with different source addresses have separate login budgets, and a spoofed
   X-Forwarded-For does not change a client's budget;
3. the backend and Postgres pods are killed: the app comes back with its data;
4. a backend image with a new migration: the Job migrates, then the Deployment rolls, and no
   request to /health fails meanwhile;
5. the stack is deleted (Retain) and created again: the patient of step 2 is still there.

Each step needs the previous ones (pytest runs a module's tests in file order).
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
import uuid
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from app.migrate import alembic_config
from lightkube.resources.core_v1 import Pod

import images
from sandbox import realnode
from tests.e2e.conftest import (
    HOST,
    LOGIN_WINDOW_SECONDS,
    STACK_NAMESPACE,
    World,
    since,
    stack_manifest,
)
from tests.e2e.dimini_client import DiminiClient
from tests.e2e.flow import PASSWORD, therapist_flow
from tests.e2e.health_prober import HealthProber
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


def test_4_upgrade_migrates_first_then_rolls_without_a_failed_request(world: World) -> None:
    new_ref = images.build(
        "backend",
        extra_files={f"alembic/versions/{UPGRADE_REVISION}.py": upgrade_migration(backend_head())},
    )
    assert new_ref != world.refs["backend"]
    images.load(new_ref, world.sandbox.containerd_socket)

    def backend_image() -> str:
        dep = world.kubectl.get("deployment", f"{STACK}-backend") or {}
        return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])

    with HealthProber(world.base_url, HOST) as prober:
        prober.wait_until(lambda r: r.ok >= 5, timeout=30)
        started = time.monotonic()
        world.kubectl.patch("diministack", STACK, {"spec": {"backend": {"image": new_ref}}})

        def migrated_first() -> bool:
            jobs = world.kubectl.list("job", f"app.kubernetes.io/instance={STACK}")
            mine = [j for j in jobs if job_image(j) == new_ref]
            if not mine:
                return False
            done = bool(mine[0]["status"].get("succeeded") == 1)
            if not done and backend_image() == new_ref:
                rolled_early.append(time.monotonic())
            return done

        rolled_early: list[float] = []
        wait_for("the upgrade's migration Job", migrated_first, 300, interval=0.5)
        assert not rolled_early, "the Deployment had the new image before its Job completed"
        migrated_at = since(started)
        wait_for(
            "the stack Ready on the new image",
            lambda: backend_image() == new_ref and stack_ready(world.kubectl) is not None,
            300,
            interval=1,
        )
        wait_for("every backend pod on the new image",
                 lambda: all(p.spec and p.spec.containers[0].image == new_ref and really_running(p)
                             for p in pods(world, "backend")), 180, interval=0.5)  # fmt: skip
        rolled_at = since(started)
        # Keep probing a little after the roll: the old pods drain and go in this window.
        seen = prober.report().ok
        prober.wait_until(lambda r: r.ok >= seen + 40, timeout=60)
    report = prober.report()
    world.record("upgrade_migration_seconds", migrated_at)
    world.record("upgrade_total_seconds", rolled_at)
    world.record("upgrade_health_requests", report.ok + report.failed)
    world.record("upgrade_failed_requests", report.failed)
    assert report.failed == 0, report.summary()
    assert schema_revision(world) == UPGRADE_REVISION
    world.refs["backend"] = new_ref


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
