"""The Prometheus Operator's CRDs (ServiceMonitor, PodMonitor, PrometheusRule), as that project
publishes them, from the Go module proxy at a pinned version (cached in Go's module cache, outside
the repository: a warm run downloads nothing; cold: one ~4 MB module zip)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

MODULE = "github.com/prometheus-operator/prometheus-operator"
VERSION = "v0.85.0"
KINDS = {
    "ServiceMonitor": "servicemonitors",
    "PodMonitor": "podmonitors",
    "PrometheusRule": "prometheusrules",
}


def crd_files() -> dict[str, Path]:
    """Kind -> its CustomResourceDefinition file in the downloaded module."""
    with tempfile.TemporaryDirectory() as outside_any_module:
        result = subprocess.run(
            ["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=outside_any_module,
            env={**os.environ, "GOFLAGS": "-mod=mod"},
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(
            f"go mod download {MODULE}@{VERSION} failed: {result.stdout}{result.stderr}"
        )
    directory = Path(json.loads(result.stdout)["Dir"]) / "example" / "prometheus-operator-crd"
    return {
        kind: directory / f"monitoring.coreos.com_{plural}.yaml" for kind, plural in KINDS.items()
    }
