"""The e2e world: the real-node sandbox with the project's images, Traefik, the operator installed
from its chart, and one DiminiStack from the sample — the way a cluster admin would set it up.

Built once per run (module scope in test_stack.py); each step of the scenario is its own test.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from dimini_operator.specs.common import LABEL_COMPONENT
from lightkube import Client

import images
from images import traefik as traefik_image
from sandbox import cluster, ingress, kubeapply
from tests.operator.integration.support import SAMPLE, Kubectl
from tests.support import prometheus_crds

HOST = "dimini.localhost"
STACK_NAMESPACE = "dimini-e2e"
OPERATOR_NAMESPACE = "dimini-system"
RELEASE = "dimini-operator"
CHART = cluster.REPO / "charts" / "dimini-operator"
HUME_SECRET = "dimini-hume"
# Figures for bench/e2e (timings of the scenario's steps); a JSON object, written as they come.
FIGURES = Path(os.environ.get("DIMINI_E2E_FIGURES", cluster.REPO / ".sandbox-e2e" / "figures.json"))
LOGIN_WINDOW_SECONDS = 3600
APP_IMAGES = ("backend", "frontend", "operator", "postgres")
SCRAPE_INTERVAL = "2s"


# Modules that bring up a real node of their own, in this order before every other test: one real
# node per host, and the others share .sandbox-e2e's, which stays up until the session ends.
OWN_REAL_NODE = ("tests/sandbox/test_sandbox_cleanup.py", "tests/e2e/test_publish.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.nodeid.split("::", 1)[0]
        return OWN_REAL_NODE.index(module) if module in OWN_REAL_NODE else len(OWN_REAL_NODE)

    items.sort(key=rank)  # stable: file order otherwise


# What a failed e2e step's report carries besides its traceback: CI keeps only the test output, and
# the stack's namespace is deleted at the module's end, so its pods' logs are read here or lost.
DIAGNOSTICS: tuple[tuple[str, ...], ...] = (
    ("get", "pods,jobs,diministacks", "-o", "wide"),
    ("get", "events", "--sort-by=.lastTimestamp"),
    ("logs", "-l", f"{LABEL_COMPONENT}=backend", "--prefix", "--tail=150"),
    ("logs", "-l", f"{LABEL_COMPONENT}=postgres", "--prefix", "--tail=40"),
)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    worlds = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, World)]
    if report.when == "call" and report.failed and worlds:
        for args in DIAGNOSTICS:
            report.sections.append((f"kubectl {' '.join(args)}", _diagnostic(worlds[0], args)))
    return report


def _diagnostic(world: World, args: tuple[str, ...]) -> str:
    try:
        done = world.kubectl.run(*args, check=False, timeout=30)
    except Exception as error:  # a diagnostic must never mask the failure it explains
        return f"could not run kubectl {' '.join(args)}: {error!r}"
    return done.stdout + done.stderr


@dataclass
class World:
    """What the scenario's steps share: how to reach the stack and what earlier steps made."""

    sandbox: cluster.Sandbox
    kube: Client
    kubectl: Kubectl
    refs: dict[str, str]
    base_url: str
    signing_key: str
    facts: dict[str, Any] = field(default_factory=dict)

    def record(self, name: str, value: float | int) -> None:
        figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
        figures[name] = value
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        FIGURES.write_text(json.dumps(figures, indent=2))


def stack_manifest(refs: dict[str, str]) -> dict[str, Any]:
    """manifests/samples/diministack.yaml with the locally built images and the Hume Secret."""
    doc: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    spec = doc["spec"]
    spec["backend"]["image"] = refs["backend"]
    spec["frontend"]["image"] = refs["frontend"]
    spec["postgres"]["image"] = refs["postgres"]
    spec["ingress"]["host"] = HOST
    # The sandbox's Traefik serves its CRDs: the body limit is enforced there too, so every
    # e2e request crosses the operator's buffering Middleware.
    spec["ingress"]["controller"] = "Traefik"
    spec["secretRefs"] = {"hume": {"name": HUME_SECRET}}
    spec["observability"] = {
        "serviceMonitor": {"enabled": True, "interval": SCRAPE_INTERVAL},
        "postgresExporter": {"enabled": True},
    }
    # The login budget's fixed window (epoch-aligned) is an hour here, so that the budget step
    # can start well inside one window (a window boundary mid-step would refill the budget).
    spec["backend"]["env"] = [
        {"name": "LOGIN_RATE_WINDOW_SECONDS", "value": str(LOGIN_WINDOW_SECONDS)}
    ]
    return doc


