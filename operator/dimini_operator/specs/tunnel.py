"""The webhook tunnel: a cloudflared Deployment `<stack>-tunnel`, when spec.tunnel is enabled.

cloudflared dials out to Cloudflare with the tunnel token; the tunnel's public hostname is routed
(in Cloudflare) to the backend Service. Nothing listens publicly in the cluster.
"""

from __future__ import annotations

from typing import Any

from dimini_operator.specs.common import (
    Manifest,
    Stack,
    container_security_context,
    labels,
    metadata,
    pod_options,
    pod_security_context,
    selector_labels,
)

WEBHOOK_PATH = "/api/webhooks/hume"
METRICS_PORT = 2000
CLOUDFLARED_UID = 65532  # the distroless image's nonroot user


def enabled(stack: Stack) -> bool:
    return stack.spec.tunnel.enabled


def webhook_url(stack: Stack) -> str | None:
    if not enabled(stack):
        return None
    return f"https://{stack.spec.tunnel.public_hostname}{WEBHOOK_PATH}"


def render(stack: Stack) -> list[Manifest]:
    if not enabled(stack):
        return []
    tunnel = stack.spec.tunnel
    token = tunnel.token_secret_ref
    assert token is not None  # the model (and the CRD's CEL rule) require it when enabled
    container: dict[str, Any] = {
        "name": "cloudflared",
        "image": tunnel.image,
        "args": [
            "tunnel",
            "--no-autoupdate",
            "--metrics",
            f"0.0.0.0:{METRICS_PORT}",
            "run",
        ],
        "env": [
            {
                "name": "TUNNEL_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": token.name, "key": token.key}},
            }
        ],
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        # /ready answers 200 once a connection to Cloudflare is up.
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "metrics"}, "periodSeconds": 10},
        "livenessProbe": {
            "httpGet": {"path": "/ready", "port": "metrics"},
            "initialDelaySeconds": 30,
            "periodSeconds": 30,
            "failureThreshold": 5,
        },
        "securityContext": container_security_context(read_only_root=True),
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(stack, stack.child("tunnel"), "tunnel"),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata(stack, stack.child("tunnel"), "tunnel"),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": selector_labels(stack, "tunnel")},
                "template": {
                    "metadata": {"labels": labels(stack, "tunnel")},
                    "spec": {
                        "serviceAccountName": stack.child("tunnel"),
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security_context(CLOUDFLARED_UID),
                        "containers": [container],
                        **pod_options(stack, None),
                    },
                },
            },
        },
    ]
