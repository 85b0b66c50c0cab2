"""Backups: the pure renders (ConfigMap, claim, CronJob, on-demand Job) and the status derived
from what the backup pods report."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from dimini_operator.specs import backup
from dimini_operator.specs.common import Stack
from dimini_operator.specs.model import (
    TARGET_EXACTLY_ONE,
    BackupFailure,
    BackupRecord,
    BackupStatus,
    FromBackup,
)
from dimini_operator.specs.plan import Observed, render
from dimini_operator.specs.status import derive, events
from pydantic import ValidationError

from tests.operator.pss import restricted_violations
from tests.operator.unit.conftest import make_stack, sample_body

T0 = "2026-12-02T03:00:00Z"
T1 = "2026-12-02T03:01:00Z"
T2 = "2026-12-03T03:01:00Z"


def backup_stack(cfg: dict[str, Any] | None = None, deletion_policy: str = "Retain") -> Stack:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["postgres"]["backup"] = cfg if cfg is not None else {}
    spec["deletionPolicy"] = deletion_policy
    return make_stack(spec)


def by_key(objs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def obs(**kw: Any) -> Observed:
    return Observed(db_password="pw", secret_key="sk", **kw)


def test_no_backup_spec_renders_nothing_and_reports_not_configured(stack: Stack) -> None:
    plan = render(stack, obs())
    kinds = {o["kind"] for o in plan.apply + plan.create_only}
    assert not kinds & {"CronJob", "ConfigMap", "PersistentVolumeClaim"}
    st = derive(stack, obs(), _migration(stack), old_status={}, now=T0, paused=False)
    cond = _conds(st)["BackupVerified"]
    assert (cond["status"], cond["reason"]) == ("False", "NotConfigured")
    assert "backup" not in st


def test_backup_spec_renders_scripts_schedule_and_claim() -> None:
    stack = backup_stack(
        {
            "schedule": "15 2 * * *",
            "retention": {"count": 3, "maxAgeDays": 30},
            "target": {"pvc": {"size": "2Gi", "storageClassName": "fast"}},
        }
    )
    plan = render(stack, obs())
    applied = by_key(plan.apply)
    cm = applied[("ConfigMap", "demo-backup-scripts")]
    assert set(cm["data"]) == {
        "backup.sh",
        "verify.sh",
        "restore.sh",
        "store.sh",
        "facts.sql",
        "compare.sql",
    }
    assert "pg_dump --format=custom" in cm["data"]["backup.sh"]
    cron = applied[("CronJob", "demo-backup")]
    assert cron["spec"]["schedule"] == "15 2 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]
    # The operator finds the scheduled Jobs by these labels.
    assert job["metadata"]["labels"]["app.kubernetes.io/instance"] == "demo"
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "backup"
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]
    assert pod["metadata"]["labels"]["dimini.io/postgres-client"] == "true"
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "backup"
    spec = pod["spec"]
    assert restricted_violations(spec) == []
    assert spec["automountServiceAccountToken"] is False
    (dump,) = spec["initContainers"]
    (verify,) = spec["containers"]
    # Both run in the Postgres image: the verify server has the same major version.
    assert dump["image"] == verify["image"] == stack.spec.postgres.image
    assert dump["command"] == ["sh", "/scripts/backup.sh"]
    assert verify["command"] == ["sh", "/scripts/verify.sh"]
    env = {e["name"]: e for e in dump["env"]}
    assert env["PGHOST"]["value"] == "demo-postgres"
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "demo-db", "key": "password"}
    verify_env = {e["name"]: e.get("value") for e in verify["env"]}
    assert verify_env["RETENTION_COUNT"] == "3"
    assert verify_env["RETENTION_MAX_AGE_DAYS"] == "30"
    # The verify container never talks to the stack's database.
    assert not {n for n in verify_env if n.startswith("PG")}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["backups"]["persistentVolumeClaim"]["claimName"] == "demo-backups"
    claim = by_key(plan.create_only)[("PersistentVolumeClaim", "demo-backups")]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    # Retain: the backups outlive the stack (no owner), Argo-safe like the data volume.
    assert "ownerReferences" not in claim["metadata"]
    assert "app.kubernetes.io/instance" not in claim["metadata"]["labels"]
    assert claim["metadata"]["labels"]["dimini.io/stack"] == "demo"


def test_backup_claim_is_owned_under_delete_and_created_once() -> None:
    stack = backup_stack(deletion_policy="Delete")
    claim = by_key(render(stack, obs()).create_only)[("PersistentVolumeClaim", "demo-backups")]
    assert claim["metadata"]["ownerReferences"][0]["name"] == "demo"
    existing = {("PersistentVolumeClaim", "demo-backups"): claim}
    migrated = obs(children=existing, applied_image=stack.spec.backend.image)
    assert not [o for o in render(stack, migrated).create_only if o["kind"] != "Secret"]


def test_defaults() -> None:
    cfg = backup_stack().spec.postgres.backup
    assert cfg is not None
    assert cfg.schedule == "0 3 * * *"
    assert cfg.retention.count == 7
    assert cfg.retention.max_age_days is None
    assert cfg.target.pvc is not None
    assert cfg.target.pvc.size == "5Gi"
    assert cfg.target.s3 is None


def test_backup_now_annotation_creates_one_job_per_request() -> None:
    stack = backup_stack()
    migrated = stack.spec.backend.image
    plan = render(stack, obs(backup_request="2026-12-02-a", applied_image=migrated))
    jobs = [o for o in plan.create_only if o["kind"] == "Job"]
    assert [j["metadata"]["name"] for j in jobs] == [
        backup.on_demand_job_name(stack, "2026-12-02-a")
    ]
    # Same pod as the scheduled one.
    cron = by_key(plan.apply)[("CronJob", "demo-backup")]
    assert jobs[0]["spec"]["template"] == cron["spec"]["jobTemplate"]["spec"]["template"]
    assert jobs[0]["spec"]["ttlSecondsAfterFinished"] > 0
    done = render(
        stack,
        obs(backup_request="2026-12-02-a", backup_requested="2026-12-02-a", applied_image=migrated),
    )
    assert not [o for o in done.create_only if o["kind"] == "Job"]


def test_postgres_network_policy_admits_backup_pods() -> None:
    stack = backup_stack()
    policy = by_key(render(stack, obs()).apply)[("NetworkPolicy", "demo-postgres")]
    (peer,) = policy["spec"]["ingress"][0]["from"]
    (expr,) = peer["podSelector"]["matchExpressions"]
    assert "backup" in expr["values"]


# --- status -----------------------------------------------------------------------------------

MANIFEST = {
    "database": "dimini",
    "postgresVersion": "15.8",
    "postgresVersionNum": 150008,
    "revision": "0005_graph_mentions",
    "rowCounts": {"patients": 250, "sessions": 1000},
    "name": "dimini-20261202T030000Z",
    "createdAt": T0,
    "size": 12345,
    "sha256": "ab" * 32,
    "format": "custom",
}


def _migration(stack: Stack) -> Any:
    from dimini_operator.specs.plan import plan_migration

    return plan_migration(stack, obs())


def _conds(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def job(name: str, state: str, when: str) -> dict[str, Any]:
    return {
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": "backup"}},
        "status": {"conditions": [{"type": state, "status": "True", "lastTransitionTime": when}]},
    }


def pod(job_name: str, **messages: str) -> dict[str, Any]:
    def status(name: str) -> dict[str, Any]:
        return {"name": name, "state": {"terminated": {"message": messages[name]}}}

    return {
        "metadata": {"labels": {"batch.kubernetes.io/job-name": job_name}},
        "status": {
            "initContainerStatuses": [status("backup")] if "backup" in messages else [],
            "containerStatuses": [status("verify")] if "verify" in messages else [],
        },
    }


def status_of(
    stack: Stack, jobs: list[dict[str, Any]], reports: dict[str, Any], old: dict[str, Any]
) -> dict[str, Any]:
    children = {("Job", j["metadata"]["name"]): j for j in jobs}
    o = obs(children=children, backup_reports=reports)
    return derive(stack, o, _migration(stack), old_status=old, now=T2, paused=False)


def test_verified_backup_reports_revision_and_row_counts() -> None:
    stack = backup_stack()
    verified = {**MANIFEST, "step": "verify", "verified": True, "verifiedAt": T1, "count": 1}
    report = backup.pod_report(
        pod("demo-backup-1", backup=json.dumps(MANIFEST), verify=json.dumps(verified))
    )
    assert report == verified
    st = status_of(stack, [job("demo-backup-1", "Complete", T1)], {"demo-backup-1": report}, {})
    cond = _conds(st)["BackupVerified"]
    assert cond["status"] == "True"
    assert cond["reason"] == "Verified"
    assert "revision 0005_graph_mentions" in cond["message"]
    assert "patients=250" in cond["message"] and "sessions=1000" in cond["message"]
    last = st["backup"]["lastVerified"]
    assert last["name"] == "dimini-20261202T030000Z"
    assert last["rowCounts"] == {"patients": 250, "sessions": 1000}
    assert last["verifiedAt"] == T1
    assert st["backup"]["count"] == 1
    # Informational: a stack without a verified backup is not less Ready.
    assert _conds(st)["Ready"]["status"] == _conds(status_of(stack, [], {}, {}))["Ready"]["status"]
    (event,) = [e for e in events({}, st, _migration(stack)) if e.reason.startswith("Backup")]
    assert (event.type, event.reason) == ("Normal", "BackupVerified")
    # Every field is in the CRD's status schema (the API server would prune others, and the
    # operator would write them again on every reconcile).
    _assert_in_schema(st["backup"])


def test_failed_verification_keeps_the_previous_restore_point() -> None:
    stack = backup_stack()
    first = {**MANIFEST, "step": "verify", "verified": True, "verifiedAt": T1, "count": 1}
    old = status_of(stack, [job("demo-backup-1", "Complete", T1)], {"demo-backup-1": first}, {})
    failed = {
        "step": "verify",
        "backup": "dimini-20261203T030000Z",
        "verified": False,
        "error": "checksum mismatch: the dump is not what was written",
        "count": 2,
    }
    # The first Job is gone (history limit): status remembers it.
    st = status_of(stack, [job("demo-backup-2", "Failed", T2)], {"demo-backup-2": failed}, old)
    cond = _conds(st)["BackupVerified"]
    assert (cond["status"], cond["reason"]) == ("False", "VerificationFailed")
    assert "checksum mismatch" in cond["message"]
    assert "restore point: dimini-20261202T030000Z" in cond["message"]
    assert st["backup"]["lastVerified"] == old["backup"]["lastVerified"]
    assert st["backup"]["lastFailure"]["name"] == "dimini-20261203T030000Z"
    assert st["backup"]["lastBackup"]["name"] == "dimini-20261203T030000Z"
    assert st["backup"]["count"] == 2
    evs = [e for e in events(old, st, _migration(stack)) if e.reason.startswith("Backup")]
    assert [(e.type, e.reason) for e in evs] == [("Warning", "BackupFailed")]
    assert "checksum mismatch" in evs[0].message
    # Nothing new: no Event again, and the status is unchanged.
    again = status_of(stack, [job("demo-backup-2", "Failed", T2)], {"demo-backup-2": failed}, st)
    assert again["backup"] == st["backup"]
    assert not [e for e in events(st, again, _migration(stack)) if e.reason.startswith("Backup")]
    _assert_in_schema(st["backup"])


def test_failed_dump_and_job_without_report() -> None:
    stack = backup_stack()
    report = backup.pod_report(
        pod("demo-backup-1", backup='{"step":"backup","backup":"x","error":"pg_dump failed: boom"}')
    )
    st = status_of(stack, [job("demo-backup-1", "Failed", T1)], {"demo-backup-1": report}, {})
    cond = _conds(st)["BackupVerified"]
    assert (cond["status"], cond["reason"]) == ("False", "BackupFailed")
    assert "no verified backup exists" in cond["message"]
    # A Job killed by its deadline leaves no report: the Job's own message is used.
    st = status_of(stack, [job("demo-backup-2", "Failed", T1)], {}, {})
    assert st["backup"]["lastFailure"]["job"] == "demo-backup-2"


def test_running_backup_and_garbage_messages() -> None:
    stack = backup_stack()
    running = {
        "kind": "Job",
        "metadata": {"name": "demo-backup-1", "labels": {"app.kubernetes.io/component": "backup"}},
        "status": {},
    }
    st = status_of(stack, [running], {}, {})
    assert _conds(st)["BackupVerified"]["reason"] == "NoVerifiedBackup"
    assert backup.pod_report(pod("j", verify="Segmentation fault")) == {
        "error": "Segmentation fault"
    }
    assert backup.pod_report(pod("j")) is None


def _assert_in_schema(value: dict[str, Any]) -> None:
    def aliases(model: Any) -> set[str]:
        return {f.alias or n for n, f in model.model_fields.items()}

    assert set(value) <= aliases(BackupStatus)
    for key in ("lastBackup", "lastVerified"):
        if key in value:
            assert set(value[key]) <= aliases(BackupRecord)
    if "lastFailure" in value:
        assert set(value["lastFailure"]) <= aliases(BackupFailure)


# --- pre-migration backup -----------------------------------------------------------------------

V2 = "registry.local/dimini-backend:0.2.0"


def upgrading(stack: Stack, **children: dict[str, Any]) -> Observed:
    """The stack runs its sample image with Postgres ready; the spec asks for V2."""
    base: dict[tuple[str, str], dict[str, Any]] = {
        ("StatefulSet", "demo-postgres"): {"status": {"readyReplicas": 1}},
    }
    for name, obj in children.items():
        base[("Job", name)] = obj
    return obs(children=base, applied_image="registry.local/dimini-backend:0.1.0")


def v2(stack: Stack) -> Stack:
    spec = stack.spec.model_copy(
        update={"backend": stack.spec.backend.model_copy(update={"image": V2})}
    )
    return Stack(stack.name, stack.namespace, stack.uid, stack.generation, spec)


def test_upgrade_backs_up_and_verifies_before_the_migration_job() -> None:
    stack = v2(backup_stack())
    pre = backup.premigration_job_name(stack, V2)
    plan = render(stack, upgrading(stack))
    jobs = [o["metadata"]["name"] for o in plan.create_only if o["kind"] == "Job"]
    assert jobs == [pre]  # no migration Job yet
    assert plan.migration.state == "BackingUp"
    running = upgrading(stack, **{pre: {"metadata": {"name": pre}, "status": {}}})
    plan = render(stack, running)
    assert not [o for o in plan.create_only if o["kind"] == "Job"]
    st = derive(stack, running, plan.migration, old_status={}, now=T0, paused=False)
    assert st["phase"] == "Migrating"
    assert st["migration"]["backup"] == pre

    done = job(pre, "Complete", T1)
    report = {**MANIFEST, "step": "verify", "verified": True, "verifiedAt": T1, "count": 1}
    after = Observed(
        **{**upgrading(stack, **{pre: done}).__dict__, "backup_reports": {pre: report}}
    )
    plan = render(stack, after)
    jobs = [o["metadata"]["name"] for o in plan.create_only if o["kind"] == "Job"]
    assert jobs == [plan.migration.job_name]
    st = derive(stack, after, plan.migration, old_status={}, now=T1, paused=False)
    assert st["migration"]["backup"] == MANIFEST["name"]
    # The Job's TTL removes it later: the name stays with that migration.
    gone = derive(stack, upgrading(stack), plan.migration, old_status=st, now=T2, paused=False)
    assert gone["migration"]["backup"] == MANIFEST["name"]


def test_failed_pre_migration_backup_blocks_the_migration() -> None:
    stack = v2(backup_stack())
    pre = backup.premigration_job_name(stack, V2)
    failed = upgrading(stack, **{pre: job(pre, "Failed", T1)})
    plan = render(stack, failed)
    assert not [o for o in plan.create_only if o["kind"] == "Job"]
    assert (plan.migration.state, plan.migration.reason) == ("Failed", "PreMigrationBackupFailed")
    st = derive(stack, failed, plan.migration, old_status={}, now=T1, paused=False)
    assert st["phase"] == "Degraded"
    assert _conds(st)["Stalled"]["reason"] == "PreMigrationBackupFailed"


def test_first_install_and_stacks_without_backups_migrate_at_once(stack: Stack) -> None:
    fresh = backup_stack()
    ready = obs(children={("StatefulSet", "demo-postgres"): {"status": {"readyReplicas": 1}}})
    assert render(fresh, ready).migration.state == "Pending"  # an empty database: no backup
    plan = render(v2(stack), upgrading(stack))
    assert plan.migration.state == "Pending"


# --- bootstrap.fromBackup ---------------------------------------------------------------------


def bootstrap_stack(source: dict[str, Any]) -> Stack:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["postgres"]["bootstrap"] = {"fromBackup": source}
    return make_stack(spec)


def db_ready(**jobs: dict[str, Any]) -> Observed:
    children: dict[tuple[str, str], dict[str, Any]] = {
        ("StatefulSet", "demo-postgres"): {"status": {"readyReplicas": 1}}
    }
    children.update({("Job", n): j for n, j in jobs.items()})
    return obs(children=children)


def test_new_stack_from_a_backup_restores_before_the_first_migration() -> None:
    stack = bootstrap_stack({"claimName": "old-backups", "name": "dimini-20261202T030000Z"})
    plan = render(stack, db_ready())
    assert plan.migration.state == "Restoring"
    (restore,) = [o for o in plan.create_only if o["kind"] == "Job"]
    assert restore["metadata"]["name"] == "demo-restore"
    pod = restore["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    assert "initContainers" not in pod
    (container,) = pod["containers"]
    assert container["command"] == ["sh", "/scripts/restore.sh"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RESTORE_NAME"] == "dimini-20261202T030000Z"
    assert env["PGHOST"] == "demo-postgres"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["backups"]["persistentVolumeClaim"] == {
        "claimName": "old-backups",
        "readOnly": True,
    }
    # The scripts are there without a backup schedule; no CronJob.
    kinds = {o["kind"] for o in plan.apply}
    assert "ConfigMap" in kinds and "CronJob" not in kinds

    report = {**MANIFEST, "step": "restore", "restoredAt": T1}
    done = Observed(
        **{
            **db_ready(**{"demo-restore": job("demo-restore", "Complete", T1)}).__dict__,
            "backup_reports": {"demo-restore": report},
        }
    )
    plan = render(stack, done)
    assert [o["metadata"]["name"] for o in plan.create_only if o["kind"] == "Job"] == [
        plan.migration.job_name
    ]
    st = derive(stack, done, plan.migration, old_status={}, now=T1, paused=False)
    assert st["backup"]["restoredFrom"] == MANIFEST["name"]
    assert "lastVerified" not in st["backup"]  # a restore is not a backup
    _assert_in_schema(st["backup"])


def test_failed_restore_is_degraded_and_nothing_migrates() -> None:
    stack = bootstrap_stack({})
    failed = db_ready(**{"demo-restore": job("demo-restore", "Failed", T1)})
    plan = render(stack, failed)
    assert (plan.migration.state, plan.migration.reason) == ("Failed", "RestoreFailed")
    assert not [o for o in plan.create_only if o["kind"] == "Job"]
    restore = backup.restore_job(stack, stack.spec.postgres.bootstrap.from_backup)  # type: ignore[union-attr,arg-type]
    claim = restore["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]
    assert claim["claimName"] == "demo-backups"  # the stack's own retained claim by default


def test_a_stack_that_migrated_once_never_restores() -> None:
    stack = bootstrap_stack({})
    ran = obs(
        children={("StatefulSet", "demo-postgres"): {"status": {"readyReplicas": 1}}},
        applied_image="registry.local/dimini-backend:0.0.9",
    )
    plan = render(stack, ran)
    assert plan.migration.state == "Pending"
    assert [o["metadata"]["name"] for o in plan.create_only if o["kind"] == "Job"] == [
        plan.migration.job_name
    ]


def test_a_leftover_deployment_does_not_skip_the_restore() -> None:
    """A new stack of the same name may adopt the old stack's Deployment (still being garbage
    collected): only a migration recorded in status means the database was set up."""
    stack = bootstrap_stack({})
    container = {"name": "backend", "image": stack.spec.backend.image}
    leftover = {
        "metadata": {"name": "demo-backend"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }
    observed = obs(
        children={
            ("StatefulSet", "demo-postgres"): {"status": {"readyReplicas": 1}},
            ("Deployment", "demo-backend"): leftover,
        }
    )
    assert render(stack, observed).migration.state == "Restoring"


def test_the_restore_pod_report_is_read() -> None:
    """Found by the e2e drill: the restore container's termination message was ignored."""
    report = {**MANIFEST, "step": "restore", "restoredAt": T1}
    restore_pod = {
        "metadata": {"labels": {"batch.kubernetes.io/job-name": "demo-restore"}},
        "status": {
            "containerStatuses": [
                {"name": "restore", "state": {"terminated": {"message": json.dumps(report)}}}
            ]
        },
    }
    assert backup.pod_report(restore_pod) == report


