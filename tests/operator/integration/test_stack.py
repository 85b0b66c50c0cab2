"""Acceptance 1, 2, 3, 7, 8, 9 and 10 of issue 3, against the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from dimini_operator import kinds

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import (
    STACK,
    Kubectl,
    Operator,
    env_flag,
    sample,
    stack_ready,
)
from tests.operator.pss import pod_spec_of, restricted_violations
from tests.support.waiting import holds_for, wait_for

pytestmark = pytest.mark.sandbox


LABELS = {
    "app.kubernetes.io/name": "dimini",
    "app.kubernetes.io/instance": STACK,
    "app.kubernetes.io/part-of": "dimini",
    "app.kubernetes.io/managed-by": "dimini-operator",
}
# (kind, name, owned by the stack) for every child of the design.
CHILDREN = [
    ("secret", f"{STACK}-db", False),  # deletionPolicy Retain: outlives the stack
    ("secret", f"{STACK}-app", True),
    ("secret", f"{STACK}-connection", True),
    ("serviceaccount", f"{STACK}-postgres", True),
    ("serviceaccount", f"{STACK}-backend", True),
    ("serviceaccount", f"{STACK}-frontend", True),
    ("statefulset", f"{STACK}-postgres", True),
    ("service", f"{STACK}-postgres", True),
    ("service", f"{STACK}-postgres-headless", True),
    ("networkpolicy", f"{STACK}-postgres", True),
    ("deployment", f"{STACK}-backend", True),
    ("service", f"{STACK}-backend", True),
    ("deployment", f"{STACK}-frontend", True),
    ("service", f"{STACK}-frontend", True),
    ("ingress", STACK, True),
]


def up(ns: StackNs, **overrides: Any) -> dict[str, Any]:
    ns.k.apply(sample(ns.storage_class, **overrides))
    return wait_for("stack Ready", lambda: stack_ready(ns.k), 60)


def credentials(k: Kubectl) -> tuple[str | None, str | None]:
    return k.secret_value(f"{STACK}-db", "password"), k.secret_value(f"{STACK}-app", "SECRET_KEY")


def test_sample_becomes_ready_with_every_child(stack_ns: StackNs, operator: Operator) -> None:
    """Acceptance 1: Ready within 60 s; children with owners and labels; pods admitted."""
    k = stack_ns.k
    ns_obj = k.run("get", "namespace", stack_ns.name, "-o", "json", namespaced=False).stdout
    assert (
        json.loads(ns_obj)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        == "restricted"
    )
    stack = up(stack_ns)
    uid = stack["metadata"]["uid"]
    conds = {c["type"]: c for c in stack["status"]["conditions"]}
    for t in (
        "Ready",
        "DatabaseReady",
        "MigrationsApplied",
        "BackendReady",
        "FrontendReady",
        "IngressReady",
    ):
        assert conds[t]["status"] == "True", conds[t]
        assert conds[t]["observedGeneration"] == stack["metadata"]["generation"]
        assert conds[t]["lastTransitionTime"]
    assert conds["Degraded"]["status"] == "False"
    assert stack["status"]["url"] == "http://dimini.localhost"
    # kopf keeps no state on the object: no finalizers, no kopf annotations.
    assert not stack["metadata"].get("finalizers")
    assert not [a for a in stack["metadata"].get("annotations") or {} if "kopf" in a]

    for kind, name, owned in CHILDREN:
        obj = k.get(kind, name)
        assert obj is not None, f"{kind}/{name} missing"
        labels = obj["metadata"].get("labels") or {}
        expected = dict(LABELS)
        if not owned:
            # Retained, so ownerless: tied to the stack by dimini.io/stack, never by the
            # instance label Argo CD < 3.0 tracks (it would prune it), and marked Prune=false.
            del expected["app.kubernetes.io/instance"]
            expected["dimini.io/stack"] = STACK
            assert "app.kubernetes.io/instance" not in labels, (kind, name)
            annotations = obj["metadata"].get("annotations") or {}
            assert "Prune=false" in annotations["argocd.argoproj.io/sync-options"]
        for key, value in expected.items():
            assert labels.get(key) == value, (kind, name, key)
        assert labels.get("app.kubernetes.io/component"), (kind, name)
        owners = obj["metadata"].get("ownerReferences") or []
        if owned:
            assert [(o["kind"], o["uid"], o.get("controller")) for o in owners] == [
                ("DiminiStack", uid, True)
            ], (kind, name)
        else:
            assert owners == [], (kind, name)

    jobs = k.list("job", f"app.kubernetes.io/instance={STACK}")
    assert len(jobs) == 1 and jobs[0]["metadata"]["name"].startswith(f"{STACK}-migrate-")
    assert jobs[0]["metadata"]["ownerReferences"][0]["uid"] == uid
    assert jobs[0]["status"].get("succeeded") == 1

    # The API server admitted a pod for every workload, and each one passes `restricted`.
    pods = k.list("pod", f"app.kubernetes.io/instance={STACK}")
    components = {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods}
    assert components == {"postgres", "backend", "frontend", "migration"}
    for pod in pods:
        assert restricted_violations(pod["spec"]) == [], pod["metadata"]["name"]
    for workload in ("deployment", "statefulset", "job"):
        for obj in k.list(workload, f"app.kubernetes.io/instance={STACK}"):
            spec = pod_spec_of({**obj, "kind": obj["kind"]})
            assert spec is not None and restricted_violations(spec) == []
    events = k.list("events")
    refused = [e["message"] for e in events if e.get("reason") == "FailedCreate"]
    assert refused == []
    pvc = k.get("pvc", f"data-{STACK}-postgres-0")
    assert pvc is not None and pvc["status"]["phase"] == "Bound"
    # The retained volume claim gets the same Argo-safe metadata (the operator patches it: the
    # StatefulSet's claim template is immutable).

    def pvc_argo_safe() -> bool:
        meta = (k.get("pvc", f"data-{STACK}-postgres-0") or {}).get("metadata") or {}
        return "app.kubernetes.io/instance" not in (meta.get("labels") or {}) and "Prune=false" in (
            meta.get("annotations") or {}
        ).get("argocd.argoproj.io/sync-options", "")

    wait_for("PVC without the instance label, Prune=false", pvc_argo_safe, 30)
    assert operator.liveness() == 200


def test_kubectl_columns_and_explain(stack_ns: StackNs, operator: Operator) -> None:
    """Acceptance 9: `kubectl get dimini` columns; `kubectl explain` documents postgres."""
    k = stack_ns.k
    up(stack_ns)
    out = k.run("get", "dimini").stdout.splitlines()
    header = out[0].split()
    assert header == ["NAME", "READY", "PHASE", "VERSION", "URL", "AGE"]
    row = out[1].split()
    assert row[:5] == [STACK, "True", "Ready", "0.1.0", "http://dimini.localhost"]
    explain = k.run("explain", "diministack.spec.postgres", namespaced=False).stdout
    for field in ("database", "existingSecret", "image", "storage", "resources", "Immutable"):
        assert field in explain
    explain = k.run("explain", "diministack.spec.postgres.storage", namespaced=False).stdout
    assert "size" in explain and "storageClassName" in explain


def test_generated_credentials_never_change(stack_ns: StackNs, operator: Operator) -> None:
    """Acceptance 2: not after 20 reconciles, an operator restart, or a spec change."""
    k = stack_ns.k
    up(stack_ns)
    before = credentials(k)
    assert all(before)

    def stack_events() -> int:
        return len([e for e in k.list("events") if e["involvedObject"]["kind"] == "DiminiStack"])

    events_before = stack_events()
    for i in range(20):
        count = operator.reconciles()
        k.run("annotate", "diministack", STACK, f"test/poke={i}", "--overwrite")
        wait_for("a reconcile", lambda c=count: operator.reconciles() > c, 10)  # type: ignore[misc]
        assert credentials(k) == before
    # Reconciles that change nothing post no Events.
    assert stack_events() == events_before
    operator.restart()
    wait_for("reconcile after restart", lambda: operator.reconciles() >= 1, 20)
    assert credentials(k) == before
    # Level-triggered: a restarted operator finds the stack converged and writes nothing.
    assert operator.writes() == 0
    k.patch("diministack", STACK, {"spec": {"config": {"logLevel": "DEBUG"}}})
    wait_for("spec change rolled out", lambda: stack_ready(k), 60)

    def rolled() -> bool:
        dep = k.get("deployment", f"{STACK}-backend")
        env = (dep or {})["spec"]["template"]["spec"]["containers"][0]["env"]
        return {"name": "LOG_LEVEL", "value": "DEBUG"} in env

    wait_for("backend env updated", rolled, 30)
    assert credentials(k) == before
    # Never in status or Events.
    text = json.dumps(k.stack()) + json.dumps(k.list("events"))
    for value in before:
        assert value is not None and value not in text


def test_reconciles_read_children_from_the_watches(stack_ns: StackNs, operator: Operator) -> None:
    """Issue 18: a stack's reconciles read its children from the watch-fed store
    (handlers/store.py), not from LISTs: at most one round of them (the first reconcile, should
    the stack have reached the operator in kopf's initial listing rather than as a live event)."""
    up(stack_ns)
    listed = sum(
        operator.counter("dimini_operator_api_calls", verb="list", kind=kind.kind)
        for kind in kinds.CHILDREN
    )
    assert operator.reconciles() >= 2
    assert listed <= len(kinds.CHILDREN)


def test_drift_is_put_back(stack_ns: StackNs, operator: Operator) -> None:
    """Acceptance 3: deleted Deployment, edited Service port, deleted Ingress back within 10 s."""
    k = stack_ns.k
    up(stack_ns)
    old = k.get("deployment", f"{STACK}-backend")
    assert old is not None
    k.run("delete", "deployment", f"{STACK}-backend", "--wait=false")

    def recreated() -> bool:
        dep = k.get("deployment", f"{STACK}-backend")
        return bool(dep and dep["metadata"]["uid"] != old["metadata"]["uid"])

    wait_for("backend Deployment recreated", recreated, 10)

    k.patch(
        "service",
        f"{STACK}-backend",
        [{"op": "replace", "path": "/spec/ports/0/port", "value": 8001}],
        type_="json",
    )

    def port_back() -> bool:
        svc = k.get("service", f"{STACK}-backend")
        return bool(svc and [p["port"] for p in svc["spec"]["ports"]] == [8000])

    wait_for("Service port put back", port_back, 10)
    # The repair's merge patch leaves the operator no Update entry beside its Apply one: fields
    # that entry owned would outlive the operator dropping them from its applied configuration.
    shown = k.run("get", "service", f"{STACK}-backend", "--show-managed-fields", "-o", "json")
    entries = json.loads(shown.stdout)["metadata"]["managedFields"]
    managed = [e["operation"] for e in entries if e["manager"] == "dimini-operator"]
    assert managed == ["Apply"], managed

    k.run("delete", "ingress", STACK, "--wait=false")
    wait_for("Ingress recreated", lambda: k.get("ingress", STACK), 10)
    wait_for("stack Ready again", lambda: stack_ready(k), 30)


def test_paused_stops_changes(stack_ns: StackNs, operator: Operator) -> None:
    """Acceptance 7: paused stops all changes to children and sets the Paused condition."""
    k = stack_ns.k
    up(stack_ns)
    k.patch("diministack", STACK, {"spec": {"paused": True}})

    def paused() -> bool:
        cond = k.condition("Paused")
        obj = k.stack() or {}
        return bool(cond and cond["status"] == "True" and obj["status"]["phase"] == "Paused")

    wait_for("Paused condition", paused, 10)
    snapshot = {
        (o["kind"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
        for kind in ("deployment", "service", "statefulset", "ingress")
        for o in k.list(kind, f"app.kubernetes.io/instance={STACK}")
    }
    writes = operator.child_writes()
    k.patch(
        "diministack",
        STACK,
        {"spec": {"backend": {"image": "registry.local/b:paused"}, "frontend": {"replicas": 2}}},
    )
    k.run("delete", "ingress", STACK, "--wait=false")

    def untouched() -> bool:
        jobs = k.list("job", f"app.kubernetes.io/instance={STACK}")
        fe = k.get("deployment", f"{STACK}-frontend") or {}
        return (
            len(jobs) == 1
            and k.get("ingress", STACK) is None
            and fe["spec"]["replicas"] == 1
            and fe["metadata"]["resourceVersion"] == snapshot[("Deployment", f"{STACK}-frontend")]
        )

    holds_for("children untouched while paused", untouched, 5)
    # Only the stack's status (and Events) may be written while paused.
    assert operator.child_writes() == writes
    k.patch("diministack", STACK, {"spec": {"paused": False}})
    wait_for("Ingress back after unpause", lambda: k.get("ingress", STACK), 10)
    wait_for("Ready after unpause", lambda: stack_ready(k), 60)


def test_condition_gauges_follow_the_status_and_go_with_the_stack(
    stack_ns: StackNs, operator: Operator
) -> None:
    """Issue 17: the alerts' dimini_operator_stack_condition and _migration_failed series."""
    series = {"namespace": stack_ns.name, "stack": STACK}
    stack = up(stack_ns)
    for cond in stack["status"]["conditions"]:
        want = 1 if cond["status"] == "True" else 0
        assert (
            operator.gauge("dimini_operator_stack_condition", condition=cond["type"], **series)
            == want
        ), cond["type"]
    assert operator.gauge("dimini_operator_migration_failed", **series) == 0
    stack_ns.k.run("delete", "diministack", STACK, "--wait=false")
    wait_for(
        "the deleted stack's series gone",
        lambda: (
            operator.gauge("dimini_operator_stack_condition", **series) is None
            and operator.gauge("dimini_operator_migration_failed", **series) is None
        ),
        30,
    )


def test_idle_stack_makes_no_writes(
    stack_ns: StackNs, start_operator: Callable[..., Operator]
) -> None:
    """Acceptance 8: a converged, idle stack causes zero write calls for 60 s.

    The safety timer runs every 5 s here, so the window includes many full reconciles.
    """
    k = stack_ns.k
    operator = start_operator("--resync-seconds", "5")
    # Quantities the API server rewrites ("0.1" -> "100m", "0.25Gi" -> "256Mi") must not make
    # the operator re-apply on every reconcile.
    up(
        stack_ns,
        backend={
            "image": "registry.local/dimini-backend:0.1.0",
            "resources": {"requests": {"cpu": "0.1", "memory": "0.25Gi"}},
        },
    )
    seconds = env_flag("DIMINI_IDLE_SECONDS", 60)

    def versions() -> dict[str, str]:
        out = {}
        for kind in (
            "diministack",
            "deployment",
            "statefulset",
            "service",
            "ingress",
            "secret",
            "serviceaccount",
            "networkpolicy",
            "job",
        ):
            for o in k.list(kind):
                out[f"{kind}/{o['metadata']['name']}"] = o["metadata"]["resourceVersion"]
        return out

    # Converged: the write counter has stopped moving.
    def settled() -> float | None:
        before = operator.writes()
        holds_for("no writes", lambda: operator.writes() == before, 2)
        return before + 1

    writes = wait_for("operator settled", settled, 30) - 1
    snapshot = versions()
    reconciles = operator.reconciles()
    holds_for("zero write calls", lambda: operator.writes() == writes, seconds, interval=1)
    assert versions() == snapshot
    # The operator was not asleep: the safety timer reconciled the stack (reads only).
    assert operator.reconciles() >= reconciles + seconds / 5 - 2


def test_missing_secret_degrades_and_recovers(stack_ns: StackNs, operator: Operator) -> None:
    """Acceptance 10: a missing referenced Secret is Degraded naming Secret and key."""
    k = stack_ns.k
    k.apply(sample(stack_ns.storage_class, secretRefs={"openai": {"name": "openai-creds"}}))

    def degraded_with(*words: str) -> dict[str, Any] | None:
        cond = k.condition("Degraded")
        if cond and cond["status"] == "True" and all(w in cond["message"] for w in words):
            return cond
        return None

    cond = wait_for(
        "Degraded names the Secret", lambda: degraded_with("openai-creds", "not found"), 30
    )
    assert cond["reason"] == "SecretMissing"
    assert "spec.secretRefs.openai" in cond["message"]
    k.run("create", "secret", "generic", "openai-creds", "--from-literal=WRONG=x")
    wait_for("Degraded names the key", lambda: degraded_with("openai-creds", "OPENAI_API_KEY"), 15)
    assert operator.alive()
    errors_before = operator.counter("dimini_operator_errors")
    k.run("delete", "secret", "openai-creds")
    k.run("create", "secret", "generic", "openai-creds", "--from-literal=OPENAI_API_KEY=sk-test")
    wait_for("Ready once the Secret exists", lambda: stack_ready(k), 60)
    assert operator.alive()
    assert operator.counter("dimini_operator_errors") == errors_before
    dep = k.get("deployment", f"{STACK}-backend")
    assert dep is not None
    env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "openai-creds"
