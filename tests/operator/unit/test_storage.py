"""Growing the data volume (specs/storage.py): the claim patch, its progress, the refusals, and
how they read in status (kstatus) and Events."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from dimini_operator.specs import postgres, storage
from dimini_operator.specs.common import Stack
from dimini_operator.specs.plan import Observed, plan_migration, render
from dimini_operator.specs.status import derive, events

from tests.operator.kstatus_tool import compute
from tests.operator.unit.conftest import make_stack, sample_body
from tests.operator.unit.test_external_postgres import external_stack
from tests.operator.unit.test_status import T0, T1, _conds, converged


def sized(size: str) -> Stack:
    spec = sample_body()["spec"]
    spec["postgres"]["storage"] = {"size": size, "storageClassName": "fast"}
    return make_stack(spec)


def claim(
    requested: str = "1Gi",
    capacity: str = "1Gi",
    phase: str = "Bound",
    storage_class: str | None = "fast",
    **status: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": {"requests": {"storage": requested}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-demo-postgres-0"},
        "spec": spec,
        "status": {"phase": phase, "capacity": {"storage": capacity}, **status},
    }


EXPANDABLE = {"metadata": {"name": "fast"}, "allowVolumeExpansion": True}
FIXED = {"metadata": {"name": "fast"}}


def test_the_claim_template_keeps_the_live_size() -> None:
    """Claim templates are immutable (a change is a 422): a grown spec renders the StatefulSet
    with the size it was created with; only a new StatefulSet takes the spec's."""
    stack = sized("5Gi")
    live = postgres.statefulset(sized("1Gi"))

    def template_size(obs: Observed) -> str:
        (sts,) = [m for m in render(stack, obs).apply if m["kind"] == "StatefulSet"]
        (tmpl,) = sts["spec"]["volumeClaimTemplates"]
        return str(tmpl["spec"]["resources"]["requests"]["storage"])

    fresh = Observed(db_password="pw", secret_key="sk")
    assert template_size(fresh) == "5Gi"
    running = dataclasses.replace(fresh, children={("StatefulSet", "demo-postgres"): live})
    assert template_size(running) == "1Gi"


