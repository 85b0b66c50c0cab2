"""Growing spec.postgres.storage.size against the real control plane (issue 15, storage growth).

No volume driver runs here (KWOK nodes, a static hostPath volume): the test plays the external
resizer and the kubelet by writing the claim's status (conditions, capacity), which is all a CSI
resizer does to the API. The real node's local storage cannot resize, so no e2e covers it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import STACK, Kubectl, Operator, sample, stack_ready
from tests.support.waiting import holds_for, wait_for

pytestmark = pytest.mark.sandbox

CLAIM = f"data-{STACK}-postgres-0"


def _grow(k: Kubectl, size: str) -> None:
    k.patch("diministack", STACK, {"spec": {"postgres": {"storage": {"size": size}}}})


def _requested(k: Kubectl) -> str:
    claim = k.get("pvc", CLAIM) or {}
    return str(claim["spec"]["resources"]["requests"]["storage"])


def _resized(k: Kubectl) -> dict[str, Any]:
    return k.condition("StorageResized") or {}


def _claim_status(k: Kubectl, status: dict[str, Any]) -> None:
    """What the external resizer (and the kubelet) write."""
    k.run(
        "patch", "pvc", CLAIM, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip


def _events(k: Kubectl, reason: str) -> list[dict[str, Any]]:
    return [
        e
        for e in k.list("events")
        if e["involvedObject"]["kind"] == "DiminiStack" and e.get("reason") == reason
    ]


def _settled_writes(operator: Operator) -> float:
    """Writes once a full reconcile has passed after the last one."""
    reconciles = operator.reconciles()
    wait_for("two more reconciles", lambda: operator.reconciles() >= reconciles + 2, 30)
    return operator.writes()


def test_an_expandable_class_grows_the_claim_and_reports_progress(
    stack_ns: StackNs, start_operator: Callable[..., Operator]
) -> None:
    k = stack_ns.k
    k.patch("storageclass", stack_ns.storage_class, {"allowVolumeExpansion": True})
    operator = start_operator("--resync-seconds", "5")
    k.apply(sample(stack_ns.storage_class))
    wait_for("stack Ready", lambda: stack_ready(k), 60)
    assert _resized(k)["status"] == "True"

    _grow(k, "2Gi")
    wait_for("claim patched to 2Gi", lambda: _requested(k) == "2Gi", 30)
    wait_for("StorageResized=False Resizing", lambda: _resized(k).get("reason") == "Resizing", 30)
    # The app serves on; kstatus reads the resize as in progress.
    stack = stack_ready(k)
    assert stack is not None
    assert (k.condition("Reconciling") or {}).get("status") == "True"
    sts = k.get("statefulset", f"{STACK}-postgres") or {}
    (tmpl,) = sts["spec"]["volumeClaimTemplates"]
    assert tmpl["spec"]["resources"]["requests"]["storage"] == "1Gi"  # immutable: kept
    # Shrinking is refused by the API server.
    proc = k.run(
        "patch", "diministack", STACK, "--type", "merge",
        "-p", json.dumps({"spec": {"postgres": {"storage": {"size": "1Gi"}}}}), check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "cannot shrink" in proc.stderr, proc.stderr

    # The resizer expanded the volume; the file system waits for the kubelet.
    _claim_status(
        k,
        {"conditions": [{"type": "FileSystemResizePending", "status": "True"}]},
    )
    wait_for(
        "FileSystemResizePending",
        lambda: _resized(k).get("reason") == "FileSystemResizePending",
        30,
    )
    _claim_status(k, {"capacity": {"storage": "2Gi"}, "conditions": None})
    wait_for("StorageResized=True", lambda: _resized(k).get("status") == "True", 30)
    assert (k.condition("Reconciling") or {}).get("status") == "False"
    assert "2Gi" in _resized(k)["message"]
    for reason in ("StorageResizing", "FileSystemResizePending", "StorageResized"):
        assert [e["type"] for e in _events(k, reason)] == ["Normal"], reason

    # Resized: idle reconciles write nothing (no claim patch, no status, no Event).
    writes = _settled_writes(operator)
    holds_for("no writes while idle", lambda: operator.writes() == writes, 12)
    assert _requested(k) == "2Gi"


def test_a_class_without_expansion_refuses_and_leaves_the_claim(
    stack_ns: StackNs, start_operator: Callable[..., Operator]
) -> None:
    k = stack_ns.k
    operator = start_operator("--resync-seconds", "5")
    k.apply(sample(stack_ns.storage_class))
    wait_for("stack Ready", lambda: stack_ready(k), 60)

    _grow(k, "2Gi")
    wait_for(
        "StorageExpansionNotSupported",
        lambda: _resized(k).get("reason") == "StorageExpansionNotSupported",
        30,
    )
    assert stack_ready(k) is not None  # the app keeps running, not Degraded
    stalled = k.condition("Stalled") or {}
    assert (stalled["status"], stalled["reason"]) == ("True", "StorageExpansionNotSupported")
    assert (k.condition("Degraded") or {}).get("status") == "False"
    assert "allowVolumeExpansion" in _resized(k)["message"]
    assert _requested(k) == "1Gi"
    (warning,) = _events(k, "StorageExpansionNotSupported")
    assert warning["type"] == "Warning" and stack_ns.storage_class in warning["message"]

    # Refused once: later reconciles neither patch nor post again.
    writes = _settled_writes(operator)
    holds_for("no writes while refused", lambda: operator.writes() == writes, 12)
    assert len(_events(k, "StorageExpansionNotSupported")) == 1
    assert _requested(k) == "1Gi"
