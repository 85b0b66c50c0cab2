"""NetworkPolicies: Postgres admits only its clients; with spec.networkPolicies, every component.

Always: `<stack>-postgres` admits TCP 5432 only from the stack's backend, migration, credential
rotation and backup pods (POSTGRES_CLIENTS; a backup or verify pod gets in by carrying the
stack's labels with component `backup`).

With spec.networkPolicies.enabled, each component also gets a policy of both directions listing
exactly what it talks to (docs/security.md, "Network policies"):

    ingress controller, tunnel -> backend :8000, frontend :3000
    frontend                   -> backend :8000
    backend, migration Job,    -> Postgres :5432
    rotation and backup Jobs
    backend                    -> 443 out (Hume, OpenAI)
    tunnel                     -> 443 and 7844 out (Cloudflare)
    every component            -> DNS (53, UDP and TCP, any address: the cluster DNS may run
                                  on the node's network)

and with defaultDeny, `<stack>-default-deny` isolates every other pod of the namespace.

With spec.postgres.external there is no Postgres pod and no `<stack>-postgres` policy; the
clients' egress goes to the external host's port instead: to that address when the host is an
IP address, else to any address on that port (a NetworkPolicy cannot select a DNS name).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from dimini_operator.specs import database, tunnel
from dimini_operator.specs.common import (
    APP_NAME,
    BACKEND_PORT,
    FRONTEND_PORT,
    LABEL_COMPONENT,
    LABEL_INSTANCE,
    LABEL_NAME,
    POSTGRES_PORT,
    Manifest,
    Stack,
    metadata,
    selector_labels,
)

# Components whose pods may open connections to Postgres. "backup" is the hook for backup and
# restore-verify pods: the stack's selector labels with that component.
POSTGRES_CLIENTS = ("backend", "migration", "credentials", "backup")
DNS_PORT = 53
HTTPS_PORT = 443
# cloudflared's edge connections (QUIC on UDP, HTTP/2 on TCP).
CLOUDFLARE_EDGE_PORT = 7844
DEFAULT_DENY = "default-deny"

Rule = dict[str, Any]


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _pods(stack: Stack, *components: str) -> dict[str, Any]:
    """A peer: this stack's pods of the given components."""
    if len(components) == 1:
        return {"podSelector": {"matchLabels": selector_labels(stack, components[0])}}
    return {
        "podSelector": {
            "matchLabels": {LABEL_NAME: APP_NAME, LABEL_INSTANCE: stack.name},
            "matchExpressions": [
                {"key": LABEL_COMPONENT, "operator": "In", "values": list(components)}
            ],
        }
    }


def ingress_controller_peers(stack: Stack) -> list[dict[str, Any]]:
    ctl = stack.spec.network_policies.ingress_controller
    peers: list[dict[str, Any]] = [
        {
            "namespaceSelector": {"matchLabels": dict(ctl.namespace_labels)},
            "podSelector": {"matchLabels": dict(ctl.pod_labels)},
        }
    ]
    peers += [{"ipBlock": {"cidr": cidr}} for cidr in ctl.ip_blocks or []]
    return peers


def _dns() -> Rule:
    return {
        "ports": [
            {"protocol": "UDP", "port": DNS_PORT},
            {"protocol": "TCP", "port": DNS_PORT},
        ]
    }


def _external(stack: Stack, ports: list[dict[str, Any]]) -> Rule:
    """Egress out of the cluster on `ports`, to spec.networkPolicies.egressCIDRs or anywhere."""
    rule: Rule = {"ports": ports}
    cidrs = stack.spec.network_policies.egress_cidrs
    if cidrs:
        rule["to"] = [{"ipBlock": {"cidr": c}} for c in cidrs]
    return rule


def _policy(
    stack: Stack, component: str, ingress: list[Rule] | None, egress: list[Rule] | None
) -> Manifest:
    """A policy selecting the component's pods; None leaves that direction unrestricted, []
    denies it."""
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": selector_labels(stack, component)},
        "policyTypes": [],
    }
    if ingress is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(stack, stack.child(component), component),
        "spec": spec,
    }