def test_an_expandable_class_gets_the_claim_patched() -> None:
    stack = sized("2Gi")
    assert storage.wants_growth(stack, claim())
    growth = storage.plan(stack, claim(), EXPANDABLE)
    assert growth.patch == {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    assert (growth.reason, growth.in_progress) == ("Resizing", True)
    assert "data-demo-postgres-0" in growth.message and "1Gi" in growth.message


def test_a_class_without_expansion_is_refused_and_nothing_is_patched() -> None:
    stack = sized("2Gi")
    for pvc, sc, problem, reason, text in (
        (claim(), FIXED, "", "StorageExpansionNotSupported", "allowVolumeExpansion"),
        (claim(), {**FIXED, "allowVolumeExpansion": False}, "", "StorageExpansionNotSupported", ""),
        (claim(), None, "", "StorageExpansionNotSupported", "does not exist"),
        (claim(storage_class=None), None, "", "StorageExpansionNotSupported", "no StorageClass"),
        (claim(), None, "forbidden", "StorageClassUnreadable", "forbidden"),
    ):
        growth = storage.plan(stack, pvc, sc, problem)
        assert growth.patch is None
        assert (growth.reason, growth.refused, growth.ok) == (reason, True, False)
        assert text in growth.message and "stays at 1Gi" in growth.message


def test_a_paused_stack_is_not_grown() -> None:
    spec = sample_body()["spec"]
    spec["postgres"]["storage"] = {"size": "2Gi", "storageClassName": "fast"}
    spec["paused"] = True
    growth = storage.plan(make_stack(spec), claim(), EXPANDABLE)
    assert (growth.patch, growth.reason, growth.ok, growth.in_progress) == (
        None,
        "Paused",
        False,
        False,
    )


def test_nothing_to_do_without_a_bound_claim_or_with_a_larger_one() -> None:
    stack = sized("2Gi")
    for pvc, reason in (
        (None, "Provisioning"),
        (claim(phase="Pending"), "Provisioning"),
        # Grown by hand beyond the spec (the way before): never patched down.
        (claim("4Gi", "4Gi"), "AsRequested"),
        (claim("2Gi", "2Gi"), "AsRequested"),
    ):
        assert not storage.wants_growth(stack, pvc)
        growth = storage.plan(stack, pvc, EXPANDABLE)
        assert (growth.patch, growth.reason, growth.ok) == (None, reason, True)
    assert storage.plan(external_stack(), None).reason == "External"


def test_progress_follows_the_claim_status() -> None:
    stack = sized("2Gi")
    resizing = claim("2Gi", "1Gi", conditions=[{"type": "Resizing", "status": "True"}])
    assert storage.plan(stack, resizing).reason == "Resizing"
    pending = claim(
        "2Gi", "1Gi", conditions=[{"type": "FileSystemResizePending", "status": "True"}]
    )
    assert storage.plan(stack, pending).reason == "FileSystemResizePending"
    failing = claim(
        "2Gi",
        "1Gi",
        conditions=[{"type": "ControllerResizeError", "status": "True", "message": "quota"}],
    )
    assert "quota" in storage.plan(stack, failing).message
    infeasible = claim(
        "2Gi", "1Gi", allocatedResourceStatuses={"storage": "ControllerResizeInfeasible"}
    )
    assert (storage.plan(stack, infeasible).reason, storage.plan(stack, infeasible).refused) == (
        "ResizeInfeasible",
        True,
    )
    # The API server canonicalises quantities: 2048Mi is 2Gi.
    assert storage.plan(stack, claim("2Gi", "2048Mi")).reason == "AsRequested"


def _with(obs: Observed, growth: storage.Growth) -> Observed:
    return dataclasses.replace(obs, storage_growth=growth)


def _derive(stack: Stack, obs: Observed, old: dict[str, Any] | None = None) -> dict[str, Any]:
    return derive(
        stack, obs, plan_migration(stack, obs), old_status=old or {}, now=T0, paused=False
    )


def _body(stack: Stack, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "dimini.io/v1alpha1",
        "kind": "DiminiStack",
        "metadata": {"name": "demo", "namespace": "ns1", "generation": stack.generation},
        "status": status,
    }


def test_a_resize_is_in_progress_and_a_refusal_stalls_while_the_app_serves() -> None:
    stack = sized("2Gi")
    obs = converged(stack)
    resizing = _derive(stack, _with(obs, storage.plan(stack, claim(), EXPANDABLE)))
    refused = _derive(stack, _with(obs, storage.plan(stack, claim(), FIXED)))
    done = _derive(stack, _with(obs, storage.plan(stack, claim("2Gi", "2Gi"))))
    for st in (resizing, refused, done):
        conds = _conds(st)
        assert st["phase"] == "Ready"
        assert conds["Ready"]["status"] == "True"
        assert conds["Degraded"]["status"] == "False"
    assert _conds(resizing)["StorageResized"]["status"] == "False"
    assert _conds(resizing)["StorageResized"]["reason"] == "Resizing"
    assert _conds(resizing)["Reconciling"]["status"] == "True"
    assert _conds(resizing)["Reconciling"]["reason"] == "Resizing"
    stalled = _conds(refused)["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "StorageExpansionNotSupported")
    assert _conds(refused)["StorageResized"]["reason"] == "StorageExpansionNotSupported"
    assert _conds(done)["StorageResized"]["status"] == "True"
    results = compute(*(_body(stack, st) for st in (resizing, refused, done)))
    assert [r["status"] for r in results] == ["InProgress", "Failed", "Current"]


def test_events_mark_start_end_and_refusal() -> None:
    stack = sized("2Gi")
    obs = converged(stack)
    before = _derive(stack, _with(obs, storage.plan(sized("1Gi"), claim())))
    resizing_obs = _with(obs, storage.plan(stack, claim(), EXPANDABLE))
    resizing = _derive(stack, resizing_obs, copy.deepcopy(before))
    mig = plan_migration(stack, obs)
    assert [(e.type, e.reason) for e in events(before, resizing, mig)] == [
        ("Normal", "StorageResizing")
    ]
    done = derive(
        stack,
        _with(obs, storage.plan(stack, claim("2Gi", "2Gi"))),
        mig,
        old_status=resizing,
        now=T1,
        paused=False,
    )
    assert [(e.type, e.reason) for e in events(resizing, done, mig)] == [
        ("Normal", "StorageResized")
    ]
    refused = _derive(stack, _with(obs, storage.plan(stack, claim(), FIXED)), before)
    (warning,) = events(before, refused, mig)
    assert (warning.type, warning.reason) == ("Warning", "StorageExpansionNotSupported")
    assert "allowVolumeExpansion" in warning.message
    # An idle reconcile of a refused stack posts nothing again.
    again = _derive(stack, _with(obs, storage.plan(stack, claim(), FIXED)), refused)
    assert events(refused, again, mig) == []