def _backup_pods(stack: Stack) -> list[dict[str, Any]]:
    """The pod specs of every backup kind: scheduled, on demand, before a migration, restore."""
    cfg = backup.config(stack)
    assert cfg is not None
    jobs = [
        backup.cronjob(stack, cfg)["spec"]["jobTemplate"],
        backup.on_demand_job(stack, cfg, "r1"),
        backup.premigration_job(stack, cfg, "img:2"),
        backup.restore_job(stack, FromBackup()),
    ]
    return [job["spec"]["template"]["spec"] for job in jobs]


def test_backup_pods_get_little_cpu_so_a_dump_cannot_starve_the_app() -> None:
    """A dump compresses, and its verify restores, at full speed on every free core: on a small
    node that starves the backend (bench/backup measures it). A small request also ranks their
    CPU share below the app's under contention."""
    for pod in _backup_pods(backup_stack()):
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["resources"] == backup.DEFAULT_RESOURCES, container["name"]
    chosen = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2"}}
    for pod in _backup_pods(backup_stack({"resources": chosen})):
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["resources"] == chosen, container["name"]


S3 = {
    "endpoint": "https://s3.eu-central-1.amazonaws.com",
    "bucket": "dimini-backups",
    "prefix": "prod/demo",
    "region": "eu-central-1",
    "credentialsSecretRef": {"name": "backup-s3"},
    "encryption": {"secretRef": {"name": "backup-age"}},
}


