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
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from sandbox import gateway
from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import sample
from tests.support import cert_manager_crds
from tests.support.prometheus_crds import crd_files
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox

CERT_MANAGER_CRDS = ("certificates.cert-manager.io", "issuers.cert-manager.io")
GATEWAY = {"parentRefs": [{"name": "shared", "namespace": "ingress", "sectionName": "web"}],
           "hostnames": ["dimini.example.org"]}  # fmt: skip
create_namespaced_resource("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors")
create_namespaced_resource("cert-manager.io", "v1", "Certificate", "certificates")
create_namespaced_resource("cert-manager.io", "v1", "Issuer", "issuers")


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


def ingress_shim_certificate(ing: dict[str, Any]) -> dict[str, Any]:
    """The Certificate cert-manager's ingress-shim makes of an annotated Ingress: named after
    the TLS Secret, for the TLS hosts, from the annotation's issuer."""
    annotations = ing["metadata"]["annotations"]
    kind, name = next(
        (k, annotations[a]) for k, a in ingress.CERT_MANAGER_ANNOTATIONS.items() if a in annotations
    )
    (tls,) = ing["spec"]["tls"]
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": tls["secretName"], "namespace": ing["metadata"]["namespace"]},
        "spec": {
            "secretName": tls["secretName"],
            "dnsNames": tls["hosts"],
            "issuerRef": {"name": name, "kind": kind, "group": "cert-manager.io"},
        },
    }


def test_the_issuer_annotation_makes_a_certificate_cert_managers_crds_accept(
    kube: Client, namespace: str
) -> None:
    for manifest in cert_manager_crds.crds():
        kube.apply(codecs.from_dict(manifest), field_manager="dimini-tests", force=True)

    def established(name: str) -> bool:
        crd = kube.get(CustomResourceDefinition, name)
        conditions = (crd.status.conditions if crd.status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    wait_for("cert-manager's CRDs served", lambda: all(map(established, CERT_MANAGER_CRDS)), 60)
    stack = _stack(
        namespace,
        ingress={
            "host": "dimini.example.org",
            "tls": {"secretName": "dimini-tls", "issuerRef": {"name": "selfsigned"}},
        },
    )
    (ing,) = ingress.render(stack)
    assert ing["metadata"]["annotations"] == {"cert-manager.io/issuer": "selfsigned"}
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "selfsigned", "namespace": namespace},
        "spec": {"selfSigned": {}},
    }
    for manifest in (ing, issuer, ingress_shim_certificate(ing)):
        _dry_run(kube, manifest)
