"""Print the DiminiStack operator's performance figures on the sandbox (issue 3, Performance).

    .venv/bin/python bench/operator/measure.py                  # all of it, about 5 minutes
    .venv/bin/python bench/operator/measure.py --stacks 0       # skip (e), about 2 minutes
    .venv/bin/python bench/operator/measure.py --only-stacks    # (e) only
    options: --runs 3 --heal-runs 3 --idle-seconds 60 --resync-seconds 10 --stacks 50
             --concurrency N (the operator's, for (e))

Starts the sandbox if needed (never stops it), applies the CRD, and works only in its own
namespaces (`bench-op-<id>`, `-floor`, `-many`; restricted Pod Security Standard) with its own
StorageClasses and pre-bound PersistentVolumes, all deleted at the end (also on Ctrl-C/SIGTERM).
The operator runs on the host (`python -m dimini_operator`, via the tests' `Operator` helper; its
log is in .sandbox/operator-test-logs/<namespace>.log). Times come from watches, measured from
the start of the `kubectl apply` command.

It prints, each beside its target (figures only, nothing is asserted; medians over --runs):
  (a) apply -> every child exists, and its ratio to `kubectl apply --server-side` of the same
      objects (`dimini_operator render --with-job`) into an empty namespace, the floor; also the
      ratio for the children that do not wait for Postgres and the migration Job;
  (b) apply -> Ready (condition, phase, observedGeneration), and where the time goes;
  (c) drift heal: backend Deployment deleted -> recreated (-> available, -> stack Ready);
  (d) write calls per idle minute of converged stacks (operator metrics; short safety timer, so
      the window holds reconciles);
  (e) N stacks (default 50) in one `kubectl apply` -> all Ready; the operator's peak RSS (VmHWM),
      reconciles, API calls, and CPU seconds by process (the machine is shared: "everything
      else" is other work on it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from dimini_operator import kinds, yamlout  # noqa: E402
from lightkube import ApiError, Client  # noqa: E402
from lightkube.codecs import from_dict  # noqa: E402
from lightkube.config.kubeconfig import KubeConfig  # noqa: E402
from lightkube.generic_resource import create_namespaced_resource  # noqa: E402
from lightkube.models.meta_v1 import ObjectMeta  # noqa: E402
from lightkube.resources.core_v1 import Namespace, Node, PersistentVolume  # noqa: E402
from lightkube.resources.storage_v1 import StorageClass  # noqa: E402

from sandbox import cluster  # noqa: E402
from sandbox import nodes as sandbox_nodes  # noqa: E402
from sandbox.nodes import client as sandbox_client  # noqa: E402
from tests.operator.integration.conftest import add_volume  # noqa: E402
from tests.operator.integration.support import CRD_FILE, Kubectl, Operator, sample  # noqa: E402
from tests.support.crds import wait_established  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

Key = tuple[str, str]  # (kind, name)
BENCH_LABEL = "dimini.io/bench"
POD_CAPACITY = 100  # of a simulated node: its 110 less a margin
# What "running" means for the floor of (e): each workload's own status, as Ready reads it.
RUNNING = {"StatefulSet": "readyReplicas", "Deployment": "availableReplicas", "Job": "succeeded"}
# What the watches follow: the stacks and every kind of child (the operator's registry).
KINDS: tuple[tuple[str, str, str, str], ...] = tuple(
    (k.group, k.version, k.kind, k.plural) for k in (kinds.STACK, *kinds.CHILDREN)
)
_RESOURCES: dict[str, Any] = {}  # lightkube allows one generic class per kind


class Interrupted(BaseException):  # not Exception: wait_for() swallows those
    pass


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


# ---------------------------------------------------------------------------------------------
# Watching a namespace


@dataclass
class Event:
    at: float
    type: str
    key: Key
    obj: dict[str, Any]


@dataclass
class NsWatch:
    """Watches in one namespace: every event with its arrival time (monotonic)."""

    kubeconfig: Path
    namespace: str
    kinds: tuple[str, ...] = tuple(k[2] for k in KINDS)
    events: list[Event] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    _ready: int = 0

    def start(self) -> NsWatch:
        for group, version, kind, plural in KINDS:
            if kind in self.kinds:
                if kind not in _RESOURCES:
                    _RESOURCES[kind] = create_namespaced_resource(group, version, kind, plural)
                res = _RESOURCES[kind]
                threading.Thread(target=self._run, args=(res, kind), daemon=True).start()
        with self.cond:
            self.cond.wait_for(lambda: self._ready == len(self.kinds), timeout=60)
        time.sleep(0.3)  # the watch requests follow the lists at once; let them connect
        return self

    def _run(self, res: Any, kind: str) -> None:
        client = Client(KubeConfig.from_file(self.kubeconfig))
        # List first, then watch from that resourceVersion: "ready" means the watch is about to
        # be (re)connected, so a later create arrives as a live event, not a replayed one.
        listed = client.list(res, namespace=self.namespace)
        for obj in listed:
            self._record("ADDED", kind, obj.to_dict())
        rv: str | None = listed.resourceVersion
        with self.cond:
            self._ready += 1
            self.cond.notify_all()
        while True:
            try:
                for op, obj in client.watch(res, namespace=self.namespace, resource_version=rv):
                    self._record(op, kind, obj.to_dict())
                    rv = None  # lightkube follows the resourceVersion itself from here
            except Exception:  # a dropped watch is retried; the bench goes on
                time.sleep(0.5)

    def _record(self, op: str, kind: str, obj: dict[str, Any]) -> None:
        now = time.monotonic()
        with self.cond:
            self.events.append(Event(now, op, (kind, obj["metadata"]["name"]), obj))
            self.cond.notify_all()

    def first(
        self, check: Callable[[Event], bool], since: float = 0.0, timeout: float = 120.0
    ) -> float:
        """Arrival time of the first event since `since` for which `check` holds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events:
                    if ev.at >= since and check(ev):
                        return ev.at
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("watch: condition not met in time")
                self.cond.wait(min(left, 1.0))

    def latest(self, key: Key, before: float) -> dict[str, Any] | None:
        """The object as last seen before `before` (None if never, or deleted)."""
        with self.cond:
            found: dict[str, Any] | None = None
            for ev in self.events:
                if ev.at > before:
                    break
                if ev.key == key:
                    found = None if ev.type == "DELETED" else ev.obj
            return found

    def all_seen(self, keys: set[Key], since: float, timeout: float) -> dict[Key, float]:
        """First ADDED/MODIFIED arrival of each key since `since` (waits until all are there)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                seen: dict[Key, float] = {}
                for ev in self.events:
                    if ev.at >= since and ev.type != "DELETED" and ev.key in keys:
                        seen.setdefault(ev.key, ev.at)
                if len(seen) == len(keys):
                    return seen
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"not seen: {sorted(keys - set(seen))}")
                self.cond.wait(min(left, 1.0))


def is_ready(obj: dict[str, Any]) -> bool:
    st = obj.get("status") or {}
    ready = [c for c in st.get("conditions") or [] if c.get("type") == "Ready"]
    return bool(
        ready
        and ready[0].get("status") == "True"
        and st.get("phase") == "Ready"
        and st.get("observedGeneration") == obj["metadata"].get("generation")
    )


def stack_ready_event(name: str) -> Callable[[Event], bool]:
    return lambda ev: ev.key == ("DiminiStack", name) and ev.type != "DELETED" and is_ready(ev.obj)


# ---------------------------------------------------------------------------------------------
# Namespaces, volumes, stacks


@dataclass
class Bench:
    sb: cluster.Sandbox
    kube: Client
    env: dict[str, str]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    namespaces: list[str] = field(default_factory=list)
    storage_classes: list[str] = field(default_factory=list)
    operators: list[Operator] = field(default_factory=list)
    extra_nodes: list[str] = field(default_factory=list)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-op-")))

    def namespace(self, suffix: str = "") -> str:
        name = f"bench-op-{self.run_id}{suffix}"
        labels = {
            BENCH_LABEL: "operator",
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
        }
        self.namespaces.append(name)
        self.kube.create(Namespace(metadata=ObjectMeta(name=name, labels=labels)))
        return name

    def storage_class(self, namespace: str) -> str:
        sc = f"{namespace}-local"
        self.storage_classes.append(sc)
        self.kube.apply(
            from_dict(
                {
                    "apiVersion": "storage.k8s.io/v1",
                    "kind": "StorageClass",
                    "metadata": {"name": sc, "labels": {"dimini.io/test": namespace}},
                    "provisioner": "kubernetes.io/no-provisioner",
                    "volumeBindingMode": "Immediate",
                    "reclaimPolicy": "Retain",
                }
            ),
            field_manager="dimini-bench",
        )
        return sc

    def capacity_for(self, pods: int) -> None:
        """Enough simulated nodes for `pods` (110 each): the sandbox's two hold 50 stacks, and a
        Pending pod would count against the operator and the floor alike. Removed at cleanup."""
        have = sandbox_nodes.ready_count(self.sb)
        need = -(-pods // POD_CAPACITY)
        if need <= have:
            return
        self.extra_nodes += [f"kwok-node-{i}" for i in range(have, need)]
        sandbox_nodes.register(self.sb, need)
        wait_for(
            f"{need} simulated nodes Ready", lambda: sandbox_nodes.ready_count(self.sb) >= need, 120
        )

    def operator(self, namespace: str, *args: str) -> Operator:
        op = Operator(self.env, namespace, *args)
        self.operators.append(op)
        op.start()
        wait_for("operator liveness", lambda: op.liveness() == 200, 60)
        time.sleep(2)  # kopf opens its watches after the startup handler
        return op

    def kubectl_apply(self, namespace: str, docs: list[dict[str, Any]], *args: str) -> float:
        """`kubectl apply` of `docs` from a file; returns when kubectl started (monotonic)."""
        path = self.tmp / f"{namespace}-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yamlout.dump_all(docs) or "")
        started = time.monotonic()
        # Applying 200 stacks on a loaded machine takes longer than kubectl's usual 60 s here.
        Kubectl(self.env, namespace).run("apply", *args, "-f", str(path), timeout=600)
        return started

    def cleanup(self) -> None:
        for op in self.operators:
            try:
                op.stop()
            except Exception as exc:  # go on cleaning up
                print(f"  (stopping an operator failed: {exc})", file=sys.stderr)
        for ns in self.namespaces:
            for pv in self.kube.list(PersistentVolume, labels={"dimini.io/test": ns}):
                if pv.metadata is not None and pv.metadata.name is not None:
                    self._quietly(partial(self.kube.delete, PersistentVolume, pv.metadata.name))
            self._quietly(partial(self.kube.delete, Namespace, ns))
        for sc in self.storage_classes:
            self._quietly(partial(self.kube.delete, StorageClass, sc))
        for node in self.extra_nodes:
            self._quietly(partial(self.kube.delete, Node, node))

    @staticmethod
    def _quietly(fn: Callable[[], object]) -> None:
        try:
            fn()
        except ApiError as exc:
            if exc.status.code != 404:
                print(f"  (cleanup: {exc.status.message})", file=sys.stderr)


def stack_doc(name: str, storage_class: str) -> dict[str, Any]:
    doc = sample(storage_class)
    doc["metadata"]["name"] = name
    doc["spec"]["ingress"]["host"] = f"{name}.dimini.localhost"
    return doc


def rendered(b: Bench, namespace: str, *docs: dict[str, Any]) -> list[dict[str, Any]]:
    """The operator's objects for the stacks (`dimini_operator render --with-job`), one call."""
    path = b.tmp / f"stacks-{docs[0]['metadata']['name']}-{len(docs)}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    cmd = [sys.executable, "-m", "dimini_operator", "render", str(path), "--namespace", namespace]
    out = subprocess.run(
        [*cmd, "--with-job"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def keys_of(docs: list[dict[str, Any]]) -> set[Key]:
    return {(d["kind"], d["metadata"]["name"]) for d in docs}


def ungated(keys: set[Key], stack: str) -> set[Key]:
    return {k for k in keys if k[0] != "Job" and k != ("Deployment", f"{stack}-backend")}


def vm_hwm_mib(op: Operator) -> float:
    assert op.proc is not None
    for line in Path(f"/proc/{op.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def histogram(op: Operator, name: str) -> tuple[float, float]:
    """(sum, count) of a histogram in the operator's metrics."""
    total = count = 0.0
    for line in op.metrics_text().splitlines():
        if line.startswith(f"{name}_sum"):
            total = float(line.split()[-1])
        elif line.startswith(f"{name}_count"):
            count = float(line.split()[-1])
    return total, count


def api_calls(op: Operator) -> dict[str, float]:
    """Calls by verb."""
    out: dict[str, float] = {}
    for verb in ("get", "list", "apply", "patch", "create", "delete"):
        out[verb] = op.counter("dimini_operator_api_calls", verb=verb)
    return out


def settle(op: Operator, quiet: float = 3.0, timeout: float = 60.0) -> None:
    """Until the operator's write counter has not moved for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = op.writes(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = op.writes()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    return (
        f"median {statistics.median(values):.2f} s "
        f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"
    )


def line(label: str, figure: str, target: str = "") -> None:
    print(f"  {label:<44} {figure:<44} {('target ' + target) if target else ''}".rstrip())


# ---------------------------------------------------------------------------------------------
# The measurements


@dataclass
class ApplyRun:
    children: float
    ungated: float
    ready: float
    milestones: dict[str, float]


def floor_runs(b: Bench, sc: str, runs: int) -> tuple[list[float], list[float]]:
    """kubectl apply --server-side of the rendered objects: all there, ungated ones there."""
    ns = b.namespace("-floor")
    watch = NsWatch(b.sb.kubeconfig, ns).start()
    total, first = [], []
    for i in range(1, runs + 1):
        name = f"f{i}"
        docs = rendered(b, ns, stack_doc(name, sc))
        keys = keys_of(docs)
        t0 = b.kubectl_apply(ns, docs, "--server-side")
        seen = watch.all_seen(keys, t0, 60)
        total.append(max(seen.values()) - t0)
        first.append(max(t for k, t in seen.items() if k in ungated(keys, name)) - t0)
    return total, first


def status_at_least(key: Key, field_: str, n: int = 1) -> Callable[[Event], bool]:
    return lambda ev: (
        ev.key == key and ev.type != "DELETED" and (ev.obj.get("status") or {}).get(field_, 0) >= n
    )


def one_apply(b: Bench, ns: str, sc: str, watch: NsWatch, name: str) -> ApplyRun:
    add_volume(b.kube, ns, sc, name)
    doc = stack_doc(name, sc)
    keys = keys_of(rendered(b, ns, doc))
    t0 = b.kubectl_apply(ns, [doc])
    seen = watch.all_seen(keys, t0, 180)
    ready = watch.first(stack_ready_event(name), t0, 180) - t0

    def at(check: Callable[[Event], bool]) -> float:
        return watch.first(check, t0, 5) - t0

    job = next(k for k in keys if k[0] == "Job")
    backend = ("Deployment", f"{name}-backend")
    first_wave = max(t for k, t in seen.items() if k in ungated(keys, name)) - t0
    milestones = {
        "stack stored (its ADDED event)": at(lambda ev: ev.key == ("DiminiStack", name)),
        "first child created": min(seen.values()) - t0,
        "all children but the Job and backend": first_wave,
        "postgres StatefulSet ready": at(
            status_at_least(("StatefulSet", f"{name}-postgres"), "readyReplicas")
        ),
        "migration Job created": seen[job] - t0,
        "migration Job succeeded": at(status_at_least(job, "succeeded")),
        "backend Deployment created": seen[backend] - t0,
        "backend Deployment available": at(status_at_least(backend, "availableReplicas")),
        "stack Ready": ready,
    }
    return ApplyRun(max(seen.values()) - t0, first_wave, ready, milestones)


def heal_runs(b: Bench, ns: str, op: Operator, watch: NsWatch, runs: int) -> list[list[float]]:
    """Per run: [deleted -> recreated, deleted -> available, deleted -> stack Ready again]."""
    out = []
    key = ("Deployment", "s1-backend")
    k = Kubectl(b.env, ns)
    for _ in range(runs):
        settle(op)
        mark = time.monotonic()
        k.run("delete", "deployment", key[1], "--wait=false")
        gone = watch.first(lambda ev: ev.key == key and ev.type == "DELETED", mark, 30)
        back = watch.first(lambda ev: ev.key == key and ev.type == "ADDED", gone, 60)
        avail = watch.first(
            lambda ev: (
                ev.key == key
                and ev.type != "DELETED"
                and (ev.obj.get("status") or {}).get("availableReplicas", 0) >= 1
            ),
            back,
            60,
        )
        # Ready again: at once if the stack's status never left Ready, else its next Ready.
        last = watch.latest(("DiminiStack", "s1"), avail)
        if last is not None and is_ready(last):
            ready = avail
        else:
            ready = watch.first(stack_ready_event("s1"), avail, 60)
        out.append([back - gone, avail - gone, ready - gone])
    return out


def idle_minute(op: Operator, seconds: float) -> tuple[float, float, float]:
    """(writes, child writes, reconciles) per minute of a settled operator."""
    settle(op, quiet=5)
    w0, c0, r0 = op.writes(), op.child_writes(), op.reconciles()
    time.sleep(seconds)
    w1, c1, r1 = op.writes(), op.child_writes(), op.reconciles()
    scale = 60 / seconds
    return (w1 - w0) * scale, (c1 - c0) * scale, (r1 - r0) * scale


@dataclass
class ManyRun:
    all_ready: float
    first_ready: float
    median_ready: float
    hwm_before: float
    hwm: float
    reconciles: float
    writes: float
    calls: dict[str, float]
    reconcile_mean: float
    cpu: dict[str, float]  # CPU seconds during the run, by process
    busy: float  # whole machine: busy CPU seconds during the run


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_process(b: Bench, op: Operator) -> dict[str, float]:
    """CPU seconds so far of the operator, this bench and each sandbox component."""
    assert op.proc is not None
    pids = {"operator": op.proc.pid, "bench": os.getpid(), **b.sb.pids()}
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def many_stacks(b: Bench, count: int, timeout: float, op_args: list[str]) -> ManyRun:
    ns = b.namespace("-many")
    sc = b.storage_class(ns)
    names = [f"m{i:02d}" for i in range(count)]
    for name in names:
        add_volume(b.kube, ns, sc, name)
    op = b.operator(ns, *op_args)
    watch = NsWatch(b.sb.kubeconfig, ns, kinds=("DiminiStack",)).start()
    hwm_before = vm_hwm_mib(op)
    calls0, r0, w0 = api_calls(op), op.reconciles(), op.writes()
    s0, n0 = histogram(op, "dimini_operator_reconcile_duration_seconds")
    cpu0, busy0 = cpu_by_process(b, op), machine_busy()
    t0 = b.kubectl_apply(ns, [stack_doc(name, sc) for name in names])
    readies = sorted(watch.first(stack_ready_event(n), t0, timeout) - t0 for n in names)
    cpu1, busy1 = cpu_by_process(b, op), machine_busy()
    hwm = vm_hwm_mib(op)
    calls1 = api_calls(op)
    s1, n1 = histogram(op, "dimini_operator_reconcile_duration_seconds")
    return ManyRun(
        all_ready=readies[-1],
        first_ready=readies[0],
        median_ready=statistics.median(readies),
        hwm_before=hwm_before,
        hwm=hwm,
        reconciles=op.reconciles() - r0,
        writes=op.writes() - w0,
        calls={v: calls1[v] - calls0[v] for v in calls1},
        reconcile_mean=(s1 - s0) / max(1.0, n1 - n0),
        cpu={k: cpu1[k] - cpu0[k] for k in cpu1},
        busy=busy1 - busy0,
    )


def pods_per_stack(b: Bench) -> int:
    """Pods one sample stack runs: its workloads' replicas and the migration Job's pod."""
    docs = rendered(b, "default", stack_doc("probe", "none"))
    return sum(int(d["spec"].get("replicas", 1)) for d in docs if d["kind"] in RUNNING)


def many_floor(b: Bench, count: int, timeout: float) -> tuple[float, float]:
    """The floor of (e): `kubectl apply --server-side` of the rendered objects of `count` stacks
    (Job included, nothing gated) -> every workload running. Returns (all running, median)."""
    ns = b.namespace("-many-floor")
    sc = b.storage_class(ns)
    names = [f"m{i:02d}" for i in range(count)]
    for name in names:
        add_volume(b.kube, ns, sc, name)
    docs = rendered(b, ns, *(stack_doc(name, sc) for name in names))
    # The render's owner is a placeholder uid no object has: the garbage collector deletes such
    # dependents (ServiceAccounts first, so no pod is ever admitted), which at 200 stacks, whose
    # apply takes minutes, happens before the workloads run. The floor applies them ownerless.
    for doc in docs:
        doc["metadata"].pop("ownerReferences", None)
    watch = NsWatch(b.sb.kubeconfig, ns, kinds=tuple(RUNNING)).start()
    t0 = b.kubectl_apply(ns, docs, "--server-side")
    per_stack: dict[str, float] = {}
    for kind, name in sorted(k for k in keys_of(docs) if k[0] in RUNNING):
        at = watch.first(status_at_least((kind, name), RUNNING[kind]), t0, timeout) - t0
        stack = next(n for n in names if name.startswith(f"{n}-"))
        per_stack[stack] = max(per_stack.get(stack, 0.0), at)
    done = sorted(per_stack.values())
    b.kube.delete(Namespace, ns)  # its watches and pods would weigh on the operator's run
    return done[-1], statistics.median(done)


def load() -> str:
    with open("/proc/loadavg") as fh:
        one, five, fifteen = fh.read().split()[:3]
    return f"load average {one} / {five} / {fifteen} (1/5/15 min)"


def measure(b: Bench, args: argparse.Namespace) -> None:
    k = Kubectl(b.env, "default")
    k.run("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE), namespaced=False)
    wait_established(b.env, "diministacks.dimini.io")
    k.run("get", "diministacks", "-A")  # warm kubectl's discovery cache for both sides

    print(f"operator bench on the sandbox, {load()}")
    if not args.only_stacks:
        single_stack(b, args)
    if args.stacks:
        many(b, args)
    print(f"done, {load()}")


def single_stack(b: Bench, args: argparse.Namespace) -> None:
    """(a) to (d)."""
    ns = b.namespace()
    sc = b.storage_class(ns)
    op = b.operator(ns, "--resync-seconds", str(args.resync_seconds))
    watch = NsWatch(b.sb.kubeconfig, ns).start()

    floor, floor_ungated = floor_runs(b, sc, args.runs)
    applies = [one_apply(b, ns, sc, watch, f"s{i}") for i in range(1, args.runs + 1)]
    children = [r.children for r in applies]
    ratio = statistics.median(children) / statistics.median(floor)
    ratio_ungated = statistics.median([r.ungated for r in applies]) / statistics.median(
        floor_ungated
    )
    print("(a) apply -> every child exists")
    line("kubectl apply --server-side (floor)", fmt(floor))
    line("operator", fmt(children))
    line("ratio operator / floor", f"{ratio:.1f}x", "<= 1.5")
    line("  same, without the Job and backend (gated)", f"{ratio_ungated:.1f}x")
    line("    floor for those", fmt(floor_ungated))
    line("    operator for those", fmt([r.ungated for r in applies]))
    print("(b) apply -> Ready")
    line("apply -> Ready", fmt([r.ready for r in applies]), "<= 10 s")
    print("    where the time goes (median seconds after `kubectl apply` started):")
    for label in applies[0].milestones:
        med = statistics.median(r.milestones[label] for r in applies)
        print(f"      {med:6.2f}  {label}")

    heals = heal_runs(b, ns, op, watch, args.heal_runs)
    print("(c) drift heal: backend Deployment deleted ->")
    line("recreated", fmt([h[0] for h in heals]), "<= 2 s")
    line("available again", fmt([h[1] for h in heals]))
    line("stack Ready again", fmt([h[2] for h in heals]))

    writes, child_writes, reconciles = idle_minute(op, args.idle_seconds)
    print(
        f"(d) idle, {args.runs} converged stack(s), safety timer {args.resync_seconds:g} s, "
        f"{args.idle_seconds:g} s window"
    )
    line("write calls per idle minute", f"{writes:g}", "0")
    line("  of which to children", f"{child_writes:g}")
    line("  reconciles per minute (reads only)", f"{reconciles:g}")
    line("operator peak RSS (VmHWM) so far", f"{vm_hwm_mib(op):.0f} MiB")
    op.stop()  # one operator at a time: the peak memory of (e) is its run's alone


def many(b: Bench, args: argparse.Namespace) -> None:
    """(e)."""
    print(f"(e) {args.stacks} stacks in one `kubectl apply`")
    op_args = ["--concurrency", str(args.concurrency)] if args.concurrency else []
    # The floor's pods are still going away while the operator's start: room for both.
    b.capacity_for(2 * pods_per_stack(b) * args.stacks)
    floor_all, floor_median = many_floor(b, args.stacks, args.many_timeout)
    m = many_stacks(b, args.stacks, args.many_timeout, op_args)
    line("kubectl apply --server-side, every workload running (floor)", f"{floor_all:.1f} s")
    line("  median stack running (floor)", f"{floor_median:.1f} s")
    line("apply -> all Ready", f"{m.all_ready:.1f} s", "<= 60 s")
    line("  ratio operator / floor", f"{m.all_ready / floor_all:.1f}x")
    line("  first / median stack Ready", f"{m.first_ready:.1f} s / {m.median_ready:.1f} s")
    line("operator peak RSS (VmHWM)", f"{m.hwm:.0f} MiB", "< 200 MiB")
    line("  VmHWM before the apply", f"{m.hwm_before:.0f} MiB")
    line("  reconciles / write calls", f"{m.reconciles:g} / {m.writes:g}")
    line("  mean reconcile duration", f"{m.reconcile_mean * 1000:.0f} ms")
    cores = os.cpu_count() or 1
    line("  machine busy", f"{m.busy:.0f} CPU-s of {m.all_ready * cores:.0f} ({cores} cores)")
    rest = m.busy - sum(m.cpu.values())
    parts = [*sorted(m.cpu.items(), key=lambda kv: -kv[1]), ("everything else", rest)]
    line("  CPU-s by process", ", ".join(f"{k} {v:.0f}" for k, v in parts))
    line("  API calls by verb", json.dumps({k: int(v) for k, v in m.calls.items() if v}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="repetitions of (a) and (b)")
    parser.add_argument("--heal-runs", type=int, default=3, help="repetitions of (c)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="window of (d)")
    parser.add_argument(
        "--resync-seconds",
        type=float,
        default=10.0,
        help="operator safety timer for (a)-(d), so the idle window holds reconciles",
    )
    parser.add_argument("--stacks", type=int, default=50, help="stacks in (e); 0 skips it")
    parser.add_argument("--only-stacks", action="store_true", help="run (e) only")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="operator --concurrency for (e) (default: the operator's own default)",
    )
    parser.add_argument(
        "--many-timeout", type=float, default=600.0, help="give up on (e) after this"
    )
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sb = cluster.up()
    b = Bench(sb, sandbox_client(sb), sb.env())
    interrupted = False
    try:
        measure(b, args)
    except Interrupted as exc:
        print(f"interrupted ({exc}); cleaning up", file=sys.stderr)
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        b.cleanup()
    if interrupted:
        sys.exit(130)


if __name__ == "__main__":
    main()
