"""cert-manager's CRDs (Certificate, Issuer, ClusterIssuer, ...) as that project publishes them
(deploy/crds/), from the Go module proxy at a pinned version (Go's module cache, outside the
repository: cold one ~4 MB module zip, warm nothing)."""

from __future__ import annotations

from typing import Any

from sandbox import gomod

MODULE = "github.com/cert-manager/cert-manager"
VERSION = "v1.21.2"


def crds() -> list[dict[str, Any]]:
    return gomod.yaml_docs(gomod.module_dir(MODULE, VERSION) / "deploy" / "crds")
