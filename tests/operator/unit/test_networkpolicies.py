"""The rendered NetworkPolicies, judged by what they admit (NetworkPolicy semantics evaluated
here for pod-selector, namespace-selector and ipBlock peers), not by their shape alone."""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pytest
from dimini_operator.specs import networkpolicies
from dimini_operator.specs.common import Stack, labels
from dimini_operator.specs.plan import Observed, render

from tests.operator.unit.conftest import make_stack, sample_body

NS = "ns1"


@dataclass(frozen=True)
class Endpoint:
    """A pod (labels, namespace) or an address outside any pod (ip only)."""

    labels: dict[str, str] = field(default_factory=dict)
    namespace: str = NS
    namespace_labels: dict[str, str] = field(default_factory=dict)
    ip: str = "10.88.0.50"
    pod: bool = True


def _matches(selector: dict[str, Any], lbls: dict[str, str]) -> bool:
    if any(lbls.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        value = lbls.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
    return True


def _peer_matches(peer: dict[str, Any], other: Endpoint, policy_ns: str) -> bool:
    if "ipBlock" in peer:
        return ipaddress.ip_address(other.ip) in ipaddress.ip_network(peer["ipBlock"]["cidr"])
    if not other.pod:
        return False
    if "namespaceSelector" in peer:
        ns_labels = {"kubernetes.io/metadata.name": other.namespace, **other.namespace_labels}
        if not _matches(peer["namespaceSelector"], ns_labels):
            return False
    elif other.namespace != policy_ns:
        return False
    return _matches(peer.get("podSelector") or {}, other.labels)


def _rule_admits(rule: dict[str, Any], key: str, other: Endpoint, port: int, proto: str) -> bool:
    ports = rule.get("ports")
    if ports and not any(p["port"] == port and p["protocol"] == proto for p in ports):
        return False
    peers = rule.get(key)
    return not peers or any(_peer_matches(p, other, NS) for p in peers)


def _side_allows(
    policies: list[dict[str, Any]],
    pod: Endpoint,
    other: Endpoint,
    port: int,
    proto: str,
    kind: str,
) -> bool:
    if not pod.pod or pod.namespace != NS:
        return True  # not selected by any policy of the stack's namespace
    selecting = [
        p
        for p in policies
        if _matches(p["spec"]["podSelector"], pod.labels) and kind in p["spec"]["policyTypes"]
    ]
    if not selecting:
        return True
    key, rules_key = ("from", "ingress") if kind == "Ingress" else ("to", "egress")
    return any(
        _rule_admits(rule, key, other, port, proto)
        for p in selecting
        for rule in p["spec"].get(rules_key, [])
    )


def allowed(
    policies: list[dict[str, Any]], src: Endpoint, dst: Endpoint, port: int, proto: str = "TCP"
) -> bool:
    """Would a new connection src -> dst:port pass the egress of src and the ingress of dst?"""
    return _side_allows(policies, src, dst, port, proto, "Egress") and _side_allows(
        policies, dst, src, port, proto, "Ingress"
    )


def pod(stack: Stack, component: str, ip: str = "10.88.0.50") -> Endpoint:
    return Endpoint(labels=labels(stack, component), ip=ip)


TRAEFIK = Endpoint(
    labels={"app.kubernetes.io/name": "traefik"}, namespace="ingress", ip="10.88.0.9"
)
STRANGER = Endpoint(labels={"app": "debug"})
INTERNET = Endpoint(ip="203.0.113.7", pod=False)
HOST_DNS = Endpoint(ip="192.168.1.10", pod=False)


def policy_stack(**policies: Any) -> Stack:
    body = copy.deepcopy(sample_body()["spec"])
    body["networkPolicies"] = {"enabled": True, **policies}
    return make_stack(body)


def rendered(stack: Stack) -> list[dict[str, Any]]:
    return networkpolicies.render(stack)


def test_postgres_admits_only_its_clients_by_default() -> None:
    stack = make_stack()
    pols = rendered(stack)
    assert [p["metadata"]["name"] for p in pols] == ["demo-postgres"]
    pg = pod(stack, "postgres")
    for client in ("backend", "migration", "credentials", "backup"):
        assert allowed(pols, pod(stack, client), pg, 5432), client
    assert not allowed(pols, STRANGER, pg, 5432)
    assert not allowed(pols, pod(stack, "frontend"), pg, 5432)
    # Another stack's backend in the same namespace is not a client.
    other = make_stack(name="other")
    assert not allowed(pols, pod(other, "backend"), pg, 5432)
    # The set is opt-in: nothing else is restricted without it.
    assert allowed(pols, STRANGER, pod(stack, "backend"), 8000)
    assert allowed(pols, pod(stack, "backend"), INTERNET, 443)


def test_the_set_admits_the_flows_of_the_stack() -> None:
    stack = policy_stack()
    pols = rendered(stack)
    be, fe, pg = pod(stack, "backend"), pod(stack, "frontend"), pod(stack, "postgres")
    mig = pod(stack, "migration")
    assert allowed(pols, TRAEFIK, be, 8000)
    assert allowed(pols, TRAEFIK, fe, 3000)
    assert allowed(pols, fe, be, 8000)
    assert allowed(pols, be, pg, 5432)
    assert allowed(pols, mig, pg, 5432)
    rotate = pod(stack, "credentials")  # the credential rotation Job runs ALTER ROLE
    assert allowed(pols, rotate, pg, 5432)
    assert not allowed(pols, rotate, INTERNET, 443)
    for component in (be, fe, mig, rotate):
        assert allowed(pols, component, HOST_DNS, 53, "UDP")
        assert allowed(pols, component, HOST_DNS, 53, "TCP")
    assert allowed(pols, be, INTERNET, 443)


def test_the_set_refuses_everything_else() -> None:
    stack = policy_stack()
    pols = rendered(stack)
    be, fe, pg = pod(stack, "backend"), pod(stack, "frontend"), pod(stack, "postgres")
    mig = pod(stack, "migration")
    assert not allowed(pols, STRANGER, be, 8000)
    assert not allowed(pols, STRANGER, fe, 3000)
    assert not allowed(pols, TRAEFIK, be, 5432)
    assert not allowed(pols, TRAEFIK, pg, 5432)
    assert not allowed(pols, fe, pg, 5432)
    assert not allowed(pols, be, INTERNET, 80)
    assert not allowed(pols, fe, INTERNET, 443)
    assert not allowed(pols, mig, INTERNET, 443)
    assert not allowed(pols, pg, INTERNET, 443)
    assert not allowed(pols, be, fe, 3000)
    # A pod of the ingress controller's labels in another namespace is not the controller.
    impostor = Endpoint(labels=dict(TRAEFIK.labels), namespace="evil")
    assert not allowed(pols, impostor, be, 8000)


def test_the_ingress_controller_selection_is_configurable() -> None:
    nginx = Endpoint(
        labels={"app.kubernetes.io/name": "ingress-nginx"},
        namespace="ingress-nginx",
        ip="10.88.0.20",
    )
    node = Endpoint(ip="10.88.0.1", pod=False)
    stack = policy_stack(
        ingressController={
            "namespaceLabels": {"kubernetes.io/metadata.name": "ingress-nginx"},
            "podLabels": {"app.kubernetes.io/name": "ingress-nginx"},
            "ipBlocks": ["10.88.0.1/32"],
        }
    )
    pols = rendered(stack)
    be = pod(stack, "backend")
    assert allowed(pols, nginx, be, 8000)
    assert allowed(pols, node, be, 8000), "a host-network controller, by address"
    assert not allowed(pols, TRAEFIK, be, 8000)
    assert not allowed(pols, Endpoint(ip="10.88.0.2", pod=False), be, 8000)


def test_egress_cidrs_narrow_the_way_out() -> None:
    stack = policy_stack(egressCIDRs=["198.51.100.0/24"])
    pols = rendered(stack)
    be = pod(stack, "backend")
    assert allowed(pols, be, Endpoint(ip="198.51.100.4", pod=False), 443)
    assert not allowed(pols, be, INTERNET, 443)


def test_the_tunnel_reaches_backend_and_frontend_and_cloudflare_only() -> None:
    body = copy.deepcopy(sample_body()["spec"])
    body["networkPolicies"] = {"enabled": True}
    body["tunnel"] = {
        "enabled": True,
        "tokenSecretRef": {"name": "tok"},
        "publicHostname": "hooks.example.com",
    }
    stack = make_stack(body)
    pols = rendered(stack)
    tun = pod(stack, "tunnel")
    assert "demo-tunnel" in [p["metadata"]["name"] for p in pols]
    assert allowed(pols, tun, pod(stack, "backend"), 8000)
    assert allowed(pols, tun, pod(stack, "frontend"), 3000)
    assert allowed(pols, tun, INTERNET, 7844, "UDP")
    assert allowed(pols, tun, INTERNET, 443)
    assert not allowed(pols, tun, pod(stack, "postgres"), 5432)
    assert not allowed(pols, STRANGER, tun, 2000)
    # Without a tunnel, tunnel-labelled pods are nobody.
    plain = policy_stack()
    assert not allowed(rendered(plain), pod(plain, "tunnel"), pod(plain, "backend"), 8000)


def test_default_deny_isolates_every_other_pod_of_the_namespace() -> None:
    stack = policy_stack()
    assert allowed(rendered(stack), STRANGER, INTERNET, 443), "without defaultDeny"
    denied = policy_stack(defaultDeny=True)
    pols = rendered(denied)
    assert "demo-default-deny" in [p["metadata"]["name"] for p in pols]
    assert not allowed(pols, STRANGER, INTERNET, 443)
    assert not allowed(pols, STRANGER, HOST_DNS, 53, "UDP")
    assert not allowed(pols, TRAEFIK, STRANGER, 80)
    # The stack's own flows still pass: policies are additive.
    assert allowed(pols, TRAEFIK, pod(denied, "backend"), 8000)
    assert allowed(pols, pod(denied, "backend"), pod(denied, "postgres"), 5432)
    assert allowed(pols, pod(denied, "migration"), HOST_DNS, 53, "UDP")


@pytest.mark.parametrize("enabled", [False, True])
def test_the_plan_carries_the_policies_and_prunes_them_when_turned_off(enabled: bool) -> None:
    stack = policy_stack(defaultDeny=True) if enabled else make_stack()
    plan = render(
        stack,
        Observed(db_password="pw", secret_key="sk", applied_image=stack.spec.backend.image),
    )
    names = {o["metadata"]["name"] for o in plan.apply if o["kind"] == "NetworkPolicy"}
    expected = {"demo-postgres"}
    if enabled:
        expected |= {"demo-backend", "demo-frontend", "demo-migration", "demo-default-deny"}
        expected |= {"demo-credentials"}  # the credential rotation Job's
    assert names == expected
    # Every policy is owned and labelled like the other children (so it is pruned when off).
    for obj in plan.apply:
        if obj["kind"] == "NetworkPolicy":
            assert obj["metadata"]["ownerReferences"][0]["name"] == "demo"
            assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "dimini-operator"


def test_backup_pods_reach_an_s3_endpoint_port_only_with_an_s3_target() -> None:
    s3 = {
        "endpoint": "http://minio.storage.svc:9000",
        "bucket": "dimini-backups",
        "credentialsSecretRef": {"name": "s3"},
        "encryption": {"secretRef": {"name": "age"}},
    }
    body = copy.deepcopy(sample_body()["spec"])
    body["networkPolicies"] = {"enabled": True}
    body["postgres"]["backup"] = {"target": {"s3": s3}}
    stack = make_stack(body)
    pols = rendered(stack)
    backup = pod(stack, "backup")
    assert allowed(pols, backup, pod(stack, "postgres"), 5432)
    assert allowed(pols, backup, INTERNET, 9000)
    assert not allowed(pols, backup, INTERNET, 443)
    body["postgres"]["backup"] = {"target": {"s3": {**s3, "endpoint": "https://s3.example"}}}
    pols = rendered(make_stack(body))
    assert allowed(pols, backup, INTERNET, 443)
    body["postgres"]["backup"] = {}
    pols = rendered(make_stack(body))
    assert not allowed(pols, backup, INTERNET, 443)
