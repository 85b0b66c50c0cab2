"""The Prometheus Operator's CRDs (ServiceMonitor, PodMonitor, PrometheusRule), as that project
publishes them, from the Go module proxy at a pinned version (cached in Go's module cache, outside
the repository: a warm run downloads nothing; cold: one ~4 MB module zip)."""

from __future__ import annotations

from pathlib import Path

from sandbox import gomod

MODULE = "github.com/prometheus-operator/prometheus-operator"
VERSION = "v0.85.0"
KINDS = {
    "ServiceMonitor": "servicemonitors",
    "PodMonitor": "podmonitors",
    "PrometheusRule": "prometheusrules",
}


def crd_files() -> dict[str, Path]:
    """Kind -> its CustomResourceDefinition file in the downloaded module."""
    directory = gomod.module_dir(MODULE, VERSION) / "example" / "prometheus-operator-crd"
    return {
        kind: directory / f"monitoring.coreos.com_{plural}.yaml" for kind, plural in KINDS.items()
    }
