"""Acceptance 1 of issue 15 on the real node: an on-demand backup (the CronJob's pod, started by
the dimini.io/backup-now annotation) dumps the real database with pg_dump, the verify container
restores it into a throwaway Postgres of the same image and checks the manifest, and the stack
reports BackupVerified=True with the Alembic revision and row counts; a second backup with
retention count 1 removes the first. The same stack is then restored in place from it (the
safety backup first, the backend stopped, the restore, the migration). Then a disaster drill: the
stack and its data volume are deleted and a new stack restores the backup (bootstrap.fromBackup)."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import World, since, stack_manifest
from tests.e2e.flow import PASSWORD, therapist_flow
from tests.e2e.test_stack import backend_head, client, wait_ready
from tests.operator.integration.support import STACK, Kubectl
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

BACKUP_TIMEOUT = 300
# A safety backup, the backend's drain, the restore, the migration, the backend's start.
RESTORE_TIMEOUT = 600
# Where `kubectl dimini` (the venv's kubectl-dimini) is.
PLUGIN_DIR = Path(sys.executable).parent


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


def restored(world: World, value: str) -> dict[str, Any] | None:
    """status.restore once the request `value` has Restored; a failure fails the test."""
    rec = dict(((world.kubectl.stack() or {}).get("status") or {}).get("restore") or {})
    if rec.get("request") != value:
        return None
    assert rec.get("phase") != "Failed", f"the restore in place failed: {rec}"
    return rec if rec.get("phase") == "Restored" else None


def test_restore_in_place_brings_the_backup_back_and_drops_newer_data(world: World) -> None:
    """Issue 15's in-place restore on the same stack: data A is in the verified backup, data B
    is written after it; `kubectl dimini restore --in-place` takes a safety backup, stops the
    backend, restores, migrates and starts it: A is there, B is gone, the app works."""
    k = world.kubectl
    wanted = world.facts["backup"]["name"]
    with client(world) as c:
        c.login(world.facts["email"], PASSWORD)
        c.create_patient("Pat Newer", email="pat.newer@example.com")
        assert "Pat Newer" in [p["name"] for p in c.list_patients()["items"]]

    started = time.monotonic()
    plugin = Kubectl({**k.env, "PATH": f"{PLUGIN_DIR}{os.pathsep}{k.env['PATH']}"}, k.namespace)
    plugin.run(
        "dimini",
        "restore",
        STACK,
        "-n",
        k.namespace,
        "--in-place",
        "--from-backup",
        wanted,
        namespaced=False,
    )
    value = ((k.stack() or {}).get("metadata", {}).get("annotations") or {})[
        "dimini.io/restore-in-place"
    ]
    rec = wait_for("the restore in place", lambda: restored(world, value), RESTORE_TIMEOUT, 1)
    wait_ready(world)
    world.record("restore_in_place_seconds", since(started))
    assert rec["backup"] == wanted
    # The safety backup (the way back) was taken, verified, and kept with the restored one.
    st = backup_status(world)
    assert st["lastVerified"]["name"] == rec["safetyBackup"] != wanted
    assert st["count"] == 2
    with client(world) as c:
        c.login(world.facts["email"], PASSWORD)
        assert c.get_patient(world.facts["patient"])["name"] == "Pat Backup"
        assert "Pat Newer" not in [p["name"] for p in c.list_patients()["items"]]
        # Writes, the websocket and the webhook work on the restored database.
        therapist_flow(c, world.signing_key, "Restored")
    # The newest verified backup now: the disaster drill below restores it.
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
