"""The Tiltfile as the real Tilt loads it (`tilt alpha tiltfile-result`), for what `tilt ci` on the
real node (tests/e2e/test_tilt.py) cannot show: both builders declare the same live update, both
operator modes, the context guard, bad arguments. No cluster: the kubeconfig names an unreachable
server, and loading a Tiltfile does not contact it.

Skipped, saying how to install Tilt, when there is no Tilt binary (sandbox/tilt.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox import cluster, tilt

REPO = cluster.REPO


@pytest.fixture(scope="module")
def tilt_binary() -> Path:
    path = tilt.find()
    if path is None:
        pytest.skip(tilt.INSTALL_HINT)
    return path


def _kubeconfig(directory: Path, context: str) -> Path:
    path = directory / f"kubeconfig-{context}"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "unused"}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
                "current-context": context,
            }
        )
    )
    return path


class Result:
    """The parts of tiltfile-result's JSON these tests read, by manifest name."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.manifests: dict[str, dict[str, Any]] = {m["Name"]: m for m in raw["Manifests"]}

    def images(self) -> dict[str, dict[str, Any]]:
        return {
            target["selector"]: target
            for m in self.manifests.values()
            for target in m.get("ImageTargets") or []
        }

    def yaml(self, name: str) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.manifests[name]["DeployTarget"]["yaml"]) if d]

    def cmd(self, name: str, field: str = "UpdateCmdSpec") -> str:
        spec = self.manifests[name]["DeployTarget"]
        args = spec[field]["args"] if field == "UpdateCmdSpec" else spec[field]["Argv"]
        return str(args[-1])


