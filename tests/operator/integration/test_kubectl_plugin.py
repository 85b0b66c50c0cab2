"""`kubectl dimini` on the control plane, found by kubectl as a plugin on PATH (the console
script pip installs): status of a live stack, a backup request and its wait, and what bad input
says. KWOK completes backup pods (and fails them on a kwok-fail image), so a backup verifies."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest
import yaml
from dimini_operator.specs.backup import BACKUP_NOW_ANNOTATION
from lightkube import Client

from tests.operator.integration.conftest import StackNs, add_volume
from tests.operator.integration.support import STACK, Operator, hold_pods, sample, stack_ready
from tests.operator.integration.test_backup import add_backup_volume
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox

PLUGIN = pathlib.Path(sys.executable).parent / "kubectl-dimini"


def dimini(stack_ns: StackNs, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`kubectl dimini ARGS`, kubectl finding the plugin on PATH."""
    env = dict(stack_ns.k.env)
    env["PATH"] = f"{PLUGIN.parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        ["kubectl", "dimini", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def backup_stack(kube: Client, stack_ns: StackNs) -> dict[str, Any]:
    add_backup_volume(kube, stack_ns)
    doc = sample(stack_ns.storage_class)
    doc["spec"]["postgres"]["backup"] = {
        "target": {"pvc": {"size": "1Gi", "storageClassName": stack_ns.storage_class}}
    }
    stack_ns.k.apply(doc)
    obj: dict[str, Any] = wait_for("stack Ready", lambda: stack_ready(stack_ns.k), 90)
    return obj


def test_status_backup_and_restore_of_a_live_stack(
    kube: Client, stack_ns: StackNs, operator: Operator
) -> None:
    assert PLUGIN.exists(), "pip install ./operator installs kubectl-dimini"
    k, ns = stack_ns.k, stack_ns.name
    obj = backup_stack(kube, stack_ns)

    out = dimini(stack_ns, "status", STACK, "-n", ns)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "  phase:      Ready" in lines
    assert f"  stack:      {ns}/{STACK}" in lines
    generation = str(obj["metadata"]["generation"])
    for cond in obj["status"]["conditions"]:
        row = next(x for x in lines if x.split()[:1] == [cond["type"]])
        assert row.split()[1:4] == [cond["status"], cond["reason"], generation], row
    # KWOK pods of the stack, by component.
    components = {x.split()[0] for x in lines[lines.index("Pods:") + 2 :] if x and x[0] != " "}
    assert {"backend", "frontend", "postgres"} <= components
    assert "Backups:\n  (none: no verified backup yet" in out.stdout

    listing = dimini(stack_ns, "status", "-n", ns)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[1].split()[:3] == [STACK, "Ready", "True"]

    # A backup, requested and waited for: the operator's Job verifies (KWOK completes it).
    done = dimini(stack_ns, "backup", STACK, "-n", ns, "--wait", "--timeout", "60", timeout=90)
    assert done.returncode == 0, done.stderr
    job = done.stdout.split("Job ", 1)[1].split()[0]
    stored = k.stack() or {}
    value = stored["metadata"]["annotations"][BACKUP_NOW_ANNOTATION]
    assert stored["status"]["backup"]["requested"] == value
    assert stored["status"]["backup"]["lastVerified"]["job"] == job
    assert f"backup {job} verified at" in done.stdout

    # Nothing can verify while no pod may start: --wait gives up with a message, exit 1.
    running = [p for p in k.list("pods") if p["status"].get("phase") not in ("Succeeded", "Failed")]
    hold_pods(k, len(running))
    held = dimini(stack_ns, "backup", STACK, "-n", ns, "--wait", "--timeout", "8", timeout=60)
    assert held.returncode == 1, held.stdout + held.stderr
    (message,) = held.stderr.splitlines()
    assert message.startswith("kubectl dimini backup: timed out after 8s waiting for backup")
    assert "Traceback" not in held.stderr
    second = held.stdout.split("Job ", 1)[1].split()[0]
    assert second != job
    wait_for("the operator created the held Job", lambda: k.get("job", second), 30)

    # Restore: into a new stack (printed), never in place.
    dry = dimini(
        stack_ns, "restore", STACK, "-n", ns, "--into", "restored", "--dry-run",
        "--from-backup", "dimini-20261207T030000Z",
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    doc = yaml.safe_load(dry.stdout)
    assert doc["metadata"] == {"name": "restored", "namespace": ns}
    assert doc["spec"]["postgres"]["bootstrap"]["fromBackup"] == {
        "claimName": f"{STACK}-backups",
        "name": "dimini-20261207T030000Z",
    }
    assert "spec.ingress.host" in dry.stderr  # the copied host is shared: said
    in_place = dimini(stack_ns, "restore", STACK, "-n", ns, "--into", STACK)
    assert in_place.returncode == 2 and "use --in-place" in in_place.stderr
    # Applied: the operator restores the new stack from the old one's claim before migrating
    # (once its Postgres pod runs: pods are allowed again).
    k.run("delete", "resourcequota", "hold")
    add_volume(kube, ns, stack_ns.storage_class, stack="restored")
    made = dimini(
        stack_ns, "restore", STACK, "-n", ns, "--into", "restored",
        "--from-backup", "dimini-20261207T030000Z",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    restore_job = wait_for("the restore Job", lambda: k.get("job", "restored-restore"), 60)
    claims = [v["persistentVolumeClaim"]["claimName"] for v in restore_job["spec"]["template"]
              ["spec"]["volumes"] if "persistentVolumeClaim" in v]  # fmt: skip
    assert claims == [f"{STACK}-backups"]
    again = dimini(stack_ns, "restore", STACK, "-n", ns, "--into", "restored", "--from-backup",
                   "dimini-20261207T030000Z")  # fmt: skip
    assert again.returncode == 2 and "exists already" in again.stderr


def test_bad_input_is_one_line_and_exit_2(stack_ns: StackNs, operator: Operator) -> None:
    stack_ns.k.apply(sample(stack_ns.storage_class))
    ns = stack_ns.name
    missing = dimini(stack_ns, "status", "nosuch", "-n", ns)
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert missing.stderr == (
        f"kubectl dimini status: no DiminiStack 'nosuch' in namespace '{ns}' (there: {STACK})\n"
    )
    empty = dimini(stack_ns, "status", "-n", f"{ns}-none")
    assert empty.returncode == 2
    assert empty.stderr == f"kubectl dimini status: no DiminiStacks in namespace '{ns}-none'\n"
    # A stack without spec.postgres.backup: on-demand backups are refused, no annotation set.
    refused = dimini(stack_ns, "backup", STACK, "-n", ns)
    assert refused.returncode == 2 and "has no spec.postgres.backup" in refused.stderr
    annotations = (stack_ns.k.stack() or {})["metadata"].get("annotations") or {}
    assert BACKUP_NOW_ANNOTATION not in annotations
    logs = dimini(stack_ns, "logs", "nosuch", "-n", ns)
    assert logs.returncode == 2 and logs.stderr.count("\n") == 1
