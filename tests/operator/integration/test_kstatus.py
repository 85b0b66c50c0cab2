"""Acceptance 1: the real kstatus library reads live stacks right.

InProgress while provisioning and migrating, Failed on a failed migration and a missing Secret,
Current when Ready. Each check reads one object (phase and conditions of the same GET) and feeds
it to kstatus (tests/operator/kstatus, sigs.k8s.io/cli-utils).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import Kubectl, Operator, hold_pods, sample
from tests.operator.integration.test_upgrade import BROKEN, V1, V2
from tests.operator.kstatus_tool import compute
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox


def _in_phase(k: Kubectl, phase: str) -> dict[str, Any] | None:
    obj = k.stack()
    st = (obj or {}).get("status") or {}
    if (
        obj
        and st.get("phase") == phase
        and st.get("observedGeneration") == obj["metadata"]["generation"]
    ):
        return obj
    return None


def _kstatus(k: Kubectl, phase: str, timeout: float = 60) -> str:
    obj = wait_for(f"phase {phase}", lambda: _in_phase(k, phase), timeout)
    (result,) = compute(obj)
    return result["status"]


def test_kstatus_on_a_live_stack(stack_ns: StackNs, operator: Operator) -> None:
    k = stack_ns.k
    # No pod may start: the stack stays Provisioning (Postgres not ready).
    hold_pods(k, 0)
    k.apply(sample(stack_ns.storage_class, backend={"image": V1, "migration": {"backoffLimit": 0}}))
    assert _kstatus(k, "Provisioning") == "InProgress"
    k.run("delete", "resourcequota", "hold")
    assert _kstatus(k, "Ready", 90) == "Current"

    # A migration held back by a quota: Migrating.
    running = len([p for p in k.list("pod") if p["status"].get("phase") == "Running"])
    hold_pods(k, running)
    k.patch("diministack", "dimini", {"spec": {"backend": {"image": V2}}})
    assert _kstatus(k, "Migrating") == "InProgress"
    k.run("delete", "resourcequota", "hold")
    assert _kstatus(k, "Ready", 90) == "Current"

    # A failed migration: Failed, while the old image keeps serving.
    k.patch("diministack", "dimini", {"spec": {"backend": {"image": BROKEN}}})
    assert _kstatus(k, "Degraded", 90) == "Failed"
    k.patch("diministack", "dimini", {"spec": {"backend": {"image": V2}}})
    assert _kstatus(k, "Ready", 90) == "Current"

    # A referenced Secret that does not exist: Failed.
    k.patch("diministack", "dimini", {"spec": {"secretRefs": {"openai": {"name": "absent"}}}})
    assert _kstatus(k, "Degraded") == "Failed"
