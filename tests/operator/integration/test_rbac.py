"""The RBAC in manifests/operator/dimini-operator.yaml (from the Helm chart) is enough."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from dimini_operator import selfcheck
from dimini_operator.crd import CRD_NAME
from lightkube import Client, KubeConfig

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


def test_selfcheck_passes_with_the_operators_rbac_and_names_what_is_missing(
    stack_ns: StackNs, sa_kubeconfig: pathlib.Path
) -> None:
    """`helm test`'s checks (dimini_operator.selfcheck) against the real API server, as the
    operator's ServiceAccount: every namespaced verb is granted by the role; the CRD `get` comes
    from the `-crd` role, which this fixture leaves out, and then is bound."""
    client = Client(KubeConfig.from_file(sa_kubeconfig))
    lines: list[str] = []
    assert not selfcheck.run_checks(client, [stack_ns.name], None, say=lines.append)
    failed = [line for line in lines if line.startswith("FAIL")]
    assert failed == [
        f"FAIL  can get customresourcedefinitions.apiextensions.k8s.io {CRD_NAME}: denied",
        "FAIL  can get storageclasses.storage.k8s.io: denied",
    ], lines
    assert f"ok    {CRD_NAME} served in {stack_ns.name}" in lines
    assert f"ok    can patch diministacks/status.dimini.io in {stack_ns.name}" in lines

    k = stack_ns.k
    (crd_role,) = [
        d
        for d in _docs()
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "dimini-operator-crd"
    ]
    k.apply(crd_role)
    k.run(
        "create", "clusterrolebinding", f"dimini-operator-crd-{stack_ns.name}",
        "--clusterrole=dimini-operator-crd", f"--serviceaccount={stack_ns.name}:dimini-operator",
        namespaced=False,
    )  # fmt: skip
    try:
        lines.clear()
        assert selfcheck.run_checks(client, [stack_ns.name], None, say=lines.append), lines
        # A namespace the role is not bound in: the list and every verb there are refused.
        lines.clear()
        assert not selfcheck.run_checks(client, ["default"], None, say=lines.append)
        assert any(line.startswith(f"FAIL  {CRD_NAME} served in default: 403") for line in lines)
    finally:
        k.run(
            "delete", "clusterrolebinding", f"dimini-operator-crd-{stack_ns.name}",
            namespaced=False,
        )  # fmt: skip


def test_an_unreadable_storage_class_refuses_growth_until_the_crd_role_is_bound(
    sandbox: Sandbox, stack_ns: StackNs, sa_kubeconfig: pathlib.Path
) -> None:
    """StorageClasses are cluster-scoped: the namespaced role cannot grant them. Without the
    `-crd` ClusterRole a larger storage.size is refused saying so; bound (and the class allowing
    expansion), the next reconcile grows the claim."""
    k = stack_ns.k
    claim = f"data-{STACK}-postgres-0"
    k.patch("storageclass", stack_ns.storage_class, {"allowVolumeExpansion": True})
    env = {**sandbox.env(), "KUBECONFIG": str(sa_kubeconfig)}
    op = Operator(env, stack_ns.name, "--resync-seconds", "5").start()
    binding = f"dimini-operator-crd-{stack_ns.name}"
    try:
        k.apply(sample(stack_ns.storage_class))
        wait_for("Ready as the ServiceAccount", lambda: stack_ready(k), 60)
        k.patch("diministack", STACK, {"spec": {"postgres": {"storage": {"size": "2Gi"}}}})

        def resized() -> dict[str, Any]:
            return k.condition("StorageResized") or {}

        wait_for(
            "StorageClassUnreadable",
            lambda: resized().get("reason") == "StorageClassUnreadable",
            30,
        )
        assert "forbidden" in resized()["message"], resized()
        assert (k.condition("Stalled") or {}).get("reason") == "StorageClassUnreadable"
        claim_obj = k.get("pvc", claim) or {}
        assert claim_obj["spec"]["resources"]["requests"]["storage"] == "1Gi"

        (crd_role,) = [
            d
            for d in _docs()
            if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "dimini-operator-crd"
        ]
        k.apply(crd_role)
        k.run(
            "create", "clusterrolebinding", binding, "--clusterrole=dimini-operator-crd",
            f"--serviceaccount={stack_ns.name}:dimini-operator", namespaced=False,
        )  # fmt: skip
        wait_for("Resizing", lambda: resized().get("reason") == "Resizing", 30)
        claim_obj = k.get("pvc", claim) or {}
        assert claim_obj["spec"]["resources"]["requests"]["storage"] == "2Gi"
        assert (k.condition("Stalled") or {}).get("status") == "False"
    finally:
        op.stop()
        k.run("delete", "clusterrolebinding", binding, "--ignore-not-found", namespaced=False)
