"""A NetworkPolicy engine for the real node: SIG Network's kube-network-policies, opt-in.

The real node's CNI (the bridge plugin) enforces no NetworkPolicy. kube-network-policies (the
engine kind ships) sends the first packet of every connection to or from a pod that a policy
selects to userspace over nfqueue and drops what the policies refuse; later packets of an allowed
connection pass in the kernel (conntrack). It only reads in-cluster credentials, so it runs as
kind runs it: a privileged host-network DaemonSet on the real node with a ServiceAccount allowed
to list and watch pods, namespaces and NetworkPolicies.

    python -m sandbox.netpol install     # into the running real-node sandbox (DIMINI_SANDBOX_DIR)
    python -m sandbox.netpol uninstall
    python -m sandbox.netpol render      # the manifests, for kubectl

The binary is built once per version by sandbox/build-netpol.sh, with one local change: the
sandbox's kernels lack nftables' `queue` expression (no nft_queue), so the engine's queue rules
use the xtables NFQUEUE target through nft_compat instead (same queue, same userspace). The
image (the binary alone, FROM scratch) is imported into the node's containerd. Connections from
the node's root user (the kubelet's probes, psql run as root on the host) are never filtered: the
engine exempts them.
`--fail-open`: while the engine is not running (stopped, crashed, uninstalled) traffic passes,
as without an engine, instead of every selected pod losing its network.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from lightkube import ApiError, Client
from lightkube.resources.apps_v1 import DaemonSet
from lightkube.resources.core_v1 import Pod

from sandbox import cluster, kubeapply, realnode
from sandbox.nodes import client as sandbox_client

Manifest = dict[str, Any]

HERE = Path(__file__).resolve().parent
# Must equal NETPOL_VERSION's and LOCAL_REVISION's defaults in build-netpol.sh (a unit test checks).
VERSION = "v0.8.0"
LOCAL_REVISION = "xtqueue1"
IMAGE = f"localhost/dimini/kube-network-policies:{VERSION}-{LOCAL_REVISION}"
NAMESPACE = "kube-network-policies"
NAME = "kube-network-policies"
FIELD_MANAGER = "dimini-sandbox-netpol"
# Host network: away from Traefik's 18080/18081 and the usual 9080.
METRICS_PORT = 19080
# The engine's queue number (kind's manifest uses 98 too).
QUEUE_ID = 98
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "dimini-sandbox"}

RBAC_RULES: list[Manifest] = [
    {"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["list", "watch"]},
    {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["networkpolicies"],
        "verbs": ["list", "watch"],
    },
]


def args() -> list[str]:
    return [
        "--hostname-override=$(NODE_NAME)",
        "--fail-open",
        f"--nfqueue-id={QUEUE_ID}",
        f"--metrics-bind-address=127.0.0.1:{METRICS_PORT}",
        "--v=2",
    ]


def daemonset(image: str, namespace: str = NAMESPACE) -> Manifest:
    container: Manifest = {
        "name": NAME,
        "image": image,
        "args": args(),
        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        # Ready once it serves metrics (it starts its queue right after its caches sync).
        "readinessProbe": {
            "httpGet": {"host": "127.0.0.1", "path": "/metrics", "port": METRICS_PORT},
            "periodSeconds": 2,
        },
        "resources": {"requests": {"cpu": "50m", "memory": "50Mi"}, "limits": {"memory": "256Mi"}},
        # nftables and nfqueue in the host's network namespace.
        "securityContext": {"privileged": True},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": NAME,
                    "hostNetwork": True,
                    "nodeSelector": {"dimini.io/node": "real"},
                    "tolerations": [{"operator": "Exists"}],
                    "terminationGracePeriodSeconds": 15,
                    "containers": [container],
                },
            },
        },
    }


def render(image: str = IMAGE, namespace: str = NAMESPACE) -> list[Manifest]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            # Privileged and on the host network: outside every other Pod Security level.
            "metadata": {
                "name": namespace,
                "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": NAME, "labels": dict(LABELS)},
            "rules": RBAC_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": NAME, "labels": dict(LABELS)},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": NAME,
            },
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        },
        daemonset(image, namespace),
    ]


# --- doing ----------------------------------------------------------------------------------------


def binary() -> Path:
    """The static binary, built on first use (about 7 minutes cold) and cached per version."""
    out = subprocess.run(
        ["bash", str(HERE / "build-netpol.sh")],
        env={**os.environ, "NETPOL_VERSION": VERSION},
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


def _buildah(*argv: str) -> str:
    return subprocess.run(
        ["buildah", *argv], check=True, capture_output=True, text=True
    ).stdout.strip()


def ensure_image(paths: realnode.NodePaths, image: str = IMAGE) -> None:
    """The image (the binary FROM scratch) in the node's containerd; its OCI archive is cached
    beside the binary, so a new sandbox imports it without buildah."""
    if realnode.has_image(paths, image):
        return
    exe = binary()
    archive = exe.parent / "image-oci.tar"
    if not archive.exists():
        container = _buildah("from", "scratch")
        try:
            _buildah("copy", container, str(exe), "/kube-network-policies")
            # SIGINT is the signal on which the engine removes its nftables table; the default
            # SIGTERM would end it without cleaning up.
            _buildah(
                "config",
                "--entrypoint",
                '["/kube-network-policies"]',
                "--stop-signal",
                "SIGINT",
                container,
            )
            _buildah("commit", "-q", container, image)
        finally:
            subprocess.run(["buildah", "rm", container], check=False, capture_output=True)
        tmp = archive.with_suffix(".tmp")
        _buildah("push", "-q", image, f"oci-archive:{tmp}:{image}")
        tmp.rename(archive)
    realnode.ctr(paths, "images", "import", str(archive))


def ready(ds: DaemonSet) -> bool:
    status = ds.status
    if not status or not ds.metadata:
        return False
    return (
        (status.observedGeneration or 0) >= (ds.metadata.generation or 0)
        and status.desiredNumberScheduled >= 1
        and status.numberReady == status.desiredNumberScheduled
        and (status.updatedNumberScheduled or 0) == status.desiredNumberScheduled
    )


def install(client: Client, paths: realnode.NodePaths, timeout: float = 120) -> None:
    """Import the image, apply the manifests and wait until the engine is ready on the node."""
    ensure_image(paths)
    kubeapply.apply_all(client, render(), FIELD_MANAGER)
    kubeapply.wait_until(
        f"daemonset {NAMESPACE}/{NAME} not ready",
        lambda: ready(client.get(DaemonSet, NAME, namespace=NAMESPACE)),
        timeout,
        0.5,
    )


def uninstall(client: Client, timeout: float = 60) -> None:
    """Remove the DaemonSet and wait for its pod to end (it removes its nftables table on the
    way out); the namespace and RBAC stay for a later install."""
    try:
        client.delete(DaemonSet, NAME, namespace=NAMESPACE)
    except ApiError as err:
        if err.status.code != 404:
            raise
    selector: dict[str, Any] = {"app.kubernetes.io/name": NAME}
    kubeapply.wait_until(
        f"pods of {NAMESPACE}/{NAME} still there",
        lambda: not list(client.list(Pod, namespace=NAMESPACE, labels=selector)),
        timeout,
        0.5,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.netpol", description=__doc__)
    parser.add_argument("action", choices=["install", "uninstall", "render"])
    opts = parser.parse_args(argv)
    if opts.action == "render":
        yaml.safe_dump_all(render(), sys.stdout, sort_keys=False)
        return
    sb = cluster.Sandbox(cluster.default_root())
    if not sb.has_real_node():
        raise SystemExit("the sandbox has no real node: python -m sandbox up --real-node")
    kube = sandbox_client(sb)
    if opts.action == "install":
        install(kube, realnode.NodePaths(sb.root))
    else:
        uninstall(kube)


if __name__ == "__main__":
    main()
