"""The developer loop for real: `tilt ci` (the real Tilt, tests' own Tiltfile: the repository's)
brings the whole stack up on the sandbox's real node without Docker — images by
`python -m images tilt` (buildah into the node's containerd), the operator from its chart, the
DiminiStack waited for until Ready — then a therapist's flow passes through the Ingress. During
`tilt up`, a backend save runs in the same pod, a frontend save shows in an open Chromium page by
HMR, and a backend/pyproject.toml change rolls a new image. `tilt down` leaves nothing behind (the
dev stack's deletionPolicy is Delete). Last, `make dev` itself reaches a Ready stack and prints
its URL.

Skipped, saying how to install Tilt, when there is no Tilt binary (sandbox/tilt.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dimini_operator.specs.common import LABEL_COMPONENT, LABEL_INSTANCE
from lightkube import Client

import images
from bench.devloop import tilt_loop
from images import traefik as traefik_image
from sandbox import cluster, ingress, tilt
from tests.e2e.dimini_client import DiminiClient
from tests.e2e.flow import therapist_flow
from tests.operator.integration.support import Kubectl
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

NAMESPACE = "dimini-dev"  # the Tiltfile's
STACK = "dimini"
HOST = "dimini.localhost"
HUME_SECRET = "dimini-hume"
TILTFILE_ARGS = ("--builder=buildah", f"--hume-secret={HUME_SECRET}")
PYPROJECT = cluster.REPO / "backend" / "pyproject.toml"
FRONTEND_HMR = cluster.REPO / "bench" / "devloop" / "frontend_hmr.mjs"
CI_TIMEOUT = "20m"  # cold: the backend, frontend (next dev stage), operator and Postgres images


@dataclass
class TiltRun:
    sandbox: cluster.Sandbox
    kubectl: Kubectl
    tilt: Path
    env: dict[str, str]
    signing_key: str

    def run(self, *args: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.tilt), *args],
            cwd=cluster.REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tilt_binary() -> Path:
    path = tilt.find()
    if path is None:
        pytest.skip(tilt.INSTALL_HINT)
    return path


@pytest.fixture(scope="module")
def tilt_run(
    tilt_binary: Path, real_sandbox: cluster.Sandbox, real_kube: Client
) -> Iterator[TiltRun]:
    traefik = traefik_image.build()
    images.load(traefik, real_sandbox.containerd_socket)
    ingress.install(real_kube, traefik)
    kubectl = Kubectl(real_sandbox.env(), NAMESPACE)
    listed = kubectl.run("get", "ingress", "-A", "-o", "json", namespaced=False).stdout
    claims = [
        f"{i['metadata']['namespace']}/{i['metadata']['name']}"
        for i in json.loads(listed)["items"]
        if i["metadata"]["namespace"] != NAMESPACE
        and any(r.get("host") == HOST for r in i["spec"].get("rules", []))
    ]
    # Two Ingresses for one host: Traefik would send this flow's requests to either stack.
    assert not claims, f"another stack's Ingress claims {HOST}: {claims}"
    kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    signing_key = f"tilt-{uuid.uuid4().hex}"
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": HUME_SECRET},
            # Hume itself is out of reach; the webhook signing key is what this run exercises.
            "stringData": {
                "HUME_API_KEY": "tilt-unused",
                "HUME_SECRET_KEY": "tilt-unused",
                "HUME_WEBHOOK_SIGNING_KEY": signing_key,
            },
        }
    )
    env = {
        **real_sandbox.env(),
        # `python -m images tilt` loads into this sandbox's node; the host operator uses this venv.
        "DIMINI_SANDBOX_DIR": str(real_sandbox.root),
        "DIMINI_PYTHON": sys.executable,
    }
    run = TiltRun(real_sandbox, kubectl, tilt_binary, env, signing_key)
    yield run
    # Whatever a failed step left: the next run starts clean.
    run.run("down", "--", *TILTFILE_ARGS, timeout=300)


def test_1_tilt_ci_brings_the_stack_to_ready_on_the_real_node(tilt_run: TiltRun) -> None:
    proc = tilt_run.run(
        "ci",
        "--timeout",
        CI_TIMEOUT,
        "--port",
        str(_free_port()),
        "--",
        *TILTFILE_ARGS,
    )
    assert proc.returncode == 0, f"tilt ci failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    stack = tilt_run.kubectl.get("diministack", STACK)
    assert stack, "the DiminiStack Tilt applied"
    ready = [c for c in stack["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True", stack["status"]
    # Tilt's images, built by buildah, are what runs: their refs are Tilt's, not the aliases.
    assert stack["spec"]["backend"]["image"].startswith("dimini-backend:tilt-")
    assert stack["spec"]["postgres"]["image"].startswith("dimini-postgres:tilt-")


def test_2_a_therapist_works_through_the_ingress(tilt_run: TiltRun) -> None:
    base_url = f"http://127.0.0.1:{ingress.DEFAULT_HTTP_PORT}"
    with DiminiClient(base_url, HOST, timeout=15) as c:
        wait_for("backend /ready through the Ingress", lambda: _ready(c), 120, interval=0.5)
        therapist_flow(c, tilt_run.signing_key, "Tilt")

    # `next dev` compiles a page on its first request (tens of seconds here): a patient client.
    with DiminiClient(base_url, HOST, timeout=300) as slow:
        page = slow.page("/")
    assert page.status_code == 200 and "Dimini" in page.text


def _ready(c: DiminiClient) -> bool:
    try:
        return c.ready() == 200
    except Exception:  # the Ingress route or the pod is not there yet
        return False


def test_3_host_operator_mode_pauses_the_cluster_operator(tilt_run: TiltRun) -> None:
    proc = tilt_run.run(
        "ci", "--timeout", CI_TIMEOUT, "--port", str(_free_port()), "--", *TILTFILE_ARGS,
        "--operator=host",
    )  # fmt: skip
    assert proc.returncode == 0, f"tilt ci (host) failed:\n{proc.stdout[-6000:]}"
    operator = tilt_run.kubectl.run(
        "get", "deployment/dimini-operator", "-n", "dimini-system", "-o",
        "jsonpath={.spec.replicas}/{.status.replicas}", namespaced=False,
    ).stdout  # fmt: skip
    assert operator in ("0/", "0/0"), f"the in-cluster operator still runs: {operator}"
    lease = tilt_run.kubectl.run(
        "get", "lease/dimini-operator", "-n", "dimini-system", "-o",
        "jsonpath={.spec.holderIdentity}", namespaced=False,
    ).stdout  # fmt: skip
    assert not lease.startswith("dimini-operator-"), f"the Lease is still the pod's: {lease}"
    stack = tilt_run.kubectl.get("diministack", STACK)
    assert stack
    ready = [c for c in stack["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True", stack["status"]


def test_4_during_tilt_up_edits_run_live_and_a_dependency_change_rolls(tilt_run: TiltRun) -> None:
    port = str(_free_port())
    up = subprocess.Popen(
        [str(tilt_run.tilt), "up", "--stream", "--port", port, "--",
         *TILTFILE_ARGS],
        cwd=cluster.REPO, env=tilt_run.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    original = tilt_loop.INIT.read_text()
    pyproject = PYPROJECT.read_text()
    # Its mtime too: make's venv target depends on it, and would reinstall after this test.
    pyproject_times = (PYPROJECT.stat().st_atime_ns, PYPROJECT.stat().st_mtime_ns)
    base_url = f"http://127.0.0.1:{ingress.DEFAULT_HTTP_PORT}"
    try:
        # `tilt wait` needs the resource to exist: tilt up has it once the Tiltfile is loaded.
        wait_for("stack-ready in tilt up", lambda: tilt_run.run(
            "get", "uiresource", "stack-ready", "--port", port, timeout=30).returncode == 0,
            120, interval=0.5)  # fmt: skip
        waited = tilt_run.run(
            "wait", "--for=condition=Ready", "uiresource/stack-ready", "--port", port,
            "--timeout", "900s",
        )  # fmt: skip
        assert waited.returncode == 0, waited.stderr[-3000:]
        # tilt up built new refs: the stack rolls to them before the edit is measured.
        tilt_run.kubectl.run("rollout", "status", "deploy/dimini-backend", "--timeout=300s")
        wait_for("the backend through the Ingress", lambda: tilt_loop.health_version(base_url), 120)
        before = wait_for("one backend pod", lambda: _pod_uid(tilt_run.kubectl, "backend"), 180)
        run = tilt_loop.save_to_running(tilt_run.env, base_url, "0.0.777", original)
        assert tilt_loop.health_version(base_url) == "0.0.777"
        assert _pod_uid(tilt_run.kubectl, "backend") == before, "live update, not a new pod"
        print(f"backend save -> running via tilt: {run}")
        _frontend_edit_updates_the_open_page(tilt_run)
        _dependency_change_rolls_a_new_image(tilt_run, base_url, before)
    finally:
        # Tilt first: a restore it saw would start one more image build, killed mid-way.
        up.terminate()
        up.wait(60)
        tilt_loop.INIT.write_text(original)
        PYPROJECT.write_text(pyproject)
        os.utime(PYPROJECT, ns=pyproject_times)


def _pod_uid(kubectl: Kubectl, component: str) -> str | None:
    """The one pod's UID of `component`, None while a roll still has an old one going away (a
    terminating pod still answers through the Ingress until its endpoint is gone)."""
    selector = f"{LABEL_INSTANCE}={STACK},{LABEL_COMPONENT}={component}"
    found = kubectl.list("pod", selector)
    if len(found) != 1 or found[0]["metadata"].get("deletionTimestamp"):
        return None
    return str(found[0]["metadata"]["uid"])


def _frontend_edit_updates_the_open_page(tilt_run: TiltRun) -> None:
    """A component saved on the host shows in the open Chromium page by HMR: synced by Tilt into
    the pod's `next dev`, without a reload of the page or a new pod."""
    before = wait_for("one frontend pod", lambda: _pod_uid(tilt_run.kubectl, "frontend"), 180)
    url = f"http://{HOST}:{ingress.DEFAULT_HTTP_PORT}"  # Chromium resolves *.localhost itself
    hmr = subprocess.run(
        ["node", str(FRONTEND_HMR), "--url", url, "--runs", "1"],
        cwd=cluster.REPO, env=tilt_run.env, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert hmr.returncode == 0, (
        f"the page did not update by HMR:\n{hmr.stdout}\n{hmr.stderr[-4000:]}"
    )
    print(hmr.stdout.strip())
    assert _pod_uid(tilt_run.kubectl, "frontend") == before, "HMR, not a new pod"


def _dependency_change_rolls_a_new_image(tilt_run: TiltRun, base_url: str, pod: str) -> None:
    """backend/pyproject.toml is a fall_back_on path: a new image is built, Tilt applies its ref
    to the stack, and the operator rolls the backend to a new pod that answers."""
    image = _stack_backend_image(tilt_run.kubectl)
    PYPROJECT.write_text(PYPROJECT.read_text() + f"# tilt e2e {uuid.uuid4().hex}\n")

    def new_image() -> str | None:
        ref = _stack_backend_image(tilt_run.kubectl)
        return ref if ref != image else None

    rebuilt = wait_for("a new backend image in the stack", new_image, 900, interval=1)
    wait_for("the stack Ready on the new image", lambda: _ready_on(tilt_run.kubectl, rebuilt), 600)

    def new_pod() -> str | None:
        uid = _pod_uid(tilt_run.kubectl, "backend")
        return uid if uid != pod else None

    wait_for("the backend rolled to a new pod", new_pod, 300)
    wait_for("the backend through the Ingress", lambda: tilt_loop.health_version(base_url), 120)


def _stack_backend_image(kubectl: Kubectl) -> str:
    stack = kubectl.get("diministack", STACK)
    assert stack, "the DiminiStack Tilt applied"
    return str(stack["spec"]["backend"]["image"])


def _ready_on(kubectl: Kubectl, image: str) -> bool:
    stack = kubectl.get("diministack", STACK)
    if not stack or stack["spec"]["backend"]["image"] != image:
        return False
    status = stack.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c["type"] == "Ready"]
    return (
        bool(ready)
        and ready[0]["status"] == "True"
        and status.get("observedGeneration") == stack["metadata"]["generation"]
    )


