"""The RBAC in manifests/operator/dimini-operator.yaml (from the Helm chart) is enough."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from sandbox.cluster import Sandbox
from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import ROOT, STACK, Operator, sample, stack_ready
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox

RBAC = ROOT / "manifests" / "operator" / "dimini-operator.yaml"


def _docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(RBAC.read_text()) if d]


@pytest.fixture
def sa_kubeconfig(
    sandbox: Sandbox, stack_ns: StackNs, tmp_path: pathlib.Path
) -> Iterator[pathlib.Path]:
    """A kubeconfig authenticating as a ServiceAccount bound (in the namespace) to the role."""
    k = stack_ns.k
    # The main role only; without the `-crd` one the CRD check is skipped (403 is expected).
    (role,) = [
        d
        for d in _docs()
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "dimini-operator"
    ]
    k.apply(role)
    k.run("create", "serviceaccount", "dimini-operator")
    k.run(
        "create",
        "rolebinding",
        "dimini-operator",
        "--clusterrole=dimini-operator",
        f"--serviceaccount={stack_ns.name}:dimini-operator",
    )
    token = k.run("create", "token", "dimini-operator", "--duration=1h").stdout.strip()
    admin = yaml.safe_load(pathlib.Path(sandbox.env()["KUBECONFIG"]).read_text())
    cluster = admin["clusters"][0]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": "dimini-operator", "user": {"token": token}}],
        "contexts": [
            {
                "name": "sa",
                "context": {
                    "cluster": cluster["name"],
                    "user": "dimini-operator",
                    "namespace": stack_ns.name,
                },
            }
        ],
        "current-context": "sa",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    yield path


def test_operator_works_with_only_its_rbac(
    sandbox: Sandbox, stack_ns: StackNs, sa_kubeconfig: pathlib.Path
) -> None:
    k = stack_ns.k
    op = Operator({**sandbox.env(), "KUBECONFIG": str(sa_kubeconfig)}, stack_ns.name).start()
    try:
        k.apply(
            sample(
                stack_ns.storage_class,
                backend={"image": "registry.local/dimini-backend:0.1.0", "replicas": 2},
            )
        )
        wait_for("Ready as the ServiceAccount", lambda: stack_ready(k), 60)
        # Pruning (delete) and an upgrade (Job create) under the same role.
        k.patch(
            "diministack",
            STACK,
            {
                "spec": {
                    "ingress": {"enabled": False},
                    "backend": {"image": "registry.local/dimini-backend:0.2.0", "replicas": 1},
                }
            },
        )
        wait_for(
            "Ingress and PDB pruned",
            lambda: k.get("ingress", STACK) is None and k.get("pdb", f"{STACK}-backend") is None,
            20,
        )
        wait_for("Ready after the upgrade", lambda: stack_ready(k), 60)
        assert op.counter("dimini_operator_api_errors") == 0, op.log_tail()
        assert "Forbidden" not in op.log_tail(400)
        assert "forbidden" not in op.log_tail(400)
    finally:
        op.stop()
