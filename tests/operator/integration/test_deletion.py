"""Acceptance 6: Retain keeps volume and DB Secret for the next stack; Delete removes all."""

from __future__ import annotations

import pytest
from lightkube import Client

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import STACK, Operator, sample, stack_ready
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox

PVC = f"data-{STACK}-postgres-0"
SELECTOR = f"app.kubernetes.io/instance={STACK}"


def test_retain_keeps_volume_and_secret_for_a_new_stack(
    stack_ns: StackNs, operator: Operator
) -> None:
    k = stack_ns.k
    k.apply(sample(stack_ns.storage_class))
    wait_for("stack Ready", lambda: stack_ready(k), 60)
    password = k.secret_value(f"{STACK}-db", "password")
    pvc = k.get("pvc", PVC)
    assert password and pvc is not None
    volume = pvc["spec"]["volumeName"]

    k.run("delete", "diministack", STACK, "--wait=true", "--timeout=30s")
    # The garbage collector learns about a new CRD's objects on its 30 s discovery refresh, so
    # on a freshly started sandbox the first cascade can take that long on top.
    wait_for(
        "children garbage-collected",
        lambda: not k.list("deployment,statefulset,service", SELECTOR),
        75,
    )
    kept = k.get("pvc", PVC)
    assert kept is not None and kept["metadata"]["uid"] == pvc["metadata"]["uid"]
    assert k.secret_value(f"{STACK}-db", "password") == password
    assert k.get("secret", f"{STACK}-app") is None

    k.apply(sample(stack_ns.storage_class))
    new = wait_for("new stack Ready", lambda: stack_ready(k), 60)
    assert k.secret_value(f"{STACK}-db", "password") == password
    again = k.get("pvc", PVC)
    assert again is not None and again["metadata"]["uid"] == pvc["metadata"]["uid"]
    assert again["spec"]["volumeName"] == volume
    pod = k.get("pod", f"{STACK}-postgres-0")
    assert pod is not None
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == [PVC]
    # The adopted Secret is the new stack's child now (labels), still without an owner.
    secret = k.get("secret", f"{STACK}-db")
    assert secret is not None and not secret["metadata"].get("ownerReferences")
    assert new["metadata"]["uid"] != ""


def test_delete_policy_leaves_nothing(stack_ns: StackNs, operator: Operator, kube: Client) -> None:
    k = stack_ns.k
    k.apply(sample(stack_ns.storage_class, deletionPolicy="Delete"))
    wait_for("stack Ready", lambda: stack_ready(k), 60)

    def pvc_owned() -> bool:
        pvc = k.get("pvc", PVC)
        return bool(pvc and pvc["metadata"].get("ownerReferences"))

    wait_for("PVC owned by the StatefulSet", pvc_owned, 15)
    k.run("delete", "diministack", STACK, "--wait=true", "--timeout=30s")

    def nothing_left() -> bool:
        leftovers = k.list(
            "deployment,statefulset,service,ingress,networkpolicy,serviceaccount,secret,job,pod,"
            "pvc",
            SELECTOR,
        )
        return (
            not leftovers and k.get("pvc", PVC) is None and k.get("secret", f"{STACK}-db") is None
        )

    wait_for("everything deleted", nothing_left, 60)
