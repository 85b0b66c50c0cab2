"""The policy engine's manifests (sandbox/netpol.py): pure, no cluster."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sandbox import netpol

ROOT = Path(__file__).resolve().parents[2]


def by_kind() -> dict[str, Any]:
    return {obj["kind"]: obj for obj in netpol.render("img:1")}


def test_the_engine_runs_privileged_on_the_real_nodes_network_only() -> None:
    ds = by_kind()["DaemonSet"]
    pod = ds["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["nodeSelector"] == {"dimini.io/node": "real"}, "never on the KWOK nodes"
    (container,) = pod["containers"]
    assert container["image"] == "img:1"
    assert container["securityContext"] == {"privileged": True}
    # The node name it filters for comes from the pod, like the kubelet's --hostname-override.
    assert "--hostname-override=$(NODE_NAME)" in container["args"]
    assert container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    # A stopped engine must not leave every selected pod without a network.
    assert "--fail-open" in container["args"]
    assert f"--metrics-bind-address=127.0.0.1:{netpol.METRICS_PORT}" in container["args"]
    assert container["readinessProbe"]["httpGet"]["port"] == netpol.METRICS_PORT
    ns = by_kind()["Namespace"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_it_may_only_read_pods_namespaces_and_policies() -> None:
    role = by_kind()["ClusterRole"]
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        (g, r, v)
        for g, r in (("", "pods"), ("", "namespaces"), ("networking.k8s.io", "networkpolicies"))
        for v in ("list", "watch")
    }
    binding = by_kind()["ClusterRoleBinding"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": netpol.NAME, "namespace": netpol.NAMESPACE}
    ]


def test_the_pinned_version_is_the_build_scripts() -> None:
    script = (ROOT / "sandbox" / "build-netpol.sh").read_text()
    match = re.search(r'NETPOL_VERSION="\$\{NETPOL_VERSION:-(v[0-9.]+)\}"', script)
    assert match and match.group(1) == netpol.VERSION
    revision = re.search(r"^LOCAL_REVISION=(\S+)$", script, re.MULTILINE)
    assert revision and revision.group(1) == netpol.LOCAL_REVISION
    assert netpol.IMAGE.endswith(f":{netpol.VERSION}-{netpol.LOCAL_REVISION}")
