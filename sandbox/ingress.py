"""Traefik as the sandbox's ingress controller: render functions and `install`.

Traefik's kubernetes-ingress provider turns every Ingress of its IngressClass into routes (WebSocket
upgrades included, no configuration needed). It runs with `hostNetwork: true`, so the host reaches
it on 127.0.0.1:<http_port>; the IngressClass is the cluster default, so a DiminiStack without
`spec.ingress.className` is routed too.

    python -m sandbox.ingress install --image localhost/dimini/traefik:v3.6.12 [--port 18080]
    python -m sandbox.ingress render --image ... | kubectl apply --server-side -f -
"""

from __future__ import annotations

import argparse
import copy
import sys
from typing import Any

import yaml
from lightkube import Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment

from images import traefik as traefik_image
from sandbox import cluster, gateway, gomod, kubeapply
from sandbox.nodes import client as sandbox_client

Manifest = dict[str, Any]

NAMESPACE = "ingress"
NAME = "traefik"
CLASS_NAME = "traefik"
# The controller value Traefik looks for in IngressClasses.
CONTROLLER = "traefik.io/ingress-controller"
# Not 80 (needs root or a capability on the host) and not 8000/3000 (the backend and frontend when
# run on the host); the health port is separate so that /ping never shadows an application path.
DEFAULT_HTTP_PORT = 18080
FIELD_MANAGER = "dimini-sandbox-ingress"
# Written to each routed Ingress's status (`kubectl get ingress` ADDRESS): the host network's
# loopback is where this controller is reached from the sandbox's machine.
STATUS_IP = "127.0.0.1"

LABELS = {
    "app.kubernetes.io/name": NAME,
    "app.kubernetes.io/component": "ingress-controller",
    "app.kubernetes.io/part-of": "dimini-sandbox",
}

# Exactly what the kubernetes-ingress provider uses: informers (list + watch) on Ingresses,
# Services, EndpointSlices and Secrets (TLS) in the watched namespaces, on IngressClasses and Nodes
# (cluster-scope lookups), and a status update for the Ingress ADDRESS. No get: it reads caches.
RBAC_RULES: list[Manifest] = [
    {"apiGroups": [""], "resources": ["services", "secrets", "nodes"], "verbs": ["list", "watch"]},
    {
        "apiGroups": ["discovery.k8s.io"],
        "resources": ["endpointslices"],
        "verbs": ["list", "watch"],
    },
    {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["ingresses", "ingressclasses"],
        "verbs": ["list", "watch"],
    },
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"], "verbs": ["update"]},
]


# Traefik's kubernetescrd provider (the Middlewares the operator renders with spec.ingress.
# controller Traefik): informers (list + watch) on every traefik.io kind, on ConfigMaps, and on
# Nodes (its cluster-scope informer: without it the provider never syncs and loads nothing).
CRD_RBAC_RULES: list[Manifest] = [
    {"apiGroups": [""], "resources": ["configmaps", "nodes"], "verbs": ["list", "watch"]},
    {
        "apiGroups": ["traefik.io"],
        "resources": [
            "middlewares",
            "middlewaretcps",
            "ingressroutes",
            "ingressroutetcps",
            "ingressrouteudps",
            "traefikservices",
            "tlsoptions",
            "tlsstores",
            "serverstransports",
            "serverstransporttcps",
        ],
        "verbs": ["list", "watch"],
    },
]
# Traefik's own CRD definitions, as published in its Go module (fetched when Traefik is built).
TRAEFIK_MODULE = "github.com/traefik/traefik/v3"
TRAEFIK_CRDS = "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"


# The lightkube class for the one traefik.io kind the tests write (so `codecs.from_dict` knows it).
Middleware = create_namespaced_resource("traefik.io", "v1alpha1", "Middleware", "middlewares")


def traefik_crds() -> list[Manifest]:
    """Traefik's CRDs (traefik.io: Middleware, IngressRoute, ...) at the version the image runs."""
    path = gomod.module_dir(TRAEFIK_MODULE, traefik_image.VERSION) / TRAEFIK_CRDS
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def install_crds(client: Client, timeout: float = 60) -> None:
    kubeapply.install_crds(client, traefik_crds(), FIELD_MANAGER, timeout)


def health_port_for(http_port: int) -> int:
    return http_port + 1


def https_port_for(http_port: int) -> int:
    return http_port + 2


def args(
    http_port: int,
    class_name: str = CLASS_NAME,
    address: str = "",
    *,
    gateway_api: bool = False,
) -> list[str]:
    """Traefik's command line: entrypoint `web` on http_port, /ping on the next port, `websecure`
    (for Ingresses with spec.tls) on the one after (all on every interface unless address is
    given), only Ingresses of class_name, Traefik's own CRDs (Middlewares), JSON logs, no access
    log, no calls home; with
    gateway_api also the Gateway API provider (sandbox/gateway.py)."""
    return [
        f"--entryPoints.web.address={address}:{http_port}",
        f"--entryPoints.traefik.address={address}:{health_port_for(http_port)}",
        f"--entryPoints.websecure.address={address}:{https_port_for(http_port)}",
        # Traefik's Ingress provider only loads spec.tls certificates; a router serves TLS when
        # its entrypoint says so (or per Ingress annotation, which the operator does not set).
        "--entryPoints.websecure.http.tls=true",
        "--ping=true",
        "--ping.entryPoint=traefik",
        "--providers.kubernetesingress=true",
        f"--providers.kubernetesingress.ingressClass={class_name}",
        f"--providers.kubernetesingress.ingressEndpoint.ip={STATUS_IP}",
        # Prefix paths per the Ingress spec (path elements): /health must not match /healthz.
        "--providers.kubernetesingress.strictPrefixMatching=true",
        # Middlewares (traefik.io/v1alpha1) for the Ingresses' router.middlewares annotation and
        # HTTPRoutes' ExtensionRef filters; its CRDs must be installed (`install_crds`).
        "--providers.kubernetescrd=true",
        "--log.format=json",
        "--log.level=INFO",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        *(gateway.args() if gateway_api else []),
    ]


