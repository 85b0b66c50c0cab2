"""Every NetworkPolicy the operator can render is accepted by a real API server (schema and
validation of networking.k8s.io/v1), with every option of spec.networkPolicies on."""

from __future__ import annotations

import copy

from dimini_operator.specs import networkpolicies
from lightkube import Client
from lightkube.codecs import from_dict
from lightkube.resources.networking_v1 import NetworkPolicy

from tests.operator.unit.conftest import make_stack, sample_body


def test_every_rendered_policy_is_valid_for_the_api_server(kube: Client, namespace: str) -> None:
    body = copy.deepcopy(sample_body()["spec"])
    body["networkPolicies"] = {
        "enabled": True,
        "defaultDeny": True,
        "ingressController": {"podLabels": {}, "ipBlocks": ["10.88.0.1/32", "192.0.2.0/24"]},
        "egressCIDRs": ["0.0.0.0/0", "::/0"],
    }
    body["tunnel"] = {"enabled": True, "tokenSecretRef": {"name": "t"}, "publicHostname": "h.io"}
    stack = make_stack(body)
    policies = networkpolicies.render(stack)
    assert len(policies) == 7  # postgres, backend, frontend, migration, credentials, tunnel, deny
    for manifest in policies:
        manifest = {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}
        manifest["metadata"].pop("ownerReferences")  # no DiminiStack object in this test
        kube.create(from_dict(manifest))
    names = {p.metadata.name for p in kube.list(NetworkPolicy, namespace=namespace) if p.metadata}
    assert names == {p["metadata"]["name"] for p in policies}
