"""The ecosystem kinds a stack renders are accepted by the real API server with their projects'
CRDs installed (Gateway API, Prometheus Operator), and spec.gateway's CEL rule refuses the
Ingress' own settings beside it."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
import yaml
from dimini_operator.specs import gateway as stack_gateway
from dimini_operator.specs import ingress, observability, postgres
from dimini_operator.specs.common import Stack
from dimini_operator.specs.defaults import parse_spec
from lightkube import Client, codecs
from lightkube.generic_resource import create_namespaced_resource

from sandbox import gateway
from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import sample
from tests.support.prometheus_crds import crd_files

pytestmark = pytest.mark.sandbox

GATEWAY = {"parentRefs": [{"name": "shared", "namespace": "ingress", "sectionName": "web"}],
           "hostnames": ["dimini.example.org"]}  # fmt: skip
create_namespaced_resource("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors")


def test_gateway_beside_the_ingress_settings_is_refused_by_the_api_server(
    stack_ns: StackNs,
) -> None:
    k = stack_ns.k
    both = sample(stack_ns.storage_class, gateway=GATEWAY)
    both["spec"]["ingress"]["className"] = "traefik"
    proc = k.apply(both, check=False)
    assert proc.returncode != 0 and "spec.gateway" in proc.stderr, proc.stderr
    assert k.stack() is None
    k.apply(sample(stack_ns.storage_class, gateway=GATEWAY))
    stored = k.stack()
    assert stored is not None and stored["spec"]["gateway"]["hostnames"] == GATEWAY["hostnames"]


def _stack(namespace: str, **spec: Any) -> Stack:
    raw = copy.deepcopy(sample("local")["spec"])
    raw.update(copy.deepcopy(spec))
    return Stack("demo", namespace, str(uuid.uuid4()), 1, parse_spec(raw))


def _dry_run(kube: Client, manifest: dict[str, Any]) -> None:
    body = copy.deepcopy(manifest)
    body["metadata"].pop("ownerReferences", None)  # no DiminiStack behind these
    kube.apply(codecs.from_dict(body), field_manager="dimini-tests", force=True, dry_run=True)


def test_route_monitors_exporter_and_tls_ingress_pass_a_server_side_dry_run(
    kube: Client, namespace: str
) -> None:
    gateway.install_crds(kube)
    for path in crd_files().values():
        kube.apply(
            codecs.from_dict(yaml.safe_load(path.read_text())),
            field_manager="dimini-tests",
            force=True,
        )
    routed = _stack(namespace, gateway=GATEWAY)
    watched = _stack(
        namespace,
        observability={
            "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
            "postgresExporter": {"enabled": True},
        },
        ingress={
            "host": "dimini.example.org",
            "tls": {
                "secretName": "dimini-tls",
                "issuerRef": {"name": "le", "kind": "ClusterIssuer"},
            },
        },
    )
    objects = [
        *stack_gateway.render(routed),
        *observability.render(watched),
        postgres.statefulset(watched),
        *postgres.services(watched),
        *ingress.render(watched),
    ]
    assert sorted({o["kind"] for o in objects}) == [
        "HTTPRoute", "Ingress", "Service", "ServiceMonitor", "StatefulSet",
    ]  # fmt: skip
    for manifest in objects:
        _dry_run(kube, manifest)
