"""cert-manager's CRDs (Certificate, Issuer, ClusterIssuer, ...) as that project publishes them
(deploy/crds/), from the Go module proxy at a pinned version (Go's module cache, outside the
repository: cold one ~4 MB module zip, warm nothing)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

MODULE = "github.com/cert-manager/cert-manager"
VERSION = "v1.21.2"


def crds() -> list[dict[str, Any]]:
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
    directory = Path(json.loads(result.stdout)["Dir"]) / "deploy" / "crds"
    docs: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs
