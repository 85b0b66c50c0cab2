"""Gateway API in the sandbox: the standard-channel CRDs and Traefik's Gateway API provider.

The CRDs come from the `sigs.k8s.io/gateway-api` Go module (config/crd/standard/), fetched with
`go mod download` into the Go module cache (outside the repository) at the version Traefik
v3.6.12 is built against. Traefik's `kubernetesgateway` provider then serves every GatewayClass
with controllerName `traefik.io/gateway-controller` (and LABEL_SELECTOR, if given), mapping each
Gateway listener to the entrypoint on the listener's port.

    python -m sandbox.gateway crds | kubectl apply --server-side -f -
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from lightkube import Client
from lightkube.generic_resource import create_global_resource, create_namespaced_resource

from sandbox import gomod, kubeapply

Manifest = dict[str, Any]

MODULE = "sigs.k8s.io/gateway-api"
# Traefik v3.6.12's go.mod requires gateway-api v1.4.0: the API its provider reads and writes.
VERSION = "v1.4.0"
GROUP = "gateway.networking.k8s.io"
CONTROLLER = "traefik.io/gateway-controller"
FIELD_MANAGER = "dimini-sandbox-gateway"
# lightkube classes for the kinds used here (so `codecs.from_dict` knows them).
GatewayClass = create_global_resource(GROUP, "v1", "GatewayClass", "gatewayclasses")
Gateway = create_namespaced_resource(GROUP, "v1", "Gateway", "gateways")
HTTPRoute = create_namespaced_resource(GROUP, "v1", "HTTPRoute", "httproutes")

# What the kubernetesgateway provider uses (pkg/provider/kubernetes/gateway/client.go): informers
# (list + watch) on Namespaces, GatewayClasses, and per watched namespace on Gateways, the route
# kinds of the standard channel, ReferenceGrants, BackendTLSPolicies, Services, EndpointSlices,
# ConfigMaps (BackendTLSPolicy CA bundles) and Secrets (listener certificates); status is written
# with UpdateStatus after a cache read. No get: it reads caches.
RBAC_RULES: list[Manifest] = [
    {
        "apiGroups": [""],
        "resources": ["namespaces", "services", "secrets", "configmaps"],
        "verbs": ["list", "watch"],
    },
    {
        "apiGroups": ["discovery.k8s.io"],
        "resources": ["endpointslices"],
        "verbs": ["list", "watch"],
    },
    {
        "apiGroups": [GROUP],
        "resources": [
            "gatewayclasses",
            "gateways",
            "httproutes",
            "grpcroutes",
            "referencegrants",
            "backendtlspolicies",
        ],
        "verbs": ["list", "watch"],
    },
    {
        "apiGroups": [GROUP],
        "resources": [
            "gatewayclasses/status",
            "gateways/status",
            "httproutes/status",
            "grpcroutes/status",
            "backendtlspolicies/status",
        ],
        "verbs": ["update"],
    },
]


def module_dir(version: str = VERSION) -> Path:
    """The module's directory in the Go module cache (downloaded on first use, ~2 MB)."""
    return gomod.module_dir(MODULE, version)


def crds(version: str = VERSION) -> list[Manifest]:
    """The standard-channel CRDs (GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant,
    BackendTLSPolicy)."""
    return gomod.yaml_docs(module_dir(version) / "config" / "crd" / "standard")


def install_crds(client: Client, version: str = VERSION, timeout: float = 60) -> None:
    """Server-side apply the CRDs and wait until each is Established (served)."""
    kubeapply.install_crds(client, crds(version), FIELD_MANAGER, timeout)


def args(label_selector: str = "", status_ip: str = "127.0.0.1") -> list[str]:
    """Traefik's command-line arguments for the Gateway API provider."""
    out = [
        "--providers.kubernetesgateway=true",
        f"--providers.kubernetesgateway.statusAddress.ip={status_ip}",
    ]
    if label_selector:
        out.append(f"--providers.kubernetesgateway.labelSelector={label_selector}")
    return out


def gateway_class(name: str, labels: dict[str, str] | None = None) -> Manifest:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": {"controllerName": CONTROLLER},
    }


def gateway(
    name: str,
    namespace: str,
    class_name: str,
    port: int,
    *,
    listener: str = "web",
    allowed_namespaces: str = "All",
) -> Manifest:
    """A Gateway with one HTTP listener on `port` (Traefik's entrypoint with that port);
    `allowed_namespaces` is the listener's allowedRoutes.namespaces.from (All, Same)."""
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "gatewayClassName": class_name,
            "listeners": [
                {
                    "name": listener,
                    "protocol": "HTTP",
                    "port": port,
                    "allowedRoutes": {"namespaces": {"from": allowed_namespaces}},
                }
            ],
        },
    }


def main(argv: list[str] | None = None) -> None:
    command = (argv if argv is not None else sys.argv[1:]) or ["crds"]
    if command != ["crds"]:
        raise SystemExit("usage: python -m sandbox.gateway crds")
    yaml.safe_dump_all(crds(), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
