"""The Traefik install against the sandbox's API server: accepted as rendered, and rolled out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lightkube import Client, codecs
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Pod
from lightkube.resources.networking_v1 import IngressClass
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding

from images import traefik
from sandbox import ingress

pytestmark = pytest.mark.sandbox


@pytest.fixture
def class_name(kube: Client, namespace: str) -> Iterator[str]:
    """A per-test IngressClass name; the cluster-scoped objects go with the test."""
    name = f"traefik-{namespace}"
    yield name
    role = ingress.cluster_role_name(namespace)
    for resource, obj in ((IngressClass, name), (ClusterRoleBinding, role), (ClusterRole, role)):
        kube.delete(resource, obj)


def test_every_manifest_passes_a_server_side_dry_run_apply(kube: Client, namespace: str) -> None:
    # The real namespace name and the default-class annotation: a dry run persists nothing.
    for manifest in ingress.render(traefik.IMAGE, namespace=namespace):
        applied = kube.apply(
            codecs.from_dict(manifest), field_manager="dimini-tests", force=True, dry_run=True
        )
        assert applied.metadata is not None and applied.metadata.name


def test_install_rolls_out_a_host_network_pod(
    kube: Client, namespace: str, class_name: str
) -> None:
    ingress.install(
        kube,
        traefik.IMAGE,
        18080,
        namespace=namespace,
        class_name=class_name,
        default_class=False,
    )
    dep = kube.get(Deployment, ingress.NAME, namespace=namespace)
    assert dep.status is not None and dep.status.availableReplicas == 1
    (pod,) = kube.list(Pod, namespace=namespace, labels={"app.kubernetes.io/name": "traefik"})
    assert pod.spec is not None and pod.spec.hostNetwork is True
    assert pod.spec.serviceAccountName == "traefik"
    # Applying again changes nothing and still returns once rolled out.
    ingress.install(
        kube, traefik.IMAGE, 18080, namespace=namespace, class_name=class_name, default_class=False
    )
