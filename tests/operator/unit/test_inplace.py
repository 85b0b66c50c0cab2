"""The in-place restore (specs/inplace.py) through the pure plan and status: a safety backup
first, the backend scaled to 0 and gone, the restore Job, the migration rerun, the backend back;
each step in status.restore and as an Event, failures Degraded with the database's state, and a
request acted on once."""

from __future__ import annotations

import copy
from typing import Any

from dimini_operator.specs import backup, inplace
from dimini_operator.specs.common import Stack
from dimini_operator.specs.model import RestoreStatus
from dimini_operator.specs.plan import Observed, Plan, render
from dimini_operator.specs.status import derive, events

from tests.operator.unit.conftest import make_stack, sample_body

IMAGE = "registry.local/dimini-backend:0.1.0"
WANTED = "dimini-20261202T030000Z"
SAFETY = "dimini-20261207T180000Z"
REQUEST = f"{WANTED}@2026-12-07T18:00:00Z"
NOW = "2026-12-07T18:05:00Z"


def backup_stack(**spec_changes: Any) -> Stack:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["postgres"]["backup"] = {}
    spec.update(spec_changes)
    return make_stack(spec)


def external_postgres() -> dict[str, Any]:
    pg: dict[str, Any] = copy.deepcopy(sample_body()["spec"]["postgres"])
    pg["backup"] = {}
    pg["external"] = {
        "host": "10.20.30.40",
        "database": "dimini_prod",
        "credentialsSecretRef": {"name": "pg-creds"},
    }
    return pg


def job(name: str, state: str | None) -> dict[str, Any]:
    conditions = [{"type": state, "status": "True", "lastTransitionTime": NOW}] if state else []
    return {
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": "backup"}},
        "status": {"conditions": conditions},
    }


def observed(
    stack: Stack,
    old: dict[str, Any] | None = None,
    request: str | None = REQUEST,
    jobs: dict[str, str | None] | None = None,
    reports: dict[str, dict[str, Any]] | None = None,
    backend_pods: int | None = 2,
) -> Observed:
    children: dict[tuple[str, str], dict[str, Any]] = {
        ("StatefulSet", "demo-postgres"): {"status": {"readyReplicas": 1}},
    }
    for name, state in (jobs or {}).items():
        children[("Job", name)] = job(name, state)
    return Observed(
        db_password="pw-secret-value",
        secret_key="sk",
        children=children,
        applied_image=IMAGE,
        restore_request=request,
        restore_status=old,
        backup_reports=reports or {},
        backend_pods=backend_pods,
    )


def names(stack: Stack, request: str = REQUEST) -> tuple[str, str, str]:
    return (
        inplace.safety_job_name(stack, request),
        inplace.restore_job_name(stack, request),
        inplace.migration_job_name(stack, request),
    )


def created(plan: Plan) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in plan.create_only if m["kind"] == "Job"}


def backend_replicas(stack: Stack, plan: Plan) -> Any:
    for m in plan.apply:
        if m["kind"] == "Deployment" and m["metadata"]["name"] == stack.child("backend"):
            return m["spec"].get("replicas", "unset")
    raise AssertionError("no backend Deployment")


def hpa_names(plan: Plan) -> set[str]:
    return {m["metadata"]["name"] for m in plan.apply if m["kind"] == "HorizontalPodAutoscaler"}


def status_of(stack: Stack, o: Observed, old_status: dict[str, Any] | None = None) -> Any:
    plan = render(stack, o)
    return derive(stack, o, plan.migration, old_status=old_status or {}, now=NOW, paused=False)


def conds(st: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in st["conditions"]}


def record(phase: str, **extra: Any) -> dict[str, Any]:
    return {"request": REQUEST, "backup": WANTED, "phase": phase, **extra}


