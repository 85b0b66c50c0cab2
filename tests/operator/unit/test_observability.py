"""spec.observability: OTLP env on the backend, ServiceMonitors, the postgres_exporter sidecar."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from dimini_operator import kinds
from dimini_operator.specs import backend, observability, postgres
from dimini_operator.specs.common import Stack
from dimini_operator.specs.plan import Observed, render
from pydantic import ValidationError

from tests.operator.unit.conftest import make_stack, sample_body


def obs_stack(observability_spec: dict[str, Any]) -> Stack:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["observability"] = observability_spec
    return make_stack(spec)


def _env(stack: Stack) -> dict[str, Any]:
    return {e["name"]: e for e in backend.env(stack)}


def _containers(stack: Stack) -> dict[str, dict[str, Any]]:
    sts = postgres.statefulset(stack)
    return {c["name"]: c for c in sts["spec"]["template"]["spec"]["containers"]}


def test_everything_is_off_by_default(stack: Stack) -> None:
    assert not [k for k in _env(stack) if k.startswith("OTEL_")]
    assert observability.render(stack) == []
    assert list(_containers(stack)) == ["postgres"]
    ports = postgres.services(stack)[0]["spec"]["ports"]
    assert [p["name"] for p in ports] == ["postgres"]


def test_otlp_sets_the_backends_opentelemetry_env() -> None:
    stack = obs_stack(
        {"otlp": {"endpoint": "http://otel-collector.monitoring:4318", "samplerRatio": 0.25}}
    )
    env = _env(stack)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.monitoring:4318"
    assert env["OTEL_SERVICE_NAME"]["value"] == "demo-backend"
    assert env["OTEL_TRACES_SAMPLER_ARG"]["value"] == "0.25"
    assert env["OTEL_RESOURCE_ATTRIBUTES"]["value"] == "k8s.namespace.name=ns1"


def test_an_otlp_endpoint_must_be_a_url() -> None:
    with pytest.raises(ValidationError):
        obs_stack({"otlp": {"endpoint": "collector:4318"}})


def test_a_service_monitor_scrapes_the_backend() -> None:
    stack = obs_stack(
        {"serviceMonitor": {"enabled": True, "labels": {"release": "kps"}, "interval": "15s"}}
    )
    (mon,) = observability.render(stack)
    assert mon["apiVersion"] == "monitoring.coreos.com/v1" and mon["kind"] == "ServiceMonitor"
    assert mon["metadata"]["name"] == "demo-backend"
    assert mon["metadata"]["labels"]["release"] == "kps"
    assert mon["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "dimini-operator"
    assert mon["metadata"]["ownerReferences"][0]["kind"] == "DiminiStack"
    assert mon["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "dimini",
        "app.kubernetes.io/instance": "demo",
        "app.kubernetes.io/component": "backend",
    }
    (endpoint,) = mon["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert endpoint["interval"] == "15s"
    # The dashboard and alerts group by `stack`.
    assert {"targetLabel": "stack", "replacement": "demo", "action": "replace"} in endpoint[
        "relabelings"
    ]
    kinds_rendered = [m["kind"] for m in render(stack, Observed("pw", "sk")).apply]
    assert "ServiceMonitor" in kinds_rendered


def test_the_postgres_exporter_sidecar_and_its_port() -> None:
    stack = obs_stack({"postgresExporter": {"enabled": True}, "serviceMonitor": {"enabled": True}})
    exporter = _containers(stack)["postgres-exporter"]
    # The Dimini Postgres image carries Debian's prometheus-postgres-exporter.
    assert exporter["image"] == stack.spec.postgres.image
    assert exporter["command"] == ["prometheus-postgres-exporter"]
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9187, "protocol": "TCP"}]
    env = {e["name"]: e for e in exporter["env"]}
    assert env["DATA_SOURCE_URI"]["value"] == "127.0.0.1:5432/dimini?sslmode=disable"
    assert env["DATA_SOURCE_USER"]["valueFrom"]["secretKeyRef"] == {
        "name": "demo-db",
        "key": "username",
    }
    assert env["DATA_SOURCE_PASS"]["valueFrom"]["secretKeyRef"]["key"] == "password"
    sc = exporter["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    ports = {p["name"]: p for p in postgres.services(stack)[0]["spec"]["ports"]}
    assert ports["metrics"]["port"] == 9187
    monitors = {m["metadata"]["name"]: m for m in observability.render(stack)}
    assert set(monitors) == {"demo-backend", "demo-postgres"}
    pg = monitors["demo-postgres"]
    assert pg["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "postgres"
    assert pg["spec"]["endpoints"][0]["port"] == "metrics"


def test_another_exporter_image_keeps_its_entrypoint() -> None:
    image = "quay.io/prometheuscommunity/postgres-exporter:v0.15.0"
    stack = obs_stack({"postgresExporter": {"enabled": True, "image": image}})
    exporter = _containers(stack)["postgres-exporter"]
    assert exporter["image"] == image and "command" not in exporter


def test_service_monitor_is_an_optional_pruned_child() -> None:
    kind = kinds.BY_KIND["ServiceMonitor"]
    assert kind in kinds.CHILDREN and kind.pruned and kind.optional
    assert kind.api_version == "monitoring.coreos.com/v1"
