"""Fixtures for the operator's sandbox tests.

`stack_ns`: a fresh namespace enforcing the `restricted` Pod Security Standard, with a
no-provisioner StorageClass and a PersistentVolume pre-bound to the stack's data claim (the
sandbox has no volume provisioner). `operator`: the operator running for that namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import yaml
from lightkube import Client
from lightkube.codecs import from_dict
from lightkube.resources.core_v1 import PersistentVolume
from lightkube.resources.storage_v1 import StorageClass

from sandbox.cluster import Sandbox
from tests.operator.integration.support import CRD_FILE, STACK, Kubectl, Operator
from tests.support.crds import wait_established
from tests.support.waiting import wait_for


@dataclass
class StackNs:
    name: str
    storage_class: str
    k: Kubectl


@pytest.fixture(scope="session")
def crd_applied(sandbox: Sandbox) -> None:
    k = Kubectl(sandbox.env(), "default")
    k.run("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE), namespaced=False)
    wait_established(sandbox.env(), "diministacks.dimini.io")
    wait_for(
        "diministacks served", lambda: k.run("get", "diministacks", check=False).returncode == 0, 30
    )


def add_volume(kube: Client, namespace: str, storage_class: str, stack: str = STACK) -> str:
    name = f"{namespace}-{stack}-data"
    kube.apply(
        from_dict(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name, "labels": {"dimini.io/test": namespace}},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": storage_class,
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": f"/tmp/dimini-test/{name}"},
                    "claimRef": {"namespace": namespace, "name": f"data-{stack}-postgres-0"},
                },
            }
        ),
        field_manager="dimini-tests",
    )
    return name


@pytest.fixture
def stack_ns(
    sandbox: Sandbox, kube: Client, namespace: str, crd_applied: None
) -> Iterator[StackNs]:
    k = Kubectl(sandbox.env(), namespace)
    k.run(
        "label",
        "namespace",
        namespace,
        "--overwrite",
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
        namespaced=False,
    )
    sc = f"{namespace}-local"
    kube.apply(
        from_dict(
            yaml.safe_load(
                f"""
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {{name: {sc}, labels: {{dimini.io/test: {namespace}}}}}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
"""
            )
        ),
        field_manager="dimini-tests",
    )
    add_volume(kube, namespace, sc)
    yield StackNs(namespace, sc, k)
    for pv in kube.list(PersistentVolume, labels={"dimini.io/test": namespace}):
        assert pv.metadata is not None and pv.metadata.name is not None
        kube.delete(PersistentVolume, pv.metadata.name)
    kube.delete(StorageClass, sc)


@pytest.fixture
def start_operator(sandbox: Sandbox, stack_ns: StackNs) -> Iterator[Callable[..., Operator]]:
    """Start the operator for the test namespace with extra arguments; stopped afterwards."""
    started: list[Operator] = []

    def start(*args: str) -> Operator:
        op = Operator(sandbox.env(), stack_ns.name, *args).start()
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()


@pytest.fixture
def operator(start_operator: Callable[..., Operator]) -> Operator:
    return start_operator()
