"""The sandbox is a real control plane: each acceptance property of the foundation issue."""

from __future__ import annotations

import json
import subprocess
import time
from typing import cast

import pytest
from lightkube import ApiError, Client
from lightkube.generic_resource import create_global_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import ReplicaSet
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Namespace, Pod

from sandbox.cluster import Sandbox
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox


def kubectl(sandbox: Sandbox, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", *args],
        env=sandbox.env(),
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def test_kubectl_lists_ready_simulated_nodes(sandbox: Sandbox) -> None:
    nodes = json.loads(kubectl(sandbox, "get", "nodes", "-o", "json").stdout)["items"]
    assert len(nodes) >= 2
    for node in nodes:
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"


def test_deployment_becomes_available_and_is_garbage_collected(
    sandbox: Sandbox, kube: Client, namespace: str
) -> None:
    kubectl(
        sandbox, "-n", namespace, "create", "deployment", "web", "--image=nginx", "--replicas=2"
    )

    def available() -> bool:
        out = kubectl(sandbox, "-n", namespace, "get", "deployment", "web", "-o", "json").stdout
        status = json.loads(out).get("status", {})
        return bool(status.get("availableReplicas") == 2 and status.get("readyReplicas") == 2)

    wait_for("deployment web Available 2/2", available, 30)
    pods = list(kube.list(Pod, namespace=namespace))
    assert len(pods) == 2 and all(p.status and p.status.phase == "Running" for p in pods)
    assert {p.spec.nodeName for p in pods if p.spec} <= {"kwok-node-0", "kwok-node-1"}

    kubectl(sandbox, "-n", namespace, "delete", "deployment", "web", "--wait=false")
    wait_for(
        "ReplicaSet and Pods garbage-collected",
        lambda: (
            not list(kube.list(ReplicaSet, namespace=namespace))
            and not list(kube.list(Pod, namespace=namespace))
        ),
        30,
    )


def _job(name: str, image: str) -> Job:
    return cast(
        Job,
        Job.from_dict(
            {
                "metadata": {"name": name},
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "main", "image": image}],
                        }
                    },
                },
            }
        ),
    )


def _job_condition(kube: Client, name: str, namespace: str) -> str | None:
    job = kube.get(Job, name, namespace=namespace)
    for c in (job.status.conditions if job.status else None) or []:
        if c.type in ("Complete", "Failed") and c.status == "True":
            return c.type
    return None


def test_job_pods_succeed_and_the_job_completes(kube: Client, namespace: str) -> None:
    kube.create(_job("ok", "busybox"), namespace=namespace)
    wait_for("Job ok Complete", lambda: _job_condition(kube, "ok", namespace) is not None, 30)
    assert _job_condition(kube, "ok", namespace) == "Complete"


def test_job_with_a_kwok_fail_image_fails(kube: Client, namespace: str) -> None:
    kube.create(_job("bad", "registry.local/app:kwok-fail"), namespace=namespace)
    wait_for("Job bad finished", lambda: _job_condition(kube, "bad", namespace) is not None, 30)
    assert _job_condition(kube, "bad", namespace) == "Failed"


def test_api_resources_cover_the_groups_the_stack_uses(sandbox: Sandbox) -> None:
    out = kubectl(sandbox, "api-resources", "-o", "name").stdout.split()
    groups = {name.partition(".")[2] for name in out}
    assert {"apps", "batch", "networking.k8s.io", "policy", "autoscaling"} <= groups


def _pod(name: str, privileged: bool) -> Pod:
    security: dict[str, object] = (
        {"privileged": True}
        if privileged
        else {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    )
    return cast(
        Pod,
        Pod.from_dict(
            {
                "metadata": {"name": name},
                "spec": {
                    "containers": [{"name": "c", "image": "busybox", "securityContext": security}]
                },
            }
        ),
    )


def test_restricted_namespace_refuses_a_privileged_pod(kube: Client, namespace: str) -> None:
    kube.patch(
        Namespace,
        namespace,
        {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
    )
    with pytest.raises(ApiError) as refused:
        kube.create(_pod("privileged", privileged=True), namespace=namespace)
    assert refused.value.status.code == 403
    assert "violates PodSecurity" in (refused.value.status.message or "")
    # The same namespace admits a pod that meets the standard: the refusal is PSA's doing.
    kube.create(_pod("restricted", privileged=False), namespace=namespace)


def test_crd_with_a_cel_rule_refuses_a_bad_object(kube: Client) -> None:
    group, plural = "sandbox.dimini.io", f"widgets{int(time.time() * 1000) % 100000}"
    crd = cast(
        CustomResourceDefinition,
        CustomResourceDefinition.from_dict(
            {
                "metadata": {"name": f"{plural}.{group}"},
                "spec": {
                    "group": group,
                    "scope": "Cluster",
                    "names": {
                        "plural": plural,
                        "singular": plural[:-1],
                        "kind": plural.capitalize(),
                    },
                    "versions": [
                        {
                            "name": "v1",
                            "served": True,
                            "storage": True,
                            "schema": {
                                "openAPIV3Schema": {
                                    "type": "object",
                                    "properties": {
                                        "spec": {
                                            "type": "object",
                                            "properties": {
                                                "min": {"type": "integer"},
                                                "max": {"type": "integer"},
                                            },
                                            "x-kubernetes-validations": [
                                                {
                                                    "rule": "self.min <= self.max",
                                                    "message": "min must not exceed max",
                                                }
                                            ],
                                        }
                                    },
                                }
                            },
                        }
                    ],
                },
            }
        ),
    )
    kube.create(crd)
    try:
        widget = create_global_resource(group, "v1", plural.capitalize(), plural)

        def established() -> bool:
            got = kube.get(CustomResourceDefinition, f"{plural}.{group}")
            return any(
                c.type == "Established" and c.status == "True"
                for c in (got.status.conditions if got.status else None) or []
            )

        wait_for("CRD established", established, 30)
        kube.create(widget(metadata=ObjectMeta(name="good"), spec={"min": 1, "max": 2}))
        with pytest.raises(ApiError) as refused:
            kube.create(widget(metadata=ObjectMeta(name="bad"), spec={"min": 3, "max": 2}))
        assert refused.value.status.code == 422
        assert "min must not exceed max" in (refused.value.status.message or "")
    finally:
        kube.delete(CustomResourceDefinition, f"{plural}.{group}")