def test_a_request_starts_with_a_safety_backup_that_keeps_the_wanted_backup() -> None:
    stack = backup_stack()
    safety, _, _ = names(stack)
    plan = render(stack, observed(stack))
    jobs = created(plan)
    assert set(jobs) == {safety}
    pod = jobs[safety]["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == backup.COMPONENT
    assert jobs[safety]["metadata"]["annotations"] == {backup.BEFORE_RESTORE_ANNOTATION: REQUEST}
    (verify,) = pod["spec"]["containers"]
    assert {"name": "RETENTION_KEEP", "value": WANTED} in verify["env"]
    # The backend keeps serving while the safety backup runs.
    assert backend_replicas(stack, plan) == 1
    st = status_of(stack, observed(stack, jobs={safety: None}))
    assert st["restore"]["phase"] == "BackingUp" and st["restore"]["backup"] == WANTED
    assert st["phase"] == "Restoring"
    assert conds(st)["Reconciling"]["status"] == "True"
    assert safety in conds(st)["Reconciling"]["message"]


def test_a_failed_safety_backup_stops_before_anything_is_touched() -> None:
    stack = backup_stack()
    safety, _, _ = names(stack)
    reports = {safety: {"step": "backup", "error": "cannot connect"}}
    o = observed(stack, old=record("BackingUp"), jobs={safety: "Failed"}, reports=reports)
    plan = render(stack, o)
    assert not created(plan) and backend_replicas(stack, plan) == 1
    st = status_of(stack, o)
    rec = st["restore"]
    assert (rec["phase"], rec["databaseIntact"]) == ("Failed", True)
    assert "cannot connect" in rec["message"] and "nothing was restored" in rec["message"]
    assert st["phase"] == "Degraded"
    assert conds(st)["Degraded"]["reason"] == "SafetyBackupFailed"
    assert conds(st)["Stalled"]["status"] == "True"
    assert "pw-secret-value" not in str(st)


def test_after_the_safety_backup_the_backend_goes_to_zero_before_the_restore() -> None:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["backend"]["autoscaling"] = {"enabled": True, "minReplicas": 2, "maxReplicas": 4}
    stack = backup_stack(backend=spec["backend"])
    safety, restore, _ = names(stack)
    reports = {safety: {"name": SAFETY, "verifiedAt": NOW}}
    o = observed(stack, old=record("BackingUp"), jobs={safety: "Complete"}, reports=reports)
    plan = render(stack, o)
    assert backend_replicas(stack, plan) == 0
    assert stack.child("backend") not in hpa_names(plan)
    assert restore not in created(plan), "a backend pod still exists"
    st = status_of(stack, o)
    assert st["restore"]["phase"] == "ScalingDown"
    assert st["restore"]["safetyBackup"] == SAFETY
    assert conds(st)["Ready"]["status"] == "False"

    gone = observed(
        stack, old=st["restore"], jobs={safety: "Complete"}, reports=reports, backend_pods=0
    )
    plan = render(stack, gone)
    job_ = created(plan)[restore]
    (container,) = job_["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["RESTORE_MODE"], env["RESTORE_NAME"]) == ("replace", WANTED)
    assert env["PGDATABASE"] == stack.spec.postgres.database
    claim = {v["name"]: v for v in job_["spec"]["template"]["spec"]["volumes"]}["backups"]
    assert claim["persistentVolumeClaim"] == {"claimName": "demo-backups", "readOnly": True}
    assert status_of(stack, gone)["restore"]["phase"] == "Restoring"


def test_a_restore_that_failed_before_the_commit_brings_the_backend_back() -> None:
    stack = backup_stack()
    safety, restore, _ = names(stack)
    reports = {restore: {"step": "restore", "intact": True, "error": "checksum mismatch"}}
    o = observed(
        stack,
        old=record("Restoring", safetyBackup=SAFETY),
        jobs={safety: "Complete", restore: "Failed"},
        reports=reports,
        backend_pods=0,
    )
    plan = render(stack, o)
    assert backend_replicas(stack, plan) == 1 and not created(plan)
    st = status_of(stack, o)
    assert (st["restore"]["phase"], st["restore"]["databaseIntact"]) == ("Failed", True)
    assert "checksum mismatch" in st["restore"]["message"]
    assert "the database is unchanged" in st["restore"]["message"]
    assert conds(st)["Degraded"]["reason"] == "RestoreFailed"


def test_a_restore_that_may_have_changed_the_database_keeps_the_backend_down() -> None:
    stack = backup_stack()
    safety, restore, _ = names(stack)
    o = observed(
        stack,
        old=record("Restoring", safetyBackup=SAFETY),
        jobs={safety: "Complete", restore: "Failed"},
        reports={},  # no report (a deadline, a crash): assume the worst
        backend_pods=0,
    )
    assert backend_replicas(stack, render(stack, o)) == 0
    st = status_of(stack, o)
    rec = st["restore"]
    assert (rec["phase"], rec["databaseIntact"]) == ("Failed", False)
    assert "may be half restored" in rec["message"] and SAFETY in rec["message"]
    # Settled: the backend stays down even when the annotation is removed.
    later = observed(stack, old=rec, request=None, backend_pods=0)
    assert backend_replicas(stack, render(stack, later)) == 0
    assert status_of(stack, later)["phase"] == "Degraded"


def test_a_restored_database_is_migrated_then_the_backend_comes_back_once() -> None:
    stack = backup_stack()
    safety, restore, migrate = names(stack)
    done: dict[str, str | None] = {safety: "Complete", restore: "Complete"}
    o = observed(stack, old=record("Restoring", safetyBackup=SAFETY), jobs=done, backend_pods=0)
    plan = render(stack, o)
    mig = created(plan)[migrate]
    assert mig["metadata"]["labels"]["app.kubernetes.io/component"] == "migration"
    (container,) = mig["spec"]["template"]["spec"]["containers"]
    assert container["image"] == IMAGE and container["command"] == ["python", "-m", "app.migrate"]
    assert backend_replicas(stack, plan) == 0
    st = status_of(stack, o)
    assert st["restore"]["phase"] == "Migrating"

    o = observed(stack, old=st["restore"], jobs={**done, migrate: "Complete"}, backend_pods=0)
    plan = render(stack, o)
    assert backend_replicas(stack, plan) == 1 and not created(plan)
    st = status_of(stack, o)
    assert st["restore"]["phase"] == "Restored"
    assert WANTED in st["restore"]["message"] and SAFETY in st["restore"]["message"]
    assert st["phase"] != "Degraded"
    # The same request again (a re-apply, an operator restart, the Jobs gone): nothing restarts.
    again = observed(stack, old=st["restore"], jobs={})
    assert not created(render(stack, again))
    assert status_of(stack, again)["restore"]["phase"] == "Restored"


def test_a_failed_migration_after_the_restore_keeps_the_backend_down() -> None:
    stack = backup_stack()
    safety, restore, migrate = names(stack)
    o = observed(
        stack,
        old=record("Migrating", safetyBackup=SAFETY),
        jobs={safety: "Complete", restore: "Complete", migrate: "Failed"},
        backend_pods=0,
    )
    assert backend_replicas(stack, render(stack, o)) == 0
    st = status_of(stack, o)
    assert (st["restore"]["phase"], st["restore"]["databaseIntact"]) == ("Failed", False)
    assert conds(st)["Degraded"]["reason"] == "RestoreMigrationFailed"


def test_refusals_are_recorded_without_touching_anything() -> None:
    cases = {
        "external": backup_stack(postgres=external_postgres()),
        "no backups": make_stack(copy.deepcopy(sample_body()["spec"])),
    }
    for why, stack in cases.items():
        plan = render(stack, observed(stack))
        assert not created(plan), why
        st = status_of(stack, observed(stack))
        assert st["restore"]["phase"] == "Failed", why
        assert st["restore"]["databaseIntact"] is True, why
        assert conds(st)["Degraded"]["reason"] == "RestoreRefused", why
    bad = backup_stack()
    st = status_of(bad, observed(bad, request="latest"))
    assert "latest" in st["restore"]["message"] and st["restore"]["phase"] == "Failed"


def test_a_running_restore_finishes_before_a_newer_request() -> None:
    stack = backup_stack()
    safety, restore, _ = names(stack)
    newer = f"{SAFETY}@2026-12-07T18:10:00Z"
    o = observed(
        stack,
        old=record("Restoring", safetyBackup=SAFETY),
        request=newer,
        jobs={safety: "Complete", restore: None},
        backend_pods=0,
    )
    plan = render(stack, o)
    assert inplace.safety_job_name(stack, newer) not in created(plan)
    assert status_of(stack, o)["restore"]["request"] == REQUEST


def test_each_step_posts_an_event_and_the_record_fits_the_crd() -> None:
    stack = backup_stack()
    safety, restore, migrate = names(stack)
    steps = [
        observed(stack, jobs={safety: None}),
        observed(stack, jobs={safety: "Complete"}, reports={safety: {"name": SAFETY}}),
        observed(stack, jobs={safety: "Complete", restore: None}, backend_pods=0),
        observed(stack, jobs={safety: "Complete", restore: "Complete"}, backend_pods=0),
        observed(
            stack,
            jobs={safety: "Complete", restore: "Complete", migrate: "Complete"},
            backend_pods=0,
        ),
    ]
    old: dict[str, Any] = {}
    seen = []
    for o in steps:
        o = Observed(**{**o.__dict__, "restore_status": old.get("restore")})
        new = status_of(stack, o, old)
        RestoreStatus.model_validate(new["restore"])
        seen += [(e.type, e.reason) for e in events(old, new, render(stack, o).migration)]
        old = new
    reasons = [r for _, r in seen if r.startswith("Restore")]
    assert reasons == [
        "RestoreBackingUp",
        "RestoreScalingDown",
        "RestoreRestoring",
        "RestoreMigrating",
        "Restored",
    ]


def test_an_image_change_during_a_restore_migrates_only_after_it() -> None:
    stack = backup_stack()
    spec = stack.spec.model_copy(
        update={"backend": stack.spec.backend.model_copy(update={"image": "registry.local/b:9"})}
    )
    upgraded = Stack(stack.name, stack.namespace, stack.uid, stack.generation, spec)
    safety, restore, _ = names(upgraded)
    pre = backup.premigration_job_name(upgraded, "registry.local/b:9")
    o = observed(
        upgraded,
        old=record("Restoring", safetyBackup=SAFETY),
        jobs={safety: "Complete", restore: None, pre: "Complete"},
        backend_pods=0,
    )
    plan = render(upgraded, o)
    assert plan.migration.state == "Pending"
    assert set(created(plan)) == set(), "no migration Job while the database is replaced"
