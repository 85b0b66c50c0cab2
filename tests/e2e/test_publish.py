"""Issue 17, acceptance 6: `make publish` to a registry, then the whole install from it.

The project's four images and the chart are published (images/publish.py) to a local registry
(Debian's docker-registry on a loopback port, tests/support/registry.py). A fresh real-node
sandbox of its own, whose containerd has its own empty content store (no image preloaded but the
pod sandbox's `pause`), installs the operator with `helm install oci://…` (only
`watchNamespaces` set), runs `helm test`, and applies the sample stack naming the images the
chart's values carry. The stack reaches Ready on images containerd pulled from the registry:
every container's imageID is the pushed digest.

Its own sandbox, so it must run while no other real node does: `make e2e` runs this module
before the others (which share .sandbox-e2e).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from lightkube import Client
from lightkube.resources.core_v1 import Pod

from images import publish
from sandbox import cluster, podprocs, realnode
from sandbox.nodes import client as sandbox_client
from tests.e2e.conftest import HOST, OPERATOR_NAMESPACE, RELEASE
from tests.operator.integration.support import SAMPLE, Kubectl, stack_ready
from tests.support import registry as local_registry
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

NAMESPACE = "dimini-published"
READY_TIMEOUT = 600  # pulls ~1 GB of layers first, then Postgres initdb + migration


@dataclass
class Install:
    sandbox: cluster.Sandbox
    kube: Client
    kubectl: Kubectl
    helm: str
    registry: local_registry.LocalRegistry
    published: publish.Published
    figures: dict[str, float]

    def helm_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        # The registry is plain http on loopback; `helm test` reads no chart and has no such flag.
        plain = ["--plain-http"] if args[0] != "test" else []
        return subprocess.run(
            [self.helm, *args, *plain],
            env=self.sandbox.env(),
            capture_output=True,
            text=True,
            check=False,
        )

    def node_images(self) -> set[str]:
        """The names in the node's containerd, without the `sha256:<image id>` aliases the CRI
        adds to what it pulls."""
        out = realnode.ctr(realnode.NodePaths(self.sandbox.root), "images", "ls", "-q").stdout
        return {name for name in out.split() if not name.startswith("sha256:")}


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory, helm: str) -> Iterator[Install]:
    tmp = tmp_path_factory.mktemp("publish")
    figures: dict[str, float] = {}
    with local_registry.running(tmp / "registry") as registry, pytest.MonkeyPatch.context() as mp:
        started = time.monotonic()
        published = publish.publish(publish.parse_registry(registry.host), helm)
        figures["publish_seconds"] = round(time.monotonic() - started, 1)
        # A content store of its own: nothing of the shared one (~/.cache/dimini-sandbox/
        # containerd, where `make e2e` loads the images) can stand in for a pull.
        store = tmp / "containerd-root"
        mp.setenv("DIMINI_CONTAINERD_ROOT", str(store))
        sb = cluster.up(tmp / "sandbox", nodes=0, real_node=True)
        try:
            kubectl = Kubectl(sb.env(), NAMESPACE)
            yield Install(sb, sandbox_client(sb), kubectl, helm, registry, published, figures)
        finally:
            cluster.down(sb.root)
            shutil.rmtree(store, ignore_errors=True)
            left = podprocs.pod_pids()
            assert not left, f"container processes survived sandbox down: {sorted(left)}"
            print(f"publish e2e figures: {figures}")


def image_ids(pods: list[Pod]) -> dict[str, str]:
    """Every container's (and init container's) imageID, by pod/container."""
    out = {}
    for pod in pods:
        status = pod.status
        assert status is not None and pod.metadata is not None
        for c in [*(status.initContainerStatuses or []), *(status.containerStatuses or [])]:
            out[f"{pod.metadata.name}/{c.name}"] = c.imageID
    return out


def test_1_the_fresh_node_holds_no_dimini_image(install: Install) -> None:
    names = install.node_images()
    assert names == {realnode.PAUSE_IMAGE}, names


def test_2_helm_install_from_the_registry_runs_the_pushed_operator(install: Install) -> None:
    # As the README's install: the stacks' namespace first, then the operator, which is granted
    # and watches only that namespace (the chart's namespace scope).
    install.kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": NAMESPACE,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            },
        }
    )
    started = time.monotonic()
    proc = install.helm_run(
        "install", RELEASE, install.published.chart,
        "--version", install.published.version,
        "--namespace", OPERATOR_NAMESPACE, "--create-namespace",
        "--set", f"watchNamespaces={{{NAMESPACE}}}",
        "--wait", "--timeout", "5m",
    )  # fmt: skip
    assert proc.returncode == 0, f"helm install: {proc.stderr}"
    install.figures["helm_install_seconds"] = round(time.monotonic() - started, 1)
    operator = install.published.images["operator"]
    # NOTES.txt names the stack images published with the chart.
    assert all(install.published.images[n].ref in proc.stdout for n in publish.STACK_IMAGES)
    pods = list(install.kube.list(Pod, namespace=OPERATOR_NAMESPACE))
    assert pods
    ids = image_ids(pods)
    assert ids and set(ids.values()) == {operator.ref}, ids
    assert operator.ref in install.node_images()


def test_3_helm_test_checks_liveness_the_crd_and_rbac(install: Install) -> None:
    proc = install.helm_run("test", RELEASE, "--namespace", OPERATOR_NAMESPACE, "--logs")
    assert proc.returncode == 0, f"helm test: {proc.stdout}\n{proc.stderr}"
    assert "FAIL" not in proc.stdout
    for check in ("ok    liveness", "diministacks.dimini.io served", "can patch diministacks"):
        assert check in proc.stdout, proc.stdout


def stack_from_chart_values(install: Install) -> dict[str, Any]:
    """The sample, with the images the published chart's values name (what an admin copies)."""
    shown = install.helm_run(
        "show", "values", install.published.chart, "--version", install.published.version
    )
    assert shown.returncode == 0, shown.stderr
    images: dict[str, str] = yaml.safe_load(shown.stdout)["stackImages"]
    doc: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    for name in publish.STACK_IMAGES:
        doc["spec"][name]["image"] = images[name]
    doc["spec"]["ingress"]["host"] = HOST
    return doc


def test_4_the_sample_stack_reaches_ready_on_pulled_images(install: Install) -> None:
    stack = stack_from_chart_values(install)
    started = time.monotonic()
    install.kubectl.apply(stack)
    wait_for("the stack Ready", lambda: stack_ready(install.kubectl), READY_TIMEOUT, interval=2)
    install.figures["apply_to_ready_seconds"] = round(time.monotonic() - started, 1)

    pushed = {n: install.published.images[n].ref for n in publish.STACK_IMAGES}
    assert {n: stack["spec"][n]["image"] for n in publish.STACK_IMAGES} == pushed
    pods = list(install.kube.list(Pod, namespace=NAMESPACE))
    running = [p for p in pods if p.status and p.status.phase in ("Running", "Succeeded")]
    ids = image_ids(running)
    # Backend pods and the migration Job run the backend image; Postgres its own; the frontend.
    assert set(ids.values()) == set(pushed.values()), ids
    assert set(pushed.values()) <= install.node_images()
    others = (
        install.node_images()
        - {realnode.PAUSE_IMAGE}
        - {p.ref for p in install.published.images.values()}
    )
    assert others == set(), f"images not pulled from the registry by digest: {others}"
