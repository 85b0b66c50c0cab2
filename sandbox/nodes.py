"""Simulated nodes: registered through the API like real kubelets would, then run by KWOK."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lightkube import ApiError, Client, KubeConfig
from lightkube.models.core_v1 import NodeSpec, NodeStatus
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, ServiceAccount

if TYPE_CHECKING:
    from sandbox.cluster import Sandbox


def client(sb: Sandbox) -> Client:
    return Client(KubeConfig.from_file(sb.kubeconfig), field_manager="dimini-sandbox")


def register(sb: Sandbox, count: int) -> None:
    kube = client(sb)
    for i in range(count):
        name = f"kwok-node-{i}"
        capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
        node = Node(
            metadata=ObjectMeta(
                name=name,
                annotations={"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                labels={
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node-role.kubernetes.io/worker": "",
                    "topology.kubernetes.io/zone": f"sandbox-{i % 2}",
                    "type": "kwok",
                },
            ),
            spec=NodeSpec(),
            status=NodeStatus(capacity=capacity, allocatable=capacity),
        )
        try:
            kube.create(node)
        except ApiError as e:
            if e.status.code != 409:
                raise


def ready_count(sb: Sandbox) -> int:
    ready = 0
    for node in client(sb).list(Node):
        conditions = (node.status.conditions if node.status else None) or []
        ready += any(c.type == "Ready" and c.status == "True" for c in conditions)
    return ready


def has_default_sa(sb: Sandbox) -> bool:
    try:
        client(sb).get(ServiceAccount, "default", namespace="default")
    except ApiError:
        return False
    return True
