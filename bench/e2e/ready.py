"""Real pods: apply -> Ready and pod kill -> /ready 200, each beside its floor, and where the time
goes (issue 18). Prints figures only; asserts nothing.

    make images    # once: the images' cold build is not in the figures
    flock /tmp/dimini-real-node.lock .venv/bin/python bench/e2e/ready.py [--runs 3]

Starts the real-node sandbox in .sandbox-e2e if it is not running (and stops it again at the end
unless it was), installs Traefik and the operator's chart as `make e2e` does, then per run, in a
fresh namespace each:
  - figure "new stack": `kubectl apply` of the sample DiminiStack -> /ready 200 through the
    Ingress (Postgres initdb, the migration Job, the backend and frontend, the route);
  - figure "data in place": the stack deleted (Retain keeps its volume) and applied again;
  - figure "pod kill": the backend and Postgres pods deleted with no grace period -> /ready 200;
  - floors: the same three with `kubectl apply --server-side` of the operator's rendered objects
    (`dimini_operator render --with-job`, no owner) under another host name: no operator, no
    gating (everything starts at once).
Each row is a median over --runs with its floor's and the ratio; the breakdown lists when each
step was first seen (polled every 0.2 s from the API server), from the median run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from dimini_operator.specs.common import LABEL_COMPONENT, LABEL_INSTANCE  # noqa: E402
from lightkube import Client  # noqa: E402
from lightkube.resources.batch_v1 import Job  # noqa: E402
from lightkube.resources.core_v1 import Pod  # noqa: E402

import images  # noqa: E402
from images import traefik as traefik_image  # noqa: E402
from sandbox import cluster, ingress  # noqa: E402
from sandbox.nodes import client as sandbox_client  # noqa: E402
from tests.e2e.conftest import APP_IMAGES, HUME_SECRET, install_operator, stack_manifest  # noqa: E402
from tests.operator.integration.support import STACK, Kubectl, stack_ready  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

ROOT = REPO / ".sandbox-e2e"
FIGURE_HOST = "bench.localhost"
FLOOR_HOST = "floor.localhost"
POLL = 0.2
TIMEOUT = 300.0
Timeline = dict[str, float]


class Watcher:
    """When each step of a stack's start was first seen: pods per component (created, scheduled,
    containers started, ready or succeeded), the migration Job's completion, the stack's Ready."""

    def __init__(self, kube: Client, kubectl: Kubectl, namespace: str, operator: bool) -> None:
        self.kube, self.kubectl, self.namespace, self.operator = kube, kubectl, namespace, operator
        self.start = time.monotonic()
        self.seen: Timeline = {}
        self.ignore: set[str] = set()  # pods of before the step (a pod kill's victims)
        self.failed_polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self.ignore = {
            p.metadata.uid or ""
            for p in self.kube.list(Pod, namespace=self.namespace)
            if p.metadata
        }
        self.start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()  # what happened since the last poll (a pod's ready just before /ready)

    def mark(self, step: str) -> None:
        self.seen.setdefault(step, round(time.monotonic() - self.start, 2))

    def _run(self) -> None:
        while not self._stop.wait(POLL):
            self._poll()

    def _poll(self) -> None:
        try:
            self._observe()
        except Exception:  # a poll that fails (API server busy) only loses a sample
            self.failed_polls += 1

    def _observe(self) -> None:
        for pod in self.kube.list(Pod, namespace=self.namespace):
            if not pod.metadata or pod.metadata.uid in self.ignore:
                continue
            labels = pod.metadata.labels or {}
            who = labels.get(LABEL_COMPONENT, "pod")
            self.mark(f"{who}: pod created")
            status = pod.status
            conditions = {c.type: c.status for c in (status.conditions or [])} if status else {}
            if conditions.get("PodScheduled") == "True":
                self.mark(f"{who}: scheduled")
            containers = (status.containerStatuses or []) if status else []
            if containers and all(
                c.state and (c.state.running or c.state.terminated) for c in containers
            ):
                self.mark(f"{who}: containers started")
            if conditions.get("Ready") == "True":
                self.mark(f"{who}: ready")
            if status and status.phase == "Succeeded":
                self.mark(f"{who}: succeeded")
        if job_done(self.kube, self.namespace):
            self.mark("migration Job complete")
        if self.operator and stack_ready(self.kubectl):
            self.mark("stack Ready")


def answers(host: str) -> Callable[[], bool]:
    url = f"http://127.0.0.1:{ingress.DEFAULT_HTTP_PORT}/ready"

    def check() -> bool:
        try:
            return httpx.get(url, headers={"Host": host}, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def is_backend(doc: dict[str, Any]) -> bool:
    labels = doc["metadata"].get("labels") or {}
    return bool(labels.get(LABEL_COMPONENT) == "backend")


def job_done(kube: Client, namespace: str) -> bool:
    return any(j.status and j.status.succeeded for j in kube.list(Job, namespace=namespace))


def pods_gone(k: Kubectl) -> None:
    gone = lambda: not k.list("pod", f"{LABEL_INSTANCE}={STACK}")  # noqa: E731
    wait_for(f"the stack's pods in {k.namespace} gone", gone, TIMEOUT, interval=0.5)


def until_ready(w: Watcher, host: str) -> float:
    wait_for(f"/ready 200 at {host}", answers(host), TIMEOUT, interval=0.1)
    w.mark("/ready 200 through the Ingress")
    return w.seen["/ready 200 through the Ingress"]


class Bench:
    def __init__(self, sb: cluster.Sandbox, refs: dict[str, str], tmp: Path) -> None:
        self.sb, self.refs, self.tmp = sb, refs, tmp
        self.kube = sandbox_client(sb)

    def namespace(self, name: str) -> Kubectl:
        k = Kubectl(self.sb.env(), name)
        k.apply(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
                },
            }
        )
        k.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": HUME_SECRET},
                "stringData": {
                    "HUME_API_KEY": "unused",
                    "HUME_SECRET_KEY": "unused",
                    "HUME_WEBHOOK_SIGNING_KEY": uuid.uuid4().hex,
                },
            }
        )
        return k

    def drop(self, k: Kubectl) -> None:
        k.run("delete", "namespace", k.namespace, "--wait=true", "--timeout=300s",
              namespaced=False, timeout=330)  # fmt: skip

    def stack(self, host: str) -> dict[str, Any]:
        doc = stack_manifest(self.refs)
        doc["spec"]["ingress"]["host"] = host
        doc["spec"].pop("observability", None)  # no Prometheus CRDs in this bench
        return doc

    def rendered(self, namespace: str) -> list[dict[str, Any]]:
        """The operator's objects for the floor's stack, with no owner (nothing to collect them)."""
        path = self.tmp / f"{namespace}.yaml"
        path.write_text(yaml.safe_dump(self.stack(FLOOR_HOST)))
        out = subprocess.run(
            [sys.executable, "-m", "dimini_operator", "render", str(path), "--namespace",
             namespace, "--with-job"],
            capture_output=True, text=True, check=True, cwd=REPO,
        ).stdout  # fmt: skip
        docs = [d for d in yaml.safe_load_all(out) if d]
        for d in docs:
            d["metadata"].pop("ownerReferences", None)
        return docs

    def apply_floor(self, k: Kubectl, docs: list[dict[str, Any]]) -> None:
        path = self.tmp / f"{k.namespace}-apply.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        k.run("apply", "--server-side", "--force-conflicts", "--field-manager", "floor",
              "-f", str(path))  # fmt: skip

    def apply_in_order(self, k: Kubectl, docs: list[dict[str, Any]]) -> None:
        """What a script of `kubectl apply` and waits (polled every 0.1 s) would do for a new
        stack: everything but the migration Job and the backend, the Job once Postgres is
        ready, the backend once the Job is done."""
        job = [d for d in docs if d["kind"] == "Job"]
        backend = [d for d in docs if d["kind"] == "Deployment" and is_backend(d)]
        self.apply_floor(k, [d for d in docs if d not in job and d not in backend])
        wait_for("Postgres ready", lambda: self.ready(k, "postgres"), TIMEOUT, interval=0.1)
        self.apply_floor(k, job)
        wait_for("the Job done", lambda: job_done(self.kube, k.namespace), TIMEOUT, interval=0.1)
        self.apply_floor(k, backend)

    def ready(self, k: Kubectl, component: str) -> bool:
        pods = self.kube.list(Pod, namespace=k.namespace, labels={LABEL_COMPONENT: component})
        return any(
            c.type == "Ready" and c.status == "True"
            for p in pods
            for c in ((p.status.conditions or []) if p.status else [])
        )

    def kill(self, k: Kubectl) -> None:
        for component in ("backend", "postgres"):
            k.run("delete", "pod", "-l", f"{LABEL_COMPONENT}={component}",
                  "--grace-period=0", "--force", "--wait=false")  # fmt: skip

    def timed(self, k: Kubectl, host: str, action: Callable[[], object]) -> Timeline:
        """`action`, then the steps seen until /ready answers 200 at `host`."""
        operator = host == FIGURE_HOST  # the floor has no DiminiStack to read
        with Watcher(self.kube, k, k.namespace, operator=operator) as w:
            action()
            until_ready(w, host)
        return w.seen

    def run_figure(self, i: int) -> dict[str, Timeline]:
        k = self.namespace(f"bench-ready-{i}")
        out: dict[str, Timeline] = {}
        try:
            out["new stack"] = self.timed(k, FIGURE_HOST, lambda: k.apply(self.stack(FIGURE_HOST)))
            out["pod kill"] = self.timed(k, FIGURE_HOST, lambda: self.kill(k))
            k.run("delete", "diministack", STACK, "--wait=true")
            pods_gone(k)
            reapply = lambda: k.apply(self.stack(FIGURE_HOST))  # noqa: E731
            out["data in place"] = self.timed(k, FIGURE_HOST, reapply)
        finally:
            self.drop(k)
        return out

    def run_floor(self, i: int) -> dict[str, Timeline]:
        k = self.namespace(f"bench-ready-floor-{i}")
        docs = self.rendered(k.namespace)
        out: dict[str, Timeline] = {}
        try:
            out["new stack"] = self.timed(k, FLOOR_HOST, lambda: self.apply_in_order(k, docs))
            out["pod kill"] = self.timed(k, FLOOR_HOST, lambda: self.kill(k))
            # Everything but the data (the volume claim) and the Secrets, as Retain leaves it.
            kept = ("PersistentVolumeClaim", "Secret", "Namespace")
            for d in docs:
                if d["kind"] not in kept:
                    k.run("delete", d["kind"].lower(), d["metadata"]["name"], "--wait=true",
                          "--ignore-not-found")  # fmt: skip
            pods_gone(k)
            # Data and schema in place: no migration, everything at once.
            no_job = [d for d in docs if d["kind"] != "Job"]
            out["data in place"] = self.timed(k, FLOOR_HOST, lambda: self.apply_floor(k, no_job))
        finally:
            self.drop(k)
        return out


def median_run(runs: list[Timeline]) -> Timeline:
    total = "/ready 200 through the Ingress"
    ordered = sorted(runs, key=lambda t: t[total])
    return ordered[len(ordered) // 2]


def report(figures: list[dict[str, Timeline]], floors: list[dict[str, Timeline]]) -> None:
    total = "/ready 200 through the Ingress"
    print("\n| step | figure (median s) | floor (median s) | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    targets = {"new stack": "<= 10 s", "data in place": "<= 10 s", "pod kill": "<= 3 s"}
    for step, target in targets.items():
        fig = statistics.median(r[step][total] for r in figures)
        flo = statistics.median(r[step][total] for r in floors)
        print(f"| {step}: -> /ready 200 | {fig:.1f} | {flo:.1f} | {fig / flo:.2f} | {target} |")
    for step in targets:
        print(f"\nWhere the time goes, {step} (median run; seconds from the apply or the kill):")
        f_run, b_run = median_run([r[step] for r in figures]), median_run([r[step] for r in floors])
        for name in sorted(set(f_run) | set(b_run), key=lambda n: f_run.get(n, b_run.get(n, 0.0))):
            print(f"  {name:45s} {f_run.get(name, '-')!s:>7} {b_run.get(name, '-')!s:>7}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    was_running = cluster.Sandbox(ROOT).is_running()
    sb = cluster.up(ROOT, nodes=0, real_node=True)
    try:
        refs = {name: images.build(name) for name in APP_IMAGES}
        refs["traefik"] = traefik_image.build()
        for ref in refs.values():
            images.load(ref, sb.containerd_socket)
        ingress.install(sandbox_client(sb), refs["traefik"], gateway_api=False)
        install_operator(sb, str(cluster.binaries() / "helm"), refs["operator"])
        tmp = REPO / ".sandbox-e2e" / "bench-ready"
        tmp.mkdir(parents=True, exist_ok=True)
        b = Bench(sb, refs, tmp)
        figures, floors = [], []
        for i in range(args.runs):
            # Alternated, so that load from outside falls on both alike.
            figures.append(b.run_figure(i))
            floors.append(b.run_floor(i))
            print(f"run {i + 1}/{args.runs} done", flush=True)
        report(figures, floors)
    finally:
        if not was_running:
            cluster.down(sb.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