def cluster_role_name(namespace: str) -> str:
    return f"dimini-traefik-{namespace}"


def render(
    image: str,
    http_port: int = DEFAULT_HTTP_PORT,
    *,
    namespace: str = NAMESPACE,
    class_name: str = CLASS_NAME,
    default_class: bool = True,
    gateway_api: bool = False,
) -> list[Manifest]:
    """Namespace, ServiceAccount, ClusterRole + binding, IngressClass and the Deployment; with
    gateway_api the Gateway provider's grants and the GatewayClass `class_name` too (Traefik's
    CRDs must be installed, `install_crds`, and with gateway_api the Gateway API's too:
    `gateway.install_crds`)."""
    meta = {"name": NAME, "namespace": namespace, "labels": dict(LABELS)}
    role = cluster_role_name(namespace)
    rules = RBAC_RULES + CRD_RBAC_RULES + (gateway.RBAC_RULES if gateway_api else [])
    classes = [gateway.gateway_class(class_name, LABELS)] if gateway_api else []
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            # hostNetwork is outside the baseline Pod Security level; say so rather than depend on
            # the cluster's default level.
            "metadata": {
                "name": namespace,
                "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
            },
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role, "labels": dict(LABELS)},
            "rules": copy.deepcopy(rules),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": role, "labels": dict(LABELS)},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        },
        ingress_class(class_name, default_class),
        *classes,
        deployment(
            image, http_port, namespace=namespace, class_name=class_name, gateway_api=gateway_api
        ),
    ]


def ingress_class(class_name: str = CLASS_NAME, default: bool = True) -> Manifest:
    annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": class_name, "labels": dict(LABELS), "annotations": annotations},
        "spec": {"controller": CONTROLLER},
    }


def deployment(
    image: str,
    http_port: int = DEFAULT_HTTP_PORT,
    *,
    namespace: str = NAMESPACE,
    class_name: str = CLASS_NAME,
    gateway_api: bool = False,
) -> Manifest:
    probe = {"httpGet": {"path": "/ping", "port": "health"}, "periodSeconds": 5}
    container = {
        "name": NAME,
        "image": image,
        "args": args(http_port, class_name, gateway_api=gateway_api),
        "ports": [
            {"name": "web", "containerPort": http_port, "protocol": "TCP"},
            {"name": "health", "containerPort": health_port_for(http_port), "protocol": "TCP"},
            {"name": "websecure", "containerPort": https_port_for(http_port), "protocol": "TCP"},
        ],
        "readinessProbe": copy.deepcopy(probe),
        "livenessProbe": {**copy.deepcopy(probe), "failureThreshold": 6},
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The buffering Middleware spills request bodies over 1 MiB to a temporary file.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - its own emptyDir
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "replicas": 1,
            # Two pods cannot bind the same host port on one node: a surge pod would never start.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": NAME,
                    "hostNetwork": True,
                    # Cluster DNS (ExternalName Services) despite the host network.
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
                },
            },
        },
    }


def install(
    client: Client,
    image: str,
    http_port: int = DEFAULT_HTTP_PORT,
    *,
    namespace: str = NAMESPACE,
    class_name: str = CLASS_NAME,
    default_class: bool = True,
    gateway_api: bool = False,
    timeout: float = 120,
) -> None:
    """Server-side apply everything, then wait until the Deployment has rolled out: its current
    generation observed and every replica updated and available (an `Available` condition left
    over from the previous pod would not mean the new one serves)."""
    install_crds(client)
    if gateway_api:
        gateway.install_crds(client)
    manifests = render(
        image,
        http_port,
        namespace=namespace,
        class_name=class_name,
        default_class=default_class,
        gateway_api=gateway_api,
    )
    kubeapply.apply_all(client, manifests, FIELD_MANAGER)
    kubeapply.wait_until(
        f"deployment {namespace}/{NAME} not available",
        lambda: rolled_out(client.get(Deployment, NAME, namespace=namespace)),
        timeout,
        0.5,
    )


def rolled_out(dep: Deployment) -> bool:
    if dep.metadata is None or dep.spec is None or dep.status is None:
        return False
    status, want = dep.status, dep.spec.replicas
    return (
        (status.observedGeneration or 0) >= (dep.metadata.generation or 0)
        and status.updatedReplicas == want
        and status.availableReplicas == want
        and (status.replicas or 0) == want
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.ingress",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["install", "render"])
    parser.add_argument("--image", required=True, help="e.g. localhost/dimini/traefik:v3.6.12")
    parser.add_argument("--port", type=int, default=DEFAULT_HTTP_PORT, help="host HTTP port")
    opts = parser.parse_args(argv)
    if opts.command == "render":
        yaml.safe_dump_all(render(opts.image, opts.port), sys.stdout, sort_keys=False)
        return
    install(sandbox_client(cluster.Sandbox(cluster.default_root())), opts.image, opts.port)
    print(f"traefik: http://127.0.0.1:{opts.port} (IngressClass {CLASS_NAME}, default)")


if __name__ == "__main__":
    main()
