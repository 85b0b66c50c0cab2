"""Acceptance 4: migrate first, roll after; a failed migration keeps the old image."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import (
    STACK,
    Kubectl,
    Operator,
    hold_pods,
    sample,
    stack_ready,
)
from tests.support.waiting import holds_for, wait_for

pytestmark = pytest.mark.sandbox

V1 = "registry.local/dimini-backend:0.1.0"
V2 = "registry.local/dimini-backend:0.2.0"
BROKEN = "registry.local/dimini-backend:kwok-fail"
V3 = "registry.local/dimini-backend:0.3.0"


def job_name(image: str) -> str:
    return f"{STACK}-migrate-{hashlib.sha256(image.encode()).hexdigest()[:10]}"


def backend_image(k: Kubectl) -> str:
    dep = k.get("deployment", f"{STACK}-backend")
    assert dep is not None
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


def job_done(job: dict[str, Any] | None, ctype: str) -> bool:
    conds = ((job or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == ctype and c["status"] == "True" for c in conds)


def set_image(k: Kubectl, image: str) -> None:
    k.patch("diministack", STACK, {"spec": {"backend": {"image": image}}})


def watch_rollout(k: Kubectl, image: str, timeout: float) -> list[str]:
    """Poll until the Deployment runs `image`; at every observation where it does, the
    migration Job of that image must already have completed. Returns what was seen."""
    seen: list[str] = []

    def check() -> bool:
        job = k.get("job", job_name(image))
        current = backend_image(k)
        if job is not None:
            seen.append("job-complete" if job_done(job, "Complete") else "job-running")
        if current == image:
            # Re-read the Job after the Deployment: it must be complete already.
            assert job_done(k.get("job", job_name(image)), "Complete"), (
                "backend Deployment got the image before its migration Job completed"
            )
            seen.append("rolled")
            return True
        seen.append("old-image")
        return False

    wait_for(f"Deployment rolled to {image}", check, timeout, interval=0.05)
    return seen


def test_upgrade_migrates_first_and_failed_migration_keeps_old_image(
    stack_ns: StackNs, operator: Operator
) -> None:
    k = stack_ns.k
    k.apply(sample(stack_ns.storage_class, backend={"image": V1, "migration": {"backoffLimit": 0}}))
    wait_for("stack Ready", lambda: stack_ready(k), 60)
    assert backend_image(k) == V1

    # A new image runs its migration Job first, with that image and the migrate command. A pod
    # quota holds the Job's pod back, so the Job stays running and nothing may roll meanwhile.
    running = len([p for p in k.list("pod") if p["status"].get("phase") == "Running"])
    hold_pods(k, running)
    set_image(k, V2)
    job = wait_for("migration Job for the new image", lambda: k.get("job", job_name(V2)), 10)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == V2
    assert container["command"] == ["python", "-m", "app.migrate"]

    def migrating() -> bool:
        obj = k.stack() or {}
        conds = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
        return obj.get("status", {}).get("phase") == "Migrating" and conds["MigrationsApplied"][
            "reason"
        ] in ("MigrationStarted", "MigrationRunning")

    wait_for("phase Migrating", migrating, 10)

    def old_image_while_job_runs() -> bool:
        return backend_image(k) == V1 and not job_done(k.get("job", job_name(V2)), "Complete")

    holds_for("old image while the migration runs", old_image_while_job_runs, 3)
    k.run("delete", "resourcequota", "hold")
    seen = watch_rollout(k, V2, 90)
    assert seen[-1] == "rolled"
    stack = wait_for("Ready on the new image", lambda: stack_ready(k), 60)
    assert stack["status"]["migration"]["image"] == V2
    assert stack["status"]["version"] == "0.2.0"

    # A failing migration: the Deployment keeps the old image, the stack is Degraded.
    set_image(k, BROKEN)

    def degraded() -> dict[str, Any] | None:
        cond = k.condition("Degraded")
        return cond if cond and cond["status"] == "True" else None

    cond = wait_for("Degraded after the failed migration", degraded, 30)
    series = {"namespace": stack_ns.name, "stack": STACK}
    assert operator.gauge("dimini_operator_migration_failed", **series) == 1
    assert operator.gauge("dimini_operator_stack_condition", condition="Ready", **series) == 0
    failed = k.get("job", job_name(BROKEN))
    assert failed is not None and job_done(failed, "Failed")
    job_reason = next(c["reason"] for c in failed["status"]["conditions"] if c["type"] == "Failed")
    assert cond["reason"] == job_reason
    assert job_name(BROKEN) in cond["message"]
    current = k.stack()
    assert current is not None and current["status"]["phase"] == "Degraded"
    assert current["status"]["migration"]["image"] == V2
    assert backend_image(k) == V2
    reasons = {
        e["reason"] for e in k.list("events") if e["involvedObject"]["kind"] == "DiminiStack"
    }
    assert {"MigrationStarted", "MigrationFailed", "Degraded"} <= reasons

    # Fixing the image recovers.
    set_image(k, V3)
    watch_rollout(k, V3, 30)
    stack = wait_for("Ready after the fix", lambda: stack_ready(k), 60)
    assert stack["status"]["migration"]["image"] == V3
    final = k.condition("Degraded")
    assert final is not None and final["status"] == "False"
    assert operator.gauge("dimini_operator_migration_failed", **series) == 0
    assert operator.gauge("dimini_operator_stack_condition", condition="Ready", **series) == 1
