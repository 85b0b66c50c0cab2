"""Frontend Deployment + Service (Next.js, same-origin with the backend)."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs.common import (
    BACKEND_PORT,
    FRONTEND_PORT,
    Manifest,
    Stack,
    container_security_context,
    drain_lifecycle,
    http_service,
    metadata,
    pod_metadata,
    pod_options,
    pod_security_context,
    resources,
    selector_labels,
)


def deployment(stack: Stack) -> Manifest:
    fe = stack.spec.frontend
    dev = stack.spec.mode == "development"
    container: dict[str, Any] = {
        "name": "frontend",
        "image": fe.image,
        "ports": [{"name": "http", "containerPort": FRONTEND_PORT, "protocol": "TCP"}],
        "env": [
            {"name": "NODE_ENV", "value": "development" if dev else "production"},
            {"name": "PORT", "value": str(FRONTEND_PORT)},
            {"name": "HOSTNAME", "value": "0.0.0.0"},  # noqa: S104 - listen in the pod
            {"name": "NEXT_TELEMETRY_DISABLED", "value": "1"},
        ],
        "securityContext": container_security_context(read_only_root=False),
        # As the backend's: seen within a second of listening, liveness only after that.
        "startupProbe": {
            "tcpSocket": {"port": "http"},
            "periodSeconds": 1,
            "failureThreshold": 300,
        },
        "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 15},
        "lifecycle": drain_lifecycle(),
    }
    if dev:
        # The dev image's `next dev` proxies /api and /socket.io to the backend Service.
        container["env"].append(
            {"name": "BACKEND_URL", "value": f"http://{stack.child('backend')}:{BACKEND_PORT}"}
        )
    res = resources(fe.resources)
    if res:
        container["resources"] = res
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(stack, "frontend")},
        "template": {
            "metadata": pod_metadata(stack, "frontend", fe),
            "spec": {
                "serviceAccountName": stack.child("frontend"),
                "automountServiceAccountToken": False,
                "securityContext": pod_security_context(fe.run_as_user),
                "containers": [container],
                **pod_options(stack, fe),
            },
        },
    }
    if not fe.autoscaling.enabled:
        spec["replicas"] = fe.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(stack, stack.child("frontend"), "frontend"),
        "spec": spec,
    }


def service(stack: Stack) -> Manifest:
    return http_service(stack, "frontend", FRONTEND_PORT)


def render(stack: Stack) -> list[Manifest]:
    return [deployment(stack), service(stack)]
