"""Files published inside a Go module (CRDs, mostly), fetched from the Go module proxy at a pinned
version into Go's module cache (outside the repository: a warm run downloads nothing)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml


def module_dir(module: str, version: str) -> Path:
    """The module's directory in the Go module cache (downloaded on first use)."""
    # Outside any module, so no go.mod around the caller's directory is consulted or changed.
    with tempfile.TemporaryDirectory() as outside_any_module:
        result = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=outside_any_module,
            env={**os.environ, "GOFLAGS": "-mod=mod"},
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(
            f"go mod download {module}@{version} failed: {result.stdout}{result.stderr}"
        )
    return Path(json.loads(result.stdout)["Dir"])


def yaml_docs(directory: Path) -> list[dict[str, Any]]:
    """Every YAML document of the directory's *.yaml files, in file-name order."""
    docs: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs
