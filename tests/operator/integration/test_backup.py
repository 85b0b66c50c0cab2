"""Backups on the control plane (KWOK pods): the operator renders the CronJob, turns the
backup-now annotation into a Job, and reads each Job's result from its pod's termination
messages into status.backup and the BackupVerified condition. The scripts themselves run
against a real Postgres in tests/operator/backup/test_scripts.py."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from dimini_operator.specs.common import digest
from lightkube import Client
from lightkube.codecs import from_dict

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import (
    STACK,
    Kubectl,
    Operator,
    sample,
    stack_ready,
)
from tests.support.waiting import holds_for, wait_for

pytestmark = pytest.mark.sandbox


LAST_VERIFIED = "dimini_operator_backup_last_verified_timestamp_seconds"
FAILURES = "dimini_operator_backup_failures"


def seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def add_backup_volume(kube: Client, stack_ns: StackNs, claim: str = f"{STACK}-backups") -> None:
    name = f"{stack_ns.name}-{claim}"
    kube.apply(
        from_dict(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name, "labels": {"dimini.io/test": stack_ns.name}},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": stack_ns.storage_class,
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": f"/tmp/dimini-test/{name}"},
                    "claimRef": {"namespace": stack_ns.name, "name": claim},
                },
            }
        ),
        field_manager="dimini-tests",
    )


def add_backup_claim(kube: Client, stack_ns: StackNs, claim: str) -> None:
    """A claim with backups of an earlier stack (bootstrap.fromBackup reads it)."""
    add_backup_volume(kube, stack_ns, claim)
    stack_ns.k.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": stack_ns.storage_class,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }
    )


def backup_status(k: Kubectl) -> dict[str, Any]:
    return dict(((k.stack() or {}).get("status") or {}).get("backup") or {})


def request_backup(k: Kubectl, value: str) -> str:
    k.run("annotate", "diministack", STACK, "--overwrite", f"dimini.io/backup-now={value}")
    return f"{STACK}-backup-now-{digest(value, 10)}"


def test_on_demand_backup_is_verified_and_a_failed_one_keeps_the_restore_point(
    kube: Client, stack_ns: StackNs, operator: Operator
) -> None:
    k = stack_ns.k
    add_backup_volume(kube, stack_ns)
    doc = sample(stack_ns.storage_class)
    doc["spec"]["postgres"]["backup"] = {
        "schedule": "0 3 * * *",
        "retention": {"count": 2},
        "target": {"pvc": {"size": "1Gi", "storageClassName": stack_ns.storage_class}},
    }
    k.apply(doc)
    wait_for("stack Ready", lambda: stack_ready(k), 90)
    cron = k.get("cronjob", f"{STACK}-backup")
    assert cron is not None and cron["spec"]["schedule"] == "0 3 * * *"
    assert k.get("configmap", f"{STACK}-backup-scripts") is not None
    claim = k.get("pvc", f"{STACK}-backups")
    assert claim is not None and "ownerReferences" not in claim["metadata"]  # Retain
    cond = k.condition("BackupVerified")
    assert cond is not None and (cond["status"], cond["reason"]) == ("False", "NoVerifiedBackup")
    series = {"namespace": stack_ns.name, "stack": STACK}
    # Until a backup is verified, the alert's gauge holds the time backups were enabled.
    enabled = seconds(cron["metadata"]["creationTimestamp"])
    wait_for(
        "the last-verified gauge at the CronJob's creation",
        lambda: operator.gauge(LAST_VERIFIED, **series) == enabled,
        30,
    )

    first = request_backup(k, "first")
    wait_for(
        "BackupVerified=True",
        lambda: (k.condition("BackupVerified") or {}).get("status") == "True",
        60,
    )
    st = backup_status(k)
    assert st["lastVerified"]["job"] == first
    verified_at = seconds(st["lastVerified"]["verifiedAt"])
    wait_for(
        "the last-verified gauge at the verification",
        lambda: operator.gauge(LAST_VERIFIED, **series) == verified_at,
        30,
    )
    assert st["requested"] == "first"
    job = k.get("job", first)
    assert job is not None
    pod = job["spec"]["template"]["metadata"]["labels"]
    assert pod["dimini.io/postgres-client"] == "true"

    # A failing backup pod (KWOK fails pods whose first container image contains kwok-fail):
    # the operator reads the pod's termination message into the failure.
    k.patch("diministack", STACK, {"spec": {"postgres": {"image": "postgres:15-kwok-fail"}}})
    second = request_backup(k, "second")
    wait_for(
        "BackupVerified=False after the failed backup",
        lambda: (k.condition("BackupVerified") or {}).get("reason") == "BackupFailed",
        60,
    )
    cond = k.condition("BackupVerified")
    assert cond is not None and cond["status"] == "False"
    assert "simulated failure (image contains kwok-fail)" in cond["message"]
    assert f"restore point: {first}" in cond["message"]
    st = backup_status(k)
    assert st["lastVerified"]["job"] == first
    assert st["lastFailure"]["job"] == second

    def warning() -> list[dict[str, Any]]:
        return [
            e
            for e in k.list("events")
            if e["involvedObject"]["kind"] == "DiminiStack"
            and e.get("reason") == "BackupFailed"
            and e.get("type") == "Warning"
        ]

    (event,) = wait_for("Warning Event BackupFailed", warning, 30)
    assert "simulated failure" in event["message"]
    # A failure is counted once (by step) and does not move the last verified time.
    assert operator.gauge(FAILURES, step="backup", **series) == 1
    assert operator.gauge(FAILURES, step="verification", **series) is None
    assert operator.gauge(LAST_VERIFIED, **series) == verified_at
    # The annotation is acted on once: no second Job for the same value.
    jobs = [j["metadata"]["name"] for j in k.list("jobs") if "backup-now" in j["metadata"]["name"]]
    assert sorted(jobs) == sorted([first, second])

    # Backups turned off: no gauge, so the 26-hour alert cannot fire for this stack.
    k.run("patch", "diministack", STACK, "--type=json", "-p",
          '[{"op": "remove", "path": "/spec/postgres/backup"}]')  # fmt: skip
    wait_for("the gauge gone", lambda: operator.gauge(LAST_VERIFIED, **series) is None, 30)


V1 = "registry.local/dimini-backend:0.1.0"
V2 = "registry.local/dimini-backend:0.2.0"
V3 = "registry.local/dimini-backend:0.3.0"


def image_job(prefix: str, image: str) -> str:
    return f"{STACK}-{prefix}-{hashlib.sha256(image.encode()).hexdigest()[:10]}"


def complete(job: dict[str, Any] | None) -> str | None:
    for c in ((job or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == "Complete" and c["status"] == "True":
            return str(c["lastTransitionTime"])
    return None


def test_upgrade_is_backed_up_and_verified_before_its_migration(
    kube: Client, stack_ns: StackNs, operator: Operator
) -> None:
    k = stack_ns.k
    add_backup_volume(kube, stack_ns)
    doc = sample(stack_ns.storage_class, backend={"image": V1, "migration": {"backoffLimit": 0}})
    doc["spec"]["postgres"]["backup"] = {
        "target": {"pvc": {"size": "1Gi", "storageClassName": stack_ns.storage_class}}
    }
    k.apply(doc)
    wait_for("stack Ready", lambda: stack_ready(k), 90)
    # The first install migrates an empty database: nothing to back up.
    assert k.get("job", image_job("backup-premigrate", V1)) is None

    k.patch("diministack", STACK, {"spec": {"backend": {"image": V2}}})
    migrate = wait_for(
        "the V2 migration Job", lambda: k.get("job", image_job("migrate", V2)), 60, interval=0.1
    )
    pre = k.get("job", image_job("backup-premigrate", V2))
    done = complete(pre)
    assert done is not None, "the migration Job was created before its backup was verified"
    assert done <= migrate["metadata"]["creationTimestamp"]
    assert pre is not None and pre["metadata"]["annotations"]["dimini.io/before-migrating-to"] == V2
    ready = wait_for("stack Ready on V2", lambda: stack_ready(k), 90)
    assert ready["status"]["migration"]["backup"] == image_job("backup-premigrate", V2)
    assert ready["status"]["backup"]["lastVerified"]["job"] == image_job("backup-premigrate", V2)

    # A failing backup (KWOK fails pods of a kwok-fail image) holds the next migration back.
    k.patch(
        "diministack",
        STACK,
        {"spec": {"backend": {"image": V3}, "postgres": {"image": "postgres:15-kwok-fail"}}},
    )
    wait_for(
        "Degraded: the pre-migration backup failed",
        lambda: (k.condition("Stalled") or {}).get("reason") == "PreMigrationBackupFailed",
        60,
    )
    assert k.get("job", image_job("migrate", V3)) is None
    dep = k.get("deployment", f"{STACK}-backend")
    assert dep is not None
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == V2


def test_new_stack_from_a_backup_restores_before_migrating(
    kube: Client, stack_ns: StackNs, operator: Operator
) -> None:
    k = stack_ns.k
    add_backup_claim(kube, stack_ns, "old-backups")
    doc = sample(stack_ns.storage_class, backend={"image": V1})
    doc["spec"]["postgres"]["bootstrap"] = {"fromBackup": {"claimName": "old-backups"}}
    k.apply(doc)
    ready = wait_for("stack Ready", lambda: stack_ready(k), 90)
    restore = k.get("job", f"{STACK}-restore")
    migrate = k.get("job", image_job("migrate", V1))
    assert restore is not None and migrate is not None
    done = complete(restore)
    assert done is not None and done <= migrate["metadata"]["creationTimestamp"]
    claim = restore["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]
    assert claim["claimName"] == "old-backups"
    assert ready["status"]["phase"] == "Ready"
    # No schedule configured: the scripts, but no CronJob.
    assert k.get("cronjob", f"{STACK}-backup") is None


def test_failed_restore_holds_the_first_migration(
    kube: Client, stack_ns: StackNs, operator: Operator
) -> None:
    k = stack_ns.k
    add_backup_claim(kube, stack_ns, f"{STACK}-backups")
    doc = sample(stack_ns.storage_class, backend={"image": V1})
    doc["spec"]["postgres"]["image"] = "postgres:15-kwok-fail"
    doc["spec"]["postgres"]["bootstrap"] = {"fromBackup": {}}
    k.apply(doc)
    wait_for(
        "Degraded: RestoreFailed",
        lambda: (k.condition("Stalled") or {}).get("reason") == "RestoreFailed",
        90,
    )
    assert k.get("job", image_job("migrate", V1)) is None


def test_idle_stack_with_backups_makes_no_writes(
    kube: Client, stack_ns: StackNs, start_operator: Callable[..., Operator]
) -> None:
    """With a CronJob, a claim and a verified backup in status, full reconciles (every 5 s)
    write nothing: the claim is not re-created, status.backup is stable."""
    k = stack_ns.k
    operator = start_operator("--resync-seconds", "5")
    add_backup_volume(kube, stack_ns)
    doc = sample(stack_ns.storage_class)
    doc["spec"]["postgres"]["backup"] = {
        "target": {"pvc": {"size": "1Gi", "storageClassName": stack_ns.storage_class}}
    }
    k.apply(doc)
    wait_for("stack Ready", lambda: stack_ready(k), 90)
    request_backup(k, "idle")
    wait_for(
        "BackupVerified=True",
        lambda: (k.condition("BackupVerified") or {}).get("status") == "True",
        60,
    )
    # Settled: one more full reconcile after the last write.
    reconciles = operator.reconciles()
    wait_for("two more reconciles", lambda: operator.reconciles() >= reconciles + 2, 30)
    writes = operator.writes()
    before = operator.reconciles()
    holds_for("no writes while idle", lambda: operator.writes() == writes, 12)
    assert operator.reconciles() >= before + 2, "the safety timer reconciled meanwhile"


def restore_status(k: Kubectl) -> dict[str, Any]:
    return dict(((k.stack() or {}).get("status") or {}).get("restore") or {})


def request_restore(k: Kubectl, value: str) -> None:
    k.run("annotate", "diministack", STACK, "--overwrite", f"dimini.io/restore-in-place={value}")


def backed_up_stack(k: Kubectl, stack_ns: StackNs, kube: Client) -> None:
    add_backup_volume(kube, stack_ns)
    doc = sample(stack_ns.storage_class)
    doc["spec"]["backend"]["replicas"] = 2
    doc["spec"]["postgres"]["backup"] = {
        "target": {"pvc": {"size": "1Gi", "storageClassName": stack_ns.storage_class}}
    }
    k.apply(doc)
    wait_for("stack Ready", lambda: stack_ready(k), 90)


def test_restore_in_place_runs_each_step_once_in_order(
    kube: Client, stack_ns: StackNs, operator: Operator
) -> None:
    """The annotation -> the safety backup Job, the backend at 0 until its pods are gone, the
    restore Job, the migration rerun, the backend back (the Jobs complete on KWOK)."""
    k = stack_ns.k
    backed_up_stack(k, stack_ns, kube)
    value = "dimini-20261202T030000Z@first"
    request_restore(k, value)
    done = wait_for(
        "the restore in place Restored",
        lambda: (r := restore_status(k)).get("phase") == "Restored" and r,
        120,
    )
    assert (done["request"], done["backup"]) == (value, "dimini-20261202T030000Z")
    suffix = digest(value, 10)
    safety = k.get("job", f"{STACK}-backup-prerestore-{suffix}")
    restore = k.get("job", f"{STACK}-restore-inplace-{suffix}")
    migrate = k.get("job", f"{STACK}-migrate-restored-{suffix}")
    assert safety is not None and restore is not None and migrate is not None
    safe_done, restore_done = complete(safety), complete(restore)
    assert safe_done is not None and safe_done <= restore["metadata"]["creationTimestamp"]
    assert restore_done is not None and restore_done <= migrate["metadata"]["creationTimestamp"]
    env = {
        e["name"]: e.get("value")
        for e in restore["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["RESTORE_MODE"] == "replace"
    ready = wait_for("stack Ready again", lambda: stack_ready(k), 90)
    assert ready["status"]["backend"]["replicas"] == 2
    reasons = [e["reason"] for e in k.list("events") if e["involvedObject"]["name"] == STACK]
    for reason in ("RestoreBackingUp", "RestoreScalingDown", "RestoreRestoring", "Restored"):
        assert reason in reasons, (reason, reasons)
    # The request is acted on once: nothing new for the same value.
    jobs = {j["metadata"]["name"] for j in k.list("job")}
    k.patch("diministack", STACK, {"metadata": {"labels": {"touched": "yes"}}})
    holds_for(
        "no second restore", lambda: {j["metadata"]["name"] for j in k.list("job")} == jobs, 5
    )


def test_failed_safety_backup_stops_the_restore_in_place_before_the_backend(
    kube: Client, stack_ns: StackNs, operator: Operator
) -> None:
    k = stack_ns.k
    backed_up_stack(k, stack_ns, kube)
    k.patch("diministack", STACK, {"spec": {"postgres": {"image": "postgres:15-kwok-fail"}}})
    value = "dimini-20261202T030000Z@failing"
    request_restore(k, value)
    wait_for(
        "Stalled: SafetyBackupFailed",
        lambda: (k.condition("Stalled") or {}).get("reason") == "SafetyBackupFailed",
        90,
    )
    rec = restore_status(k)
    assert (rec["phase"], rec["databaseIntact"]) == ("Failed", True)
    assert k.get("job", f"{STACK}-restore-inplace-{digest(value, 10)}") is None
    dep = k.get("deployment", f"{STACK}-backend")
    assert dep is not None and dep["spec"]["replicas"] == 2