def tiltfile_result(
    tilt_binary: Path, tmp_path: Path, *args: str, context: str = "dimini-sandbox"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KUBECONFIG": str(_kubeconfig(tmp_path, context)),
        # helm() in the Tiltfile runs the real helm: the sandbox's build of it.
        "PATH": f"{cluster.binaries()}:{os.environ['PATH']}",
    }
    return subprocess.run(
        [str(tilt_binary), "alpha", "tiltfile-result", "--", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load(tilt_binary: Path, tmp_path: Path, *args: str) -> Result:
    proc = tiltfile_result(tilt_binary, tmp_path, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Result(json.loads(proc.stdout))


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


def _live_update(target: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    spec = target["LiveUpdateSpec"]
    return {s["localPath"]: s["containerPath"] for s in spec.get("syncs", [])}, spec.get(
        "stopPaths", []
    )


@pytest.mark.parametrize(
    "image,context,synced",
    [("dimini-backend", "backend", "app"), ("dimini-frontend", "frontend", "src")],
)
def test_both_builders_sync_code_into_the_dev_workdir_and_rebuild_on_dependencies(
    tilt_binary: Path, tmp_path: Path, image: str, context: str, synced: str
) -> None:
    docker = load(tilt_binary, tmp_path, "--builder=docker").images()[image]
    buildah = load(tilt_binary, tmp_path, "--builder=buildah").images()[image]
    assert _live_update(docker) == _live_update(buildah), "the same live update in both"
    syncs, stop_paths = _live_update(docker)
    workdir = _workdir(REPO / context / "Dockerfile", "dev")
    assert syncs[f"{context}/{synced}"] == f"{workdir.rstrip('/')}/{synced}"
    assert all((REPO / source).is_dir() for source in syncs), syncs
    # A dependency change must rebuild the image rather than sync.
    assert stop_paths and all((REPO / p).exists() for p in stop_paths)
    assert f"{context}/pyproject.toml" in stop_paths or f"{context}/package.json" in stop_paths

    assert docker["DockerImageName"] and docker["BuildDetails"]["target"] == "dev"
    # Without Docker: our command builds (buildah) and loads into the node; Tilt neither asks a
    # Docker daemon for the image nor pushes it.
    details = buildah["BuildDetails"]
    assert details["args"][-1].endswith(f"-m images tilt {context}")
    assert details["Deps"] == [str(REPO / context)]
    assert details["outputMode"] == "remote"  # skips_local_docker=True
    assert not buildah["DockerImageName"]


def test_buildah_builds_postgres_too_and_tilt_injects_every_stack_image(
    tilt_binary: Path, tmp_path: Path
) -> None:
    result = load(tilt_binary, tmp_path, "--builder=buildah")
    deploy = result.manifests["dimini"]["DeployTarget"]
    assert sorted(deploy["imageMaps"]) == ["dimini-backend", "dimini-frontend", "dimini-postgres"]
    paths = {loc["path"] for loc in deploy["imageLocators"]}
    assert paths == {"{.spec.backend.image}", "{.spec.frontend.image}", "{.spec.postgres.image}"}
    (stack,) = result.yaml("dimini")
    assert stack["spec"]["postgres"]["image"] == "dimini-postgres"
    assert stack["spec"]["mode"] == "development"
    # With Docker, kind pulls Postgres itself: no image of ours.
    docker = load(tilt_binary, tmp_path, "--builder=docker")
    assert "dimini-postgres" not in docker.images()


def test_the_port_forwards_wait_for_the_stack_ready_condition(
    tilt_binary: Path, tmp_path: Path
) -> None:
    result = load(tilt_binary, tmp_path, "--builder=buildah")
    ready = result.manifests["stack-ready"]
    assert ready["ResourceDependencies"] == ["dimini"]
    assert (
        "--context dimini-sandbox --namespace dimini-dev wait --for=condition=Ready "
        "diministack/dimini" in result.cmd("stack-ready")
    )
    # Once Ready, the URL the stack answers at (`make dev` streams this log; no DIMINI_URL here).
    assert result.cmd("stack-ready").endswith("&& echo 'Dimini is Ready: http://dimini.localhost'")
    for name, port in [("frontend", 3000), ("backend", 8000), ("postgres", 5432)]:
        forward = result.manifests[f"forward-{name}"]
        assert forward["ResourceDependencies"] == ["stack-ready"]
        assert f"service/dimini-{name} {port}:{port}" in result.cmd(f"forward-{name}", "ServeCmd")


def test_cluster_mode_installs_the_operator_from_the_chart_with_tilts_image(
    tilt_binary: Path, tmp_path: Path
) -> None:
    result = load(tilt_binary, tmp_path, "--builder=buildah")
    assert "dimini-operator" in result.images()
    deployment = next(d for d in result.yaml("dimini-operator") if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("dimini-operator")
    assert result.manifests["dimini"]["ResourceDependencies"] == ["dimini-operator"]
    # One CRD in all: twice in one apply to a new cluster, the second is a create that fails.
    crds = [
        d["metadata"]["name"]
        for m in result.manifests.values()
        if m.get("DeployTarget")
        for d in yaml.safe_load_all(m["DeployTarget"].get("yaml") or "")
        if d and d["kind"] == "CustomResourceDefinition"
    ]
    assert crds == ["diministacks.dimini.io"], crds


def test_host_mode_runs_the_operator_on_the_host_after_pausing_the_cluster_one(
    tilt_binary: Path, tmp_path: Path
) -> None:
    result = load(tilt_binary, tmp_path, "--builder=buildah", "--operator=host")
    assert "dimini-operator" not in result.images()
    serve = result.cmd("dimini-operator", "ServeCmd")
    # One leader Lease for both operators: the cluster one's (in its namespace).
    assert "-m dimini_operator --namespace dimini-dev --lease-namespace dimini-system" in serve
    assert result.manifests["dimini-operator"]["ResourceDependencies"] == ["pause-cluster-operator"]
    pause = result.cmd("pause-cluster-operator")
    assert "dimini-system" in pause and "scale --replicas=0" in pause


def test_a_hume_secret_argument_references_the_secret(tilt_binary: Path, tmp_path: Path) -> None:
    result = load(tilt_binary, tmp_path, "--builder=buildah", "--hume-secret=my-hume")
    (stack,) = result.yaml("dimini")
    assert stack["spec"]["secretRefs"] == {"hume": {"name": "my-hume"}}


@pytest.mark.parametrize("context", ["kind-dimini", "dimini-sandbox"])
def test_kind_and_sandbox_contexts_are_allowed(
    tilt_binary: Path, tmp_path: Path, context: str
) -> None:
    proc = tiltfile_result(tilt_binary, tmp_path, "--builder=buildah", context=context)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("builder", ["--builder=buildah", "--builder=auto"])
def test_any_other_context_is_refused(tilt_binary: Path, tmp_path: Path, builder: str) -> None:
    # auto runs `docker info` while loading: the guard comes before it, so even that is refused.
    proc = tiltfile_result(tilt_binary, tmp_path, builder, context="prod-eu")
    assert proc.returncode != 0
    assert "allow_k8s_contexts('prod-eu')" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize(
    "arg,message",
    [
        ("--operator=cloud", "--operator must be cluster or host, not cloud"),
        ("--builder=podman", "--builder must be docker, buildah or auto, not podman"),
        ("--no-such-flag=1", "no-such-flag"),
    ],
)
def test_bad_arguments_fail_clearly(
    tilt_binary: Path, tmp_path: Path, arg: str, message: str
) -> None:
    proc = tiltfile_result(tilt_binary, tmp_path, arg)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-2000:]
