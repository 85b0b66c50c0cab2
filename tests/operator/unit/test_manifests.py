"""The operator's own manifests: least-privilege RBAC, a restricted Deployment."""

from __future__ import annotations

from typing import Any

import yaml
from dimini_operator import kinds

from tests.operator.pss import restricted_violations
from tests.operator.unit.conftest import ROOT

OPERATOR = ROOT / "manifests" / "operator"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((OPERATOR / name).read_text()) if d]


def test_rbac_is_least_privilege() -> None:
    (role,) = [
        d
        for d in _docs("dimini-operator.yaml")
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "dimini-operator"
    ]
    grants = {
        (group, res, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for res in rule["resources"]
        for verb in rule["verbs"]
    }
    for group, res, verb in grants:
        assert "*" not in (group, res, verb)
        assert verb not in ("escalate", "bind", "impersonate", "update", "deletecollection")
    # The stack itself is never modified, only its status.
    assert not {v for g, r, v in grants if r == "diministacks"} - {"get", "list", "watch"}
    assert {v for g, r, v in grants if r == "diministacks/status"} == {"patch"}
    # Generated credentials are never deleted; migration Jobs are never changed.
    assert ("", "secrets", "delete") not in grants
    assert {v for g, r, v in grants if r == "jobs"} == {"list", "watch", "create"}
    assert not [r for g, r, v in grants if r in ("nodes", "namespaces", "roles")]
    # Pods are only listed (the backup pods' termination messages carry their results).
    assert {v for g, r, v in grants if r == "pods"} == {"list"}


def test_the_crd_role_reads_only_the_diministack_crd_and_storage_classes() -> None:
    (role,) = [
        d
        for d in _docs("dimini-operator.yaml")
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "dimini-operator-crd"
    ]
    sc = kinds.STORAGE_CLASS
    assert role["rules"] == [
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "resourceNames": ["diministacks.dimini.io"],
            "verbs": ["get"],
        },
        # Cluster-scoped: a RoleBinding of the main role (rbac.scope=namespace) cannot grant it.
        {"apiGroups": [sc.group], "resources": [sc.plural], "verbs": list(sc.verbs)},
    ]


def test_operator_deployment_passes_restricted() -> None:
    (dep,) = [d for d in _docs("dimini-operator.yaml") if d["kind"] == "Deployment"]
    pod = dep["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    assert pod["serviceAccountName"] == "dimini-operator"


def test_chart_rbac_is_generated_from_the_kind_registry() -> None:
    # The chart's rules are exactly the registry's (regenerate with `make manifests`).
    text = (ROOT / "charts" / "dimini-operator" / "templates" / "rbac.yaml").read_text()
    block = text.split("# BEGIN rules", 1)[1].split("\n", 1)[1].split("  # END rules", 1)[0]
    assert block == kinds.rbac_rules_yaml()


def test_installed_role_grants_what_the_registry_declares() -> None:
    (role,) = [
        d
        for d in _docs("dimini-operator.yaml")
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "dimini-operator"
    ]
    assert role["rules"] == kinds.rbac_rules()
    # Every child kind is listed and watched; only pruned kinds may be deleted.
    for k in kinds.CHILDREN:
        assert {"list", "watch"} <= set(k.verbs)
        assert ("delete" in k.verbs) == k.pruned, k.kind


def test_the_install_runs_two_replicas_with_a_disruption_budget() -> None:
    docs = _docs("dimini-operator.yaml")
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    (pdb,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"  # leader election, not Recreate
    assert pdb["spec"]["maxUnavailable"] == 1
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