def s3_pod(stack: Stack) -> dict[str, Any]:
    cron = by_key(render(stack, obs()).apply)[("CronJob", "demo-backup")]
    pod: dict[str, Any] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return pod


def test_s3_target_configures_rclone_by_env_with_credentials_from_the_secret() -> None:
    stack = backup_stack({"target": {"s3": S3}})
    plan = render(stack, obs())
    # No claim for an S3 target.
    assert not [o for o in plan.create_only if o["kind"] == "PersistentVolumeClaim"]
    pod = s3_pod(stack)
    assert restricted_violations(pod) == []
    for container in pod["initContainers"] + pod["containers"]:
        env = {e["name"]: e for e in container["env"]}
        values = {n: e.get("value") for n, e in env.items()}
        assert values["BACKUP_TARGET"] == "s3"
        assert values["S3_BUCKET"] == "dimini-backups"
        assert values["S3_PREFIX"] == "prod/demo"
        assert values["RCLONE_CONFIG_DIMINI_TYPE"] == "s3"
        assert values["RCLONE_CONFIG_DIMINI_ENDPOINT"] == S3["endpoint"]
        assert values["RCLONE_CONFIG_DIMINI_REGION"] == "eu-central-1"
        assert values["RCLONE_CONFIG_DIMINI_FORCE_PATH_STYLE"] == "true"
        assert values["AGE_IDENTITY_FILE"] == "/secrets/backup-encryption/identity"
        # The credentials only as references: never a value in the pod spec or an argument.
        assert env["RCLONE_CONFIG_DIMINI_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
            "name": "backup-s3",
            "key": "accessKeyId",
        }
        assert env["RCLONE_CONFIG_DIMINI_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
            "name": "backup-s3",
            "key": "secretAccessKey",
        }
        assert container["command"][0] == "sh" and len(container["command"]) == 2
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["backup-encryption"] == {
            "name": "backup-encryption",
            "mountPath": "/secrets/backup-encryption",
            "readOnly": True,
        }
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["backups"] == {"name": "backups", "emptyDir": {}}
    assert volumes["backup-encryption"]["secret"] == {
        "secretName": "backup-age",
        "items": [{"key": "identity", "path": "identity"}],
        "defaultMode": 0o440,
    }


