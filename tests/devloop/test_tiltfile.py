"""The Tiltfile declares the developer loop: images with live update, the operator, the
development stack with Tilt-injected images, and port forwards. Evaluated with a recording Tilt
API (tests/support/tiltfile.py) because Tilt itself cannot be built here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.support.tiltfile import REPO, TiltfileResult, evaluate


@pytest.fixture(scope="module")
def cluster_mode(helm: str) -> TiltfileResult:
    return evaluate(helm_bin=Path(helm))


@pytest.fixture(scope="module")
def host_mode(helm: str) -> TiltfileResult:
    return evaluate({"operator": "host"}, helm_bin=Path(helm))


def _workdir(dockerfile: Path, target: str) -> str:
    """WORKDIR in effect in the build stage `target` (following FROM <earlier stage>)."""
    stages: dict[str, tuple[str | None, str | None]] = {}
    current, parent, workdir = None, None, None
    for line in dockerfile.read_text().splitlines():
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line.strip(), re.IGNORECASE)
        if m:
            if current:
                stages[current] = (parent, workdir)
            parent, current = m.group(1), (m.group(2) or "").lower()
            workdir = None
        m = re.match(r"WORKDIR\s+(\S+)", line.strip(), re.IGNORECASE)
        if m:
            workdir = m.group(1)
    if current:
        stages[current] = (parent, workdir)
    name: str | None = target
    while name in stages:
        parent, workdir = stages[name]
        if workdir:
            return workdir
        name = parent.lower() if parent else None
    raise AssertionError(f"no WORKDIR for stage {target} in {dockerfile}")


@pytest.mark.parametrize(
    "image,context,synced",
    [
        ("dimini-backend", "backend", "app"),
        ("dimini-frontend", "frontend", "src"),
    ],
)
def test_app_images_build_the_dev_target_and_sync_code_into_the_workdir(
    cluster_mode: TiltfileResult, image: str, context: str, synced: str
) -> None:
    build = cluster_mode.images[image]
    assert build["context"] == context
    assert build["target"] == "dev"
    syncs = {s["args"][0]: s["args"][1] for s in build["live_update"] if s["step"] == "sync"}
    workdir = _workdir(REPO / context / "Dockerfile", "dev")
    assert syncs[f"{context}/{synced}"] == f"{workdir.rstrip('/')}/{synced}"
    for source in syncs:
        assert (REPO / source).is_dir(), f"live_update syncs a missing path: {source}"
    # A dependency change must rebuild the image rather than sync.
    fallbacks = [s for s in build["live_update"] if s["step"] == "fall_back_on"]
    assert fallbacks and all((REPO / f).exists() for s in fallbacks for f in s["args"][0])


def test_dev_stack_images_are_injected_by_tilt(cluster_mode: TiltfileResult) -> None:
    paths = cluster_mode.kinds["DiminiStack"]["image_json_path"]
    assert set(paths) == {"{.spec.backend.image}", "{.spec.frontend.image}"}
    stack = yaml.safe_load((REPO / "manifests/samples/diministack-dev.yaml").read_text())
    # Tilt replaces an image only where it equals a docker_build ref.
    assert stack["spec"]["backend"]["image"] in cluster_mode.images
    assert stack["spec"]["frontend"]["image"] in cluster_mode.images
    assert stack["spec"]["mode"] == "development"


def test_yaml_declared_exists_and_includes_crd_and_dev_stack(
    cluster_mode: TiltfileResult,
) -> None:
    files = [y for y in cluster_mode.yaml if not y.lstrip().startswith(("apiVersion", "---", "#"))]
    for f in files:
        assert (REPO / f).is_file(), f
    assert "manifests/crds/diministacks.dimini.io.yaml" in files
    assert "manifests/samples/diministack-dev.yaml" in files


def test_cluster_mode_installs_the_operator_from_the_chart(cluster_mode: TiltfileResult) -> None:
    assert "dimini-operator" in cluster_mode.images
    rendered = "\n".join(y for y in cluster_mode.yaml if "kind: Deployment" in y)
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "dimini-operator"
    )
    assert cluster_mode.k8s_resources["dimini"]["resource_deps"] == ["dimini-operator"]


def test_host_mode_runs_the_operator_natively(host_mode: TiltfileResult) -> None:
    assert "dimini-operator" not in host_mode.images
    serve = host_mode.local_resources["dimini-operator"]["serve_cmd"]
    assert "python -m dimini_operator" in serve and "--namespace dimini-dev" in serve


def test_port_forwards_for_frontend_backend_and_postgres(cluster_mode: TiltfileResult) -> None:
    forwards = {
        name: r["serve_cmd"]
        for name, r in cluster_mode.local_resources.items()
        if name.startswith("forward-")
    }
    assert "service/dimini-frontend 3000:3000" in forwards["forward-frontend"]
    assert "service/dimini-backend 8000:8000" in forwards["forward-backend"]
    assert "service/dimini-postgres 5432:5432" in forwards["forward-postgres"]
    for r in (cluster_mode.local_resources[n] for n in forwards):
        assert r["resource_deps"] == ["dimini"]


def test_only_the_kind_context_is_allowed(cluster_mode: TiltfileResult) -> None:
    assert cluster_mode.allowed_contexts == ["kind-dimini"]


def test_unknown_operator_mode_fails_clearly() -> None:
    with pytest.raises(Exception, match="--operator must be cluster or host"):
        evaluate({"operator": "cloud"})
