"""Acceptance 1 of issue 15 on the real node: an on-demand backup (the CronJob's pod, started by
the dimini.io/backup-now annotation) dumps the real database with pg_dump, the verify container
restores it into a throwaway Postgres of the same image and checks the manifest, and the stack
reports BackupVerified=True with the Alembic revision and row counts; a second backup with
retention count 1 removes the first. Then a disaster drill: the stack and its data volume are
deleted and a new stack restores the backup (bootstrap.fromBackup)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import World, since, stack_manifest
from tests.e2e.flow import PASSWORD
from tests.e2e.test_stack import backend_head, client, wait_ready
from tests.operator.integration.support import STACK
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

BACKUP_TIMEOUT = 300


def backup_status(world: World) -> dict[str, Any]:
    return dict(((world.kubectl.stack() or {}).get("status") or {}).get("backup") or {})


def condition(world: World) -> dict[str, Any]:
    for cond in ((world.kubectl.stack() or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == "BackupVerified":
            return dict(cond)
    return {}


def back_up_now(world: World, value: str) -> None:
    world.kubectl.run(
        "annotate", "diministack", STACK, "--overwrite", f"dimini.io/backup-now={value}"
    )


def verified_by(world: World, value: str) -> dict[str, Any] | None:
    st = backup_status(world)
    job = (st.get("lastVerified") or {}).get("job", "")
    if st.get("requested") == value and job.startswith(f"{STACK}-backup-now-"):
        return st
    failure = st.get("lastFailure")
    assert not failure, f"backup failed: {failure}"
    return None


def delete_stack_and_its_data(world: World) -> None:
    """The disaster: the stack deleted, its workloads gone, then its data claim too."""
    k = world.kubectl
    k.run("delete", "diministack", STACK, "--wait=true", "--timeout=180s")
    wait_for(
        "the stack's workloads gone",
        lambda: not k.list("statefulset") and not k.list("deployment"),
        180,
        interval=1,
    )
    k.run("delete", "pvc", f"data-{STACK}-postgres-0", "--wait=true", "--timeout=120s")


def test_on_demand_backup_is_restored_and_verified(world: World) -> None:
    doc = stack_manifest(world.refs)
    doc["spec"]["postgres"]["backup"] = {"retention": {"count": 1}}
    world.kubectl.apply(doc)
    wait_ready(world)
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    with client(world) as c:
        c.register(email, PASSWORD, "Dr Backup")
        c.login(email, PASSWORD)
        patient = c.create_patient("Pat Backup", email="pat.backup@example.com")
    world.facts.update(email=email, patient=patient["id"])

    started = time.monotonic()
    back_up_now(world, "first")
    st = wait_for(
        "the first backup verified", lambda: verified_by(world, "first"), BACKUP_TIMEOUT, 1
    )
    world.record("backup_and_verify_seconds", since(started))
    last = st["lastVerified"]
    assert last["revision"] == backend_head()
    assert last["rowCounts"]["patients"] >= 1
    assert last["rowCounts"]["users"] >= 1
    assert last["postgresVersion"].startswith("15")
    assert last["size"] > 0 and len(last["sha256"]) == 64
    world.record("backup_size_bytes", last["size"])
    cond = condition(world)
    assert cond["status"] == "True" and cond["reason"] == "Verified"
    assert f"revision {backend_head()}" in cond["message"]
    assert "patients=" in cond["message"]
    assert st["count"] == 1

    first = last["name"]
    back_up_now(world, "second")
    st = wait_for(
        "the second backup verified",
        lambda: (s := verified_by(world, "second")) and s["lastVerified"]["name"] != first and s,
        BACKUP_TIMEOUT,
        1,
    )
    # Retention count 1: the first backup is gone, the newest (verified) one stays.
    assert st["count"] == 1
    world.facts["backup"] = st["lastVerified"]


def test_a_new_stack_from_the_backup_has_the_data(world: World) -> None:
    """Disaster drill (the data volume lost, the backup claim kept): the stack is deleted, its
    data claim too, and a new stack with bootstrap.fromBackup restores the verified backup
    before its first migration."""
    k = world.kubectl
    delete_stack_and_its_data(world)
    assert k.get("pvc", f"{STACK}-backups") is not None, "Retain keeps the backup claim"

    started = time.monotonic()
    doc = stack_manifest(world.refs)
    doc["spec"]["postgres"]["bootstrap"] = {"fromBackup": {}}
    k.apply(doc)
    wait_ready(world)
    world.record("restore_to_ready_seconds", since(started))
    st = backup_status(world)
    restore_pods = [
        p.get("status", {}).get("containerStatuses")
        for p in k.list("pod", "app.kubernetes.io/component=backup")
    ]
    assert st.get("restoredFrom") == world.facts["backup"]["name"], (st, restore_pods)
    with client(world) as c:
        c.login(world.facts["email"], PASSWORD)
        assert c.get_patient(world.facts["patient"])["name"] == "Pat Backup"