def test_5_tilt_down_leaves_nothing_behind(tilt_run: TiltRun) -> None:
    proc = tilt_run.run("down", "--", *TILTFILE_ARGS, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    def gone() -> bool:
        left = [
            kind
            for kind in ("pod", "statefulset", "deployment", "service", "pvc", "job", "ingress")
            if tilt_run.kubectl.list(kind)
        ]
        return not left

    # deletionPolicy: Delete (the dev sample): the database volume goes with the stack.
    wait_for("the dev namespace empty after tilt down", gone, 180, interval=1)
    assert not tilt_run.kubectl.run(
        "get", "deployment", "-n", "dimini-system", "-o", "name", namespaced=False
    ).stdout.strip(), "the operator Tilt installed"


# What the Tiltfile's stack-ready prints once the stack is Ready, as `tilt up --stream` shows it:
# "  stack-ready │ Dimini is Ready: <url>" (its "Running cmd: … echo '…'" line comes first).
READY_LINE = re.compile(r"stack-ready\s*│ Dimini is Ready: (\S+)\s*$")


def test_6_make_dev_without_docker_reaches_a_ready_stack_and_prints_its_url(
    tilt_run: TiltRun,
) -> None:
    """`make dev` as a developer runs it on this machine (no Docker daemon, root): it takes the
    sandbox path (reusing this module's running real-node sandbox through DIMINI_SANDBOX_DIR),
    runs `tilt up`, and prints the URL once the stack is Ready; the URL answers."""
    dev = subprocess.Popen(
        ["make", "dev"], cwd=cluster.REPO, env=tilt_run.env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, encoding="utf-8", errors="replace", start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []

    def read() -> None:
        for line in dev.stdout or []:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()

    def printed_url_or_exited() -> str | None:
        found = [m.group(1) for line in lines if (m := READY_LINE.search(line))]
        if found:
            return found[0]
        return "" if dev.poll() is not None else None  # "" : make dev ended without it

    try:
        url = wait_for("make dev to print the URL", printed_url_or_exited, 900, interval=0.5)
        said = "".join(lines)
        assert url, f"make dev ended (exit {dev.returncode}) without a Ready stack:\n{said[-6000:]}"
        assert "make dev: the sandbox with its real node" in said, "it says which path and why"
        assert url == f"http://{HOST}:{ingress.DEFAULT_HTTP_PORT}"
        with DiminiClient(f"http://127.0.0.1:{ingress.DEFAULT_HTTP_PORT}", HOST) as c:
            assert c.ready() == 200, "the printed URL's stack answers through the Ingress"
    finally:
        # Tilt replaced make's recipe process; the group holds make and Tilt.
        os.killpg(dev.pid, signal.SIGTERM)
        dev.wait(60)
