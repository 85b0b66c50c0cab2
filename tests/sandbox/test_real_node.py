"""The sandbox's real node: pods really run, Services route by name, volumes keep their data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lightkube import Client
from lightkube.codecs import from_dict
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Node, Pod
from lightkube.types import CascadeType

from sandbox import cluster, realnode
from tests.support import busybox
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def create(kube: Client, manifest: dict[str, Any], namespace: str) -> None:
    kube.create(from_dict(manifest), namespace=namespace)  # type: ignore[type-var]


def job_succeeded(kube: Client, name: str, namespace: str) -> Callable[[], bool]:
    def check() -> bool:
        status = kube.get(Job, name, namespace=namespace).status
        if status and status.failed:
            raise AssertionError(f"job {name} failed")
        return bool(status and status.succeeded)

    return check


def job(name: str, image: str, script: str, volumes: list[dict[str, Any]] | None = None) -> Job:
    container: dict[str, Any] = {"name": "run", "image": image, "command": ["sh", "-c", script]}
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    if volumes:
        spec["volumes"] = volumes
        container["volumeMounts"] = [{"name": v["name"], "mountPath": "/data"} for v in volumes]
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": spec}},
    }
    obj = from_dict(manifest)
    assert isinstance(obj, Job)
    return obj


def test_the_node_is_real_and_ready(real_kube: Client) -> None:
    node = real_kube.get(Node, realnode.NODE_NAME)
    assert node.status and node.status.nodeInfo
    assert node.status.nodeInfo.containerRuntimeVersion.startswith("containerd://")
    assert node.status.nodeInfo.kubeletVersion.startswith("v1.")


def test_a_service_routes_by_name_to_a_running_pod(
    real_sandbox: cluster.Sandbox, real_kube: Client, real_namespace: str
) -> None:
    image = busybox.ensure_loaded(real_sandbox)
    ns = real_namespace
    for manifest in (
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": image,
                        "command": [
                            "sh",
                            "-c",
                            "mkdir -p /tmp/www && echo served-by-a-real-pod > /tmp/www/index.html"
                            " && exec httpd -f -p 8080 -h /tmp/www",
                        ],
                        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                    }
                ]
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    ):
        create(real_kube, manifest, ns)

    def web_ready() -> bool:
        status = real_kube.get(Pod, "web", namespace=ns).status
        return bool(status and any(c.ready for c in status.containerStatuses or []))

    wait_for("the web pod to be ready", web_ready, 90)
    pod_ip = real_kube.get(Pod, "web", namespace=ns).status.podIP  # type: ignore[union-attr]
    assert pod_ip and pod_ip.startswith(realnode.POD_CIDR.split("0/")[0])
    # Through CoreDNS (the Service's name) and kube-proxy (its ClusterIP) from another pod.
    fetch = (
        f"wget -qO- http://web.{ns}.svc.{realnode.CLUSTER_DOMAIN}/ | grep -qx served-by-a-real-pod"
    )
    real_kube.create(job("fetch", image, fetch), namespace=ns)
    wait_for("the fetching job", job_succeeded(real_kube, "fetch", ns), 90)


def test_a_volume_keeps_its_data_after_the_pod_is_gone(
    real_sandbox: cluster.Sandbox, real_kube: Client, real_namespace: str
) -> None:
    image = busybox.ensure_loaded(real_sandbox)
    ns = real_namespace
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    create(real_kube, claim, ns)
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    real_kube.create(job("write", image, "echo kept > /data/marker", volumes), namespace=ns)
    wait_for("the writing job", job_succeeded(real_kube, "write", ns), 90)
    real_kube.delete(Job, "write", namespace=ns, cascade=CascadeType.FOREGROUND)
    real_kube.create(job("read", image, "grep -qx kept /data/marker", volumes), namespace=ns)
    wait_for("the reading job", job_succeeded(real_kube, "read", ns), 90)