def _repository_and_tag(ref: str) -> tuple[str, str]:
    repository, _, tag = ref.rpartition(":")
    return repository, tag


def install_operator(sb: cluster.Sandbox, helm: str, operator_ref: str) -> None:
    repository, tag = _repository_and_tag(operator_ref)
    proc = subprocess.run(
        [
            helm, "upgrade", "--install", RELEASE, str(CHART),
            "--namespace", OPERATOR_NAMESPACE, "--create-namespace",
            "--set", f"image.repository={repository}",
            "--set", f"image.tag={tag}",
            "--set", "image.pullPolicy=Never",
            # Every module's stack has a fresh namespace of its own.
            "--set", "rbac.scope=cluster",
            # Scraped by the host's Prometheus (tests/e2e/prometheus.py) in test_stack.py.
            "--set", "monitoring.operator.serviceMonitor=true",
            "--set", f"monitoring.interval={SCRAPE_INTERVAL}",
            "--wait", "--timeout", "5m",
        ],
        env=sb.env(),
        check=False,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode == 0, f"helm install of the operator failed: {proc.stderr}"


@pytest.fixture(scope="session")
def e2e_images(real_sandbox: cluster.Sandbox) -> dict[str, str]:
    """Build (or reuse) the project's images and Traefik's, and load them into the node."""
    refs = {name: images.build(name) for name in APP_IMAGES}
    refs["traefik"] = traefik_image.build()
    for ref in refs.values():
        images.load(ref, real_sandbox.containerd_socket)
    return refs


@pytest.fixture(scope="module")
def world(
    real_sandbox: cluster.Sandbox, real_kube: Client, e2e_images: dict[str, str], helm: str
) -> Iterator[World]:
    # With the Gateway API CRDs and Traefik's Gateway provider, before the operator starts (it
    # watches HTTPRoutes only if their CRD was there at its start): tests/e2e/test_gateway_tls.py.
    ingress.install(real_kube, e2e_images["traefik"], gateway_api=True)
    # The ServiceMonitor CRD likewise (the chart renders its monitor only when it is served).
    crds = [yaml.safe_load(f.read_text()) for f in prometheus_crds.crd_files().values()]
    kubeapply.install_crds(real_kube, crds, "dimini-e2e")
    install_operator(real_sandbox, helm, e2e_images["operator"])
    kubectl = Kubectl(real_sandbox.env(), STACK_NAMESPACE)
    # A clean namespace per run (a kept sandbox may hold the previous run's stack).
    if kubectl.get("namespace", STACK_NAMESPACE):
        kubectl.run("delete", "namespace", STACK_NAMESPACE, "--wait=true", namespaced=False)
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": STACK_NAMESPACE,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            },
        }
    )
    signing_key = f"e2e-{uuid.uuid4().hex}"
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": HUME_SECRET},
            # Hume itself is out of reach; the webhook signing key is what this run exercises.
            "stringData": {
                "HUME_API_KEY": "e2e-unused",
                "HUME_SECRET_KEY": "e2e-unused",
                "HUME_WEBHOOK_SIGNING_KEY": signing_key,
            },
        }
    )
    FIGURES.unlink(missing_ok=True)
    yield World(
        sandbox=real_sandbox,
        kube=real_kube,
        kubectl=kubectl,
        refs=dict(e2e_images),
        base_url=f"http://127.0.0.1:{ingress.DEFAULT_HTTP_PORT}",
        signing_key=signing_key,
    )
    # The stack's Ingress claims HOST: left behind, Traefik would split a later module's requests
    # between two stacks (test_tilt's socket was refused by the other stack's backend).
    kubectl.run(
        "delete", "namespace", STACK_NAMESPACE, "--wait=true", "--timeout=300s", namespaced=False
    )  # fmt: skip


def since(start: float) -> float:
    return round(time.monotonic() - start, 2)
