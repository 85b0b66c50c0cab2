"""The chart's opt-in monitoring: nothing by default, nothing without the Prometheus Operator's
CRDs (unless forced), monitors that select what the operator renders, the rules and dashboard
taken whole from their files, and every object accepted by a real API server with the
Prometheus Operator's own CRDs installed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from dimini_operator.specs import backend, postgres

from sandbox.cluster import Sandbox
from tests.operator.unit.conftest import make_stack
from tests.support.crds import wait_established
from tests.support.prometheus_crds import KINDS, crd_files

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "dimini-operator"
ALL_ON = [
    "--set",
    "monitoring.operator.serviceMonitor=true",
    "--set",
    "monitoring.backend.podMonitor=true",
    "--set",
    "monitoring.postgres.podMonitor=true",
    "--set",
    "monitoring.rules.enabled=true",
    "--set",
    "monitoring.dashboard.enabled=true",
]
CRDS_SERVED = [
    arg for kind in KINDS for arg in ("--api-versions", f"monitoring.coreos.com/v1/{kind}")
]


def helm_template(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, "template", "dimini", str(CHART), "--namespace", "dimini-system", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def render(helm: str, *args: str) -> list[dict[str, Any]]:
    result = helm_template(helm, *args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def monitoring(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{doc['kind']}/{doc['metadata']['name']}": doc
        for doc in docs
        if doc["apiVersion"].startswith("monitoring.coreos.com/")
        or doc["metadata"]["name"].endswith("-dashboards")
    }


def test_monitoring_is_off_by_default(helm: str) -> None:
    assert monitoring(render(helm, *CRDS_SERVED)) == {}


def test_without_the_crds_only_the_dashboard_renders(helm: str) -> None:
    assert set(monitoring(render(helm, *ALL_ON))) == {"ConfigMap/dimini-dimini-operator-dashboards"}


def test_with_the_crds_every_object_renders(helm: str) -> None:
    for args in ([*ALL_ON, *CRDS_SERVED], [*ALL_ON, "--set", "monitoring.force=true"]):
        assert set(monitoring(render(helm, *args))) == {
            "ServiceMonitor/dimini-dimini-operator",
            "PodMonitor/dimini-dimini-operator-backend",
            "PodMonitor/dimini-dimini-operator-postgres",
            "PrometheusRule/dimini-dimini-operator",
            "ConfigMap/dimini-dimini-operator-dashboards",
        }


def test_rules_and_dashboard_are_their_files(helm: str) -> None:
    objects = monitoring(render(helm, *ALL_ON, *CRDS_SERVED))
    rules = objects["PrometheusRule/dimini-dimini-operator"]["spec"]
    assert rules == yaml.safe_load((CHART / "monitoring" / "rules.yaml").read_text())
    dashboards = objects["ConfigMap/dimini-dimini-operator-dashboards"]
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboards["data"]["dimini.json"]) == json.loads(
        (CHART / "dashboards" / "dimini.json").read_text()
    )


def test_monitoring_labels_reach_every_object(helm: str) -> None:
    objects = monitoring(
        render(helm, *ALL_ON, *CRDS_SERVED, "--set", "monitoring.labels.release=prom")
    )
    for name, obj in objects.items():
        if not name.startswith("ConfigMap/"):
            assert obj["metadata"]["labels"]["release"] == "prom", name


def test_the_operator_monitor_refuses_a_disabled_metrics_service(helm: str) -> None:
    result = helm_template(
        helm,
        "--set",
        "monitoring.operator.serviceMonitor=true",
        "--set",
        "metrics.service.enabled=false",
        *CRDS_SERVED,
    )
    assert result.returncode != 0
    assert "metrics.service.enabled=true" in result.stderr


def _selects(monitor: dict[str, Any], pod_template: dict[str, Any]) -> bool:
    labels = pod_template["metadata"]["labels"]
    wanted = monitor["spec"]["selector"]["matchLabels"]
    ports = {
        port["name"]
        for container in pod_template["spec"]["containers"]
        for port in container.get("ports", [])
    }
    endpoint_ports = {endpoint["port"] for endpoint in monitor["spec"]["podMetricsEndpoints"]}
    return wanted.items() <= labels.items() and endpoint_ports <= ports


def test_the_backend_monitor_selects_the_pods_the_operator_renders(helm: str) -> None:
    objects = monitoring(render(helm, *ALL_ON, *CRDS_SERVED))
    stack = make_stack()
    pod = backend.deployment(stack, "registry.local/backend:1", "checksum")["spec"]["template"]
    assert _selects(objects["PodMonitor/dimini-dimini-operator-backend"], pod)
    relabel = objects["PodMonitor/dimini-dimini-operator-backend"]["spec"]["podMetricsEndpoints"]
    assert relabel[0]["relabelings"][0]["targetLabel"] == "stack"
    # The Postgres monitor selects the Postgres pods (its port comes with the exporter sidecar).
    statefulset = postgres.statefulset(stack)["spec"]["template"]
    wanted = objects["PodMonitor/dimini-dimini-operator-postgres"]["spec"]["selector"]
    assert wanted["matchLabels"].items() <= statefulset["metadata"]["labels"].items()


def test_lint_is_clean_with_monitoring_on(helm: str) -> None:
    result = subprocess.run(
        [helm, "lint", "--strict", str(CHART), *ALL_ON, "--set", "monitoring.force=true"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.sandbox
def test_the_api_server_accepts_every_monitoring_object(
    helm: str, sandbox: Sandbox, namespace: str
) -> None:
    env = sandbox.env()
    for crd in crd_files().values():
        applied = subprocess.run(
            ["kubectl", "apply", "--server-side", "-f", str(crd)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert applied.returncode == 0, applied.stderr
    wait_established(env, *(f"{plural}.monitoring.coreos.com" for plural in KINDS.values()))
    docs = monitoring(render(helm, *ALL_ON, *CRDS_SERVED))
    assert len(docs) == 5
    for doc in docs.values():
        doc["metadata"]["namespace"] = namespace
    accepted = subprocess.run(
        ["kubectl", "apply", "--dry-run=server", "-n", namespace, "-f", "-"],
        input="\n---\n".join(yaml.safe_dump(doc) for doc in docs.values()),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.count("(server dry run)") == 5


def test_stack_namespaces_narrow_the_pod_monitors(helm: str) -> None:
    for values, expected in (
        ([], {"any": True}),
        (
            ["--set", "monitoring.stackNamespaces={team-a,team-b}"],
            {"matchNames": ["team-a", "team-b"]},
        ),
    ):
        objects = monitoring(render(helm, *ALL_ON, *CRDS_SERVED, *values))
        for name in (
            "PodMonitor/dimini-dimini-operator-backend",
            "PodMonitor/dimini-dimini-operator-postgres",
        ):
            assert objects[name]["spec"]["namespaceSelector"] == expected