def test_s3_optional_fields_and_virtual_hosted_style() -> None:
    minimal = {k: v for k, v in S3.items() if k not in ("prefix", "region")}
    stack = backup_stack({"target": {"s3": {**minimal, "forcePathStyle": False}}})
    (verify,) = s3_pod(stack)["containers"]
    values = {e["name"]: e.get("value") for e in verify["env"]}
    assert "S3_PREFIX" not in values and "RCLONE_CONFIG_DIMINI_REGION" not in values
    assert values["RCLONE_CONFIG_DIMINI_FORCE_PATH_STYLE"] == "false"
    # Defaulted as the API server does: path style unless told otherwise.
    cfg = backup_stack({"target": {"s3": minimal}}).spec.postgres.backup
    assert cfg is not None and cfg.target.s3 is not None
    assert cfg.target.s3.force_path_style is True


@pytest.mark.parametrize(
    "target",
    [{}, {"pvc": {}, "s3": S3}],
    ids=["neither", "both"],
)
def test_backup_target_needs_exactly_one_of_pvc_and_s3(target: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=TARGET_EXACTLY_ONE):
        backup_stack({"target": target})


def test_s3_target_requires_credentials_and_encryption() -> None:
    for missing in ("credentialsSecretRef", "encryption", "bucket", "endpoint"):
        with pytest.raises(ValidationError, match=missing):
            backup_stack({"target": {"s3": {k: v for k, v in S3.items() if k != missing}}})


def test_restore_from_an_s3_target_downloads_instead_of_mounting_a_claim() -> None:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["postgres"]["backup"] = {"target": {"s3": S3}}
    spec["postgres"]["bootstrap"] = {"fromBackup": {}}
    stack = make_stack(spec)
    (restore,) = [o for o in render(stack, db_ready()).create_only if o["kind"] == "Job"]
    pod = restore["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    values = {e["name"]: e.get("value") for e in container["env"]}
    assert values["BACKUP_TARGET"] == "s3"
    assert values["AGE_IDENTITY_FILE"] == "/secrets/backup-encryption/identity"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["backups"] == {"name": "backups", "emptyDir": {}}
    assert "backup-encryption" in volumes
    # A claimName restores from that claim, whatever the stack's own target.
    spec["postgres"]["bootstrap"] = {"fromBackup": {"claimName": "old-backups"}}
    (restore,) = [o for o in render(make_stack(spec), db_ready()).create_only if o["kind"] == "Job"]
    pod = restore["spec"]["template"]["spec"]
    values = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert "BACKUP_TARGET" not in values
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["backups"]["persistentVolumeClaim"]["claimName"] == "old-backups"
