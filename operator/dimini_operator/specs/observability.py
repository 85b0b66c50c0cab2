"""spec.observability: the backend's OpenTelemetry env, ServiceMonitors (Prometheus Operator)
for the backend and the postgres_exporter, and the exporter sidecar of the Postgres pod."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs import database
from dimini_operator.specs.common import (
    POSTGRES_PORT,
    Manifest,
    Stack,
    container_security_context,
    metadata,
    resources,
    selector_labels,
)

API_VERSION = "monitoring.coreos.com/v1"
EXPORTER_PORT = 9187
EXPORTER_COMMAND = ["prometheus-postgres-exporter"]  # Debian's name for postgres_exporter


def otel_env(stack: Stack) -> list[dict[str, Any]]:
    """What the backend's OpenTelemetry SDK reads (backend/app/core/tracing.py); none when off."""
    otlp = stack.spec.observability.otlp
    if otlp is None:
        return []
    out = [
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": otlp.endpoint},
        {"name": "OTEL_SERVICE_NAME", "value": otlp.service_name or stack.child("backend")},
        {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": f"k8s.namespace.name={stack.namespace}"},
    ]
    if otlp.sampler_ratio is not None:
        out.append({"name": "OTEL_TRACES_SAMPLER_ARG", "value": str(otlp.sampler_ratio)})
    return out


def exporter_enabled(stack: Stack) -> bool:
    # An external server has no pod to carry the sidecar; monitor it where it runs.
    return stack.spec.observability.postgres_exporter.enabled and not database.external(stack)


def exporter_container(stack: Stack) -> dict[str, Any]:
    """The postgres_exporter sidecar: loopback to Postgres as the stack's user, default queries."""
    spec = stack.spec.observability.postgres_exporter
    secret = stack.db_secret_name
    container: dict[str, Any] = {
        "name": "postgres-exporter",
        "image": spec.image or stack.spec.postgres.image,
        "ports": [{"name": "metrics", "containerPort": EXPORTER_PORT, "protocol": "TCP"}],
        "env": [
            {
                "name": "DATA_SOURCE_URI",
                "value": f"127.0.0.1:{POSTGRES_PORT}/{stack.spec.postgres.database}"
                "?sslmode=disable",
            },
            {
                "name": "DATA_SOURCE_USER",
                "valueFrom": {"secretKeyRef": {"name": secret, "key": "username"}},
            },
            {
                "name": "DATA_SOURCE_PASS",
                "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}},
            },
        ],
        "securityContext": container_security_context(read_only_root=True),
        "readinessProbe": {"httpGet": {"path": "/", "port": "metrics"}, "periodSeconds": 10},
        "resources": resources(spec.resources)
        or {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    }
    if spec.image is None:
        # The Postgres image's entrypoint starts a server; run the exporter binary instead.
        container["command"] = list(EXPORTER_COMMAND)
    return container


def exporter_service_port() -> dict[str, Any]:
    return {"name": "metrics", "port": EXPORTER_PORT, "targetPort": "metrics", "protocol": "TCP"}


def _monitor(stack: Stack, component: str, port: str) -> Manifest:
    mon = stack.spec.observability.service_monitor
    meta = metadata(stack, stack.child(component), component)
    meta["labels"] = {**(mon.labels or {}), **meta["labels"]}
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": selector_labels(stack, component)},
            "namespaceSelector": {"matchNames": [stack.namespace]},
            "endpoints": [
                {
                    "port": port,
                    "path": "/metrics",
                    "interval": mon.interval,
                    # The chart's alerts and dashboard group by `stack` (as its PodMonitors do).
                    "relabelings": [
                        {"targetLabel": "stack", "replacement": stack.name, "action": "replace"}
                    ],
                }
            ],
        },
    }


def render(stack: Stack) -> list[Manifest]:
    if not stack.spec.observability.service_monitor.enabled:
        return []
    out = [_monitor(stack, "backend", "http")]
    if exporter_enabled(stack):
        out.append(_monitor(stack, "postgres", "metrics"))
    return out
