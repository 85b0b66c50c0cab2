"""The Traefik install's manifests, without a cluster: class, Deployment shape, least privilege."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from images import traefik
from sandbox import gateway, ingress

IMAGE = "localhost/dimini/traefik:v3.6.12"


def _by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in manifests}


def test_build_script_builds_the_version_the_image_is_tagged_with() -> None:
    script = (Path(traefik.__file__).parent / "build.sh").read_text()
    pinned = re.search(r'TRAEFIK_VERSION="\$\{TRAEFIK_VERSION:-(v[0-9.]+)\}"', script)
    assert pinned and pinned.group(1) == traefik.VERSION
    assert traefik.IMAGE.endswith(f"/traefik:{traefik.VERSION}")


def test_one_of_each_object_in_the_ingress_namespace() -> None:
    objs = _by_kind(ingress.render(IMAGE))
    assert sorted(objs) == sorted(
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "IngressClass",
            "Deployment",
        ]
    )
    assert objs["Namespace"]["metadata"]["name"] == "ingress"
    assert objs["ServiceAccount"]["metadata"]["namespace"] == "ingress"
    binding = objs["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == objs["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "traefik", "namespace": "ingress"}
    ]


def test_ingress_class_is_traefiks_and_the_cluster_default() -> None:
    cls = _by_kind(ingress.render(IMAGE))["IngressClass"]
    assert cls["metadata"]["name"] == "traefik"
    assert cls["spec"]["controller"] == "traefik.io/ingress-controller"
    annotations = cls["metadata"]["annotations"]
    assert annotations["ingressclass.kubernetes.io/is-default-class"] == "true"
    assert (
        "ingressclass.kubernetes.io/is-default-class"
        not in (ingress.ingress_class("other", default=False)["metadata"]["annotations"])
    )


def test_deployment_listens_on_the_host_port_non_root_read_only() -> None:
    dep = _by_kind(ingress.render(IMAGE, 18080))["Deployment"]
    pod = dep["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert "--entryPoints.web.address=:18080" in container["args"]
    assert "--providers.kubernetesingress=true" in container["args"]
    assert "--providers.kubernetesingress.ingressClass=traefik" in container["args"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "web": 18080,
        "health": 18081,
        "websecure": 18082,
    }
    assert "--entryPoints.websecure.address=:18082" in container["args"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ping", "port": "health"}
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 65532
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}


def test_no_access_log_and_no_calls_home() -> None:
    args = ingress.args(18080)
    assert not any(a.startswith("--accesslog") for a in args)
    assert "--global.checkNewVersion=false" in args
    assert "--global.sendAnonymousUsage=false" in args


def test_cluster_role_grants_only_reads_and_the_ingress_status() -> None:
    role = _by_kind(ingress.render(IMAGE))["ClusterRole"]
    grants = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    reads = {
        (group, resource, verb)
        for group, resource in [
            ("", "services"),
            ("", "secrets"),
            ("", "nodes"),
            ("discovery.k8s.io", "endpointslices"),
            ("networking.k8s.io", "ingresses"),
            ("networking.k8s.io", "ingressclasses"),
            # The CRD provider: Traefik's own kinds, and ConfigMaps.
            ("", "configmaps"),
            *(("traefik.io", r) for r in ingress.CRD_RBAC_RULES[1]["resources"]),
        ]
        for verb in ("list", "watch")
    }
    assert "middlewares" in ingress.CRD_RBAC_RULES[1]["resources"]
    assert grants == reads | {("networking.k8s.io", "ingresses/status", "update")}
    assert all("resourceNames" not in r and "nonResourceURLs" not in r for r in role["rules"])


def test_the_gateway_api_provider_adds_its_grants_class_and_flag_only_when_asked() -> None:
    plain = _by_kind(ingress.render(IMAGE))
    objs = ingress.render(IMAGE, gateway_api=True)
    kinds = [m["kind"] for m in objs]
    assert "GatewayClass" in kinds and "GatewayClass" not in plain
    (cls,) = [m for m in objs if m["kind"] == "GatewayClass"]
    assert cls["metadata"]["name"] == "traefik"
    assert cls["spec"]["controllerName"] == "traefik.io/gateway-controller"
    role = _by_kind(objs)["ClusterRole"]["rules"]
    assert role == ingress.RBAC_RULES + ingress.CRD_RBAC_RULES + gateway.RBAC_RULES
    assert plain["ClusterRole"]["rules"] == ingress.RBAC_RULES + ingress.CRD_RBAC_RULES
    args = _by_kind(objs)["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--providers.kubernetesgateway=true" in args
    assert not any("kubernetesgateway" in a for a in ingress.args(18080))
    # Writes only the status of what it serves; everything else is read from caches.
    writes = [r for r in gateway.RBAC_RULES if set(r["verbs"]) - {"list", "watch"}]
    assert writes == [r for r in gateway.RBAC_RULES if r["verbs"] == ["update"]]
    assert all(res.endswith("/status") for r in writes for res in r["resources"])
