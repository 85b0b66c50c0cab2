"""Status derivation: conditions, phase, transition times and Events are pure functions."""

from __future__ import annotations

import base64
import json
from typing import Any

from dimini_operator.specs import backend, frontend, migration
from dimini_operator.specs.common import Stack
from dimini_operator.specs.defaults import to_dict
from dimini_operator.specs.drift import merge_diff
from dimini_operator.specs.plan import Observed, plan_migration
from dimini_operator.specs.status import derive, events

from tests.operator.unit.conftest import make_stack

T0 = "2026-11-26T10:00:00Z"
T1 = "2026-11-26T10:05:00Z"


def _ready_deploy(obj: dict[str, Any]) -> dict[str, Any]:
    replicas = obj["spec"].get("replicas", 1)
    obj["metadata"]["generation"] = 1
    obj["status"] = {
        "observedGeneration": 1,
        "replicas": replicas,
        "readyReplicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": replicas,
    }
    return obj


def converged(stack: Stack) -> Observed:
    image = stack.spec.backend.image
    children = {
        ("StatefulSet", "demo-postgres"): {"status": {"readyReplicas": 1}},
        ("Deployment", "demo-backend"): _ready_deploy(backend.deployment(stack, image, "c")),
        ("Deployment", "demo-frontend"): _ready_deploy(frontend.deployment(stack)),
        ("Ingress", "demo"): {},
    }
    return Observed(db_password="pw", secret_key="sk", children=children, applied_image=image)


def _conds(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_converged_stack_is_ready(stack: Stack) -> None:
    obs = converged(stack)
    st = derive(stack, obs, plan_migration(stack, obs), old_status={}, now=T0, paused=False)
    conds = _conds(st)
    assert st["phase"] == "Ready"
    assert st["observedGeneration"] == 3
    assert st["url"] == "http://dimini.localhost"
    assert st["version"] == "0.1.0"
    for t in (
        "Ready",
        "DatabaseReady",
        "MigrationsApplied",
        "BackendReady",
        "FrontendReady",
        "IngressReady",
    ):
        assert conds[t]["status"] == "True", conds[t]
    for t in ("Degraded", "Paused", "Progressing"):
        assert conds[t]["status"] == "False", conds[t]
    for c in st["conditions"]:
        assert set(c) == {
            "type",
            "status",
            "reason",
            "message",
            "lastTransitionTime",
            "observedGeneration",
        }
        assert c["observedGeneration"] == 3


def test_status_is_stable_when_nothing_changed(stack: Stack) -> None:
    obs = converged(stack)
    mig = plan_migration(stack, obs)
    first = derive(stack, obs, mig, old_status={}, now=T0, paused=False)
    again = derive(stack, obs, mig, old_status=first, now=T1, paused=False)
    assert again == first
    assert merge_diff(first, again) is None
    assert events(first, again, mig) == []


def test_transition_time_changes_only_with_status(stack: Stack) -> None:
    obs = converged(stack)
    mig = plan_migration(stack, obs)
    first = derive(stack, obs, mig, old_status={}, now=T0, paused=False)
    paused = derive(stack, obs, mig, old_status=first, now=T1, paused=True)
    assert paused["phase"] == "Paused"
    assert _conds(paused)["Paused"]["status"] == "True"
    assert _conds(paused)["Paused"]["lastTransitionTime"] == T1
    assert _conds(paused)["Ready"]["lastTransitionTime"] == T0
    (event,) = events(first, paused, mig)
    assert event.reason == "Paused"


def test_failed_migration_is_degraded_with_job_reason(stack: Stack) -> None:
    old_image = stack.spec.backend.image
    obs = converged(stack)
    spec = to_dict(stack.spec)
    spec["backend"]["image"] = "registry.local/dimini-backend:kwok-fail"
    stack = make_stack(spec)
    job = migration.render(stack, stack.spec.backend.image)
    job["status"] = {
        "conditions": [
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
        ]
    }
    obs.children[("Job", job["metadata"]["name"])] = job
    mig = plan_migration(stack, obs)
    before = derive(
        stack,
        converged(stack),
        plan_migration(stack, converged(stack)),
        old_status={},
        now=T0,
        paused=False,
    )
    st = derive(stack, obs, mig, old_status=before, now=T1, paused=False)
    conds = _conds(st)
    assert st["phase"] == "Degraded"
    assert conds["Degraded"]["status"] == "True"
    assert conds["Degraded"]["reason"] == "BackoffLimitExceeded"
    assert job["metadata"]["name"] in conds["Degraded"]["message"]
    assert conds["MigrationsApplied"]["status"] == "False"
    assert conds["Ready"]["status"] == "False"
    assert st["migration"]["image"] == old_image
    reasons = {e.reason: e for e in events(before, st, mig)}
    assert reasons["MigrationFailed"].type == "Warning"
    assert reasons["Degraded"].type == "Warning"


def test_missing_secret_names_secret_and_key(stack: Stack) -> None:
    obs = converged(stack)
    problem = 'Secret "oa" (spec.secretRefs.openai) has no key OPENAI_API_KEY'
    obs = Observed(
        db_password="pw",
        secret_key="sk",
        children=obs.children,
        secret_problems=(problem,),
        applied_image=obs.applied_image,
    )
    st = derive(stack, obs, plan_migration(stack, obs), old_status={}, now=T0, paused=False)
    degraded = _conds(st)["Degraded"]
    assert st["phase"] == "Degraded"
    assert degraded["reason"] == "SecretMissing"
    assert '"oa"' in degraded["message"] and "OPENAI_API_KEY" in degraded["message"]


def test_fresh_stack_phases(stack: Stack) -> None:
    obs = Observed(db_password="pw", secret_key="sk")
    st = derive(stack, obs, plan_migration(stack, obs), old_status={}, now=T0, paused=False)
    assert st["phase"] == "Pending"
    assert _conds(st)["Progressing"]["status"] == "True"
    obs = Observed(
        db_password="pw",
        secret_key="sk",
        children={("StatefulSet", "demo-postgres"): {"status": {"readyReplicas": 1}}},
    )
    mig = plan_migration(stack, obs)
    st = derive(stack, obs, mig, old_status={}, now=T0, paused=False)
    assert st["phase"] == "Migrating"
    assert [e.reason for e in events({}, st, mig)] == ["MigrationStarted", "Migrating"]


def test_status_never_contains_secrets(stack: Stack) -> None:
    obs = Observed(
        db_password="hunter2-password",
        secret_key="very-secret-key",
        children=converged(stack).children,
        applied_image=stack.spec.backend.image,
    )
    st = derive(stack, obs, plan_migration(stack, obs), old_status={}, now=T0, paused=False)
    text = json.dumps(st)
    for secret in ("hunter2-password", "very-secret-key"):
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode() not in text


def test_a_digest_pinned_backend_is_ready(stack: Stack) -> None:
    """An admission webhook pinned the rolled-out tag to a digest: still the migrated image."""
    obs = converged(stack)
    dep = obs.children[("Deployment", "demo-backend")]
    container = dep["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].rsplit(":", 1)[0] + "@sha256:" + "ab" * 32
    st = derive(stack, obs, plan_migration(stack, obs), old_status={}, now=T0, paused=False)
    assert st["phase"] == "Ready"
    assert _conds(st)["BackendReady"]["status"] == "True"
    assert st["version"] == "0.1.0"