def _database(stack: Stack) -> Rule:
    """Egress of a Postgres client: to the Postgres pods, or to the external server."""
    if not database.external(stack):
        return {"to": [_pods(stack, "postgres")], "ports": _tcp(POSTGRES_PORT)}
    rule: Rule = {"ports": _tcp(database.port(stack))}
    cidr = database.host_cidr(stack)
    if cidr:
        rule["to"] = [{"ipBlock": {"cidr": cidr}}]
    return rule


def postgres(stack: Stack) -> Manifest:
    ingress = [{"from": [_pods(stack, *POSTGRES_CLIENTS)], "ports": _tcp(POSTGRES_PORT)}]
    # With the set, Postgres opens no connection of its own.
    egress: list[Rule] | None = [] if stack.spec.network_policies.enabled else None
    return _policy(stack, "postgres", ingress, egress)


def backend(stack: Stack) -> Manifest:
    clients = [*ingress_controller_peers(stack), _pods(stack, "frontend")]
    if tunnel.enabled(stack):
        clients.append(_pods(stack, "tunnel"))
    ingress = [{"from": clients, "ports": _tcp(BACKEND_PORT)}]
    egress = [
        _database(stack),
        _dns(),
        _external(stack, _tcp(HTTPS_PORT)),
    ]
    return _policy(stack, "backend", ingress, egress)


def frontend(stack: Stack) -> Manifest:
    clients = ingress_controller_peers(stack)
    if tunnel.enabled(stack):
        clients.append(_pods(stack, "tunnel"))
    ingress = [{"from": clients, "ports": _tcp(FRONTEND_PORT)}]
    egress = [{"to": [_pods(stack, "backend")], "ports": _tcp(BACKEND_PORT)}, _dns()]
    return _policy(stack, "frontend", ingress, egress)


def migration(stack: Stack, component: str = "migration") -> Manifest:
    """A Job that only talks to Postgres: the migration, and the credential rotation."""
    egress = [_database(stack), _dns()]
    return _policy(stack, component, [], egress)


def backup_policy(stack: Stack) -> Manifest:
    """Backup, verify and restore pods: Postgres, and an S3 target's endpoint port."""
    policy = migration(stack, "backup")
    cfg = stack.spec.postgres.backup
    if cfg is not None and cfg.target.s3 is not None:
        url = urlsplit(cfg.target.s3.endpoint)
        port = url.port or (HTTPS_PORT if url.scheme == "https" else 80)
        policy["spec"]["egress"].append(_external(stack, _tcp(port)))
    return policy


def tunnel_policy(stack: Stack) -> Manifest:
    edge = [
        *_tcp(HTTPS_PORT, CLOUDFLARE_EDGE_PORT),
        {"protocol": "UDP", "port": CLOUDFLARE_EDGE_PORT},
    ]
    egress = [
        {"to": [_pods(stack, "backend")], "ports": _tcp(BACKEND_PORT)},
        {"to": [_pods(stack, "frontend")], "ports": _tcp(FRONTEND_PORT)},
        _dns(),
        _external(stack, edge),
    ]
    return _policy(stack, "tunnel", [], egress)


def default_deny(stack: Stack) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(stack, stack.child(DEFAULT_DENY), DEFAULT_DENY),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def render(stack: Stack) -> list[Manifest]:
    objects = [] if database.external(stack) else [postgres(stack)]
    policies = stack.spec.network_policies
    if not policies.enabled:
        return objects
    objects += [backend(stack), frontend(stack), migration(stack), migration(stack, "credentials")]
    if stack.spec.postgres.backup is not None:
        objects.append(backup_policy(stack))
    if tunnel.enabled(stack):
        objects.append(tunnel_policy(stack))
    if policies.default_deny:
        objects.append(default_deny(stack))
    return objects
