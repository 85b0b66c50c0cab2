"""Verified backups: the scripts ConfigMap, the target volume claim, the CronJob and on-demand
Jobs (render), and what their pods report (status).

One pod per backup: the init container `backup` dumps the database to the volume with a
manifest (scripts/backup.sh); the container `verify` restores that dump into a throwaway
Postgres of the same image and checks it against the manifest, then applies retention
(scripts/verify.sh). Each writes its result as JSON to its termination message, which the
operator reads from the pod: the pods need no API access and the result survives the pod's
logs being gone.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from importlib import resources as package_files
from typing import Any

from dimini_operator.specs import database
from dimini_operator.specs.common import (
    Manifest,
    Stack,
    container_security_context,
    digest,
    image_hash,
    metadata,
    pod_metadata,
    pod_options,
    pod_security_context,
    resources,
    retained,
)
from dimini_operator.specs.model import Backup, BackupTarget, BackupVolume, FromBackup, S3Target

COMPONENT = "backup"
# Pods that connect to Postgres carry this label: the Postgres NetworkPolicy admits them.
POSTGRES_CLIENT_LABEL = "dimini.io/postgres-client"
# `kubectl annotate diministack <name> dimini.io/backup-now=<any new value>` backs up now.
BACKUP_NOW_ANNOTATION = "dimini.io/backup-now"
# On a pre-migration backup Job: the backend image whose migration waits for it.
PREMIGRATION_ANNOTATION = "dimini.io/before-migrating-to"
# `kubectl annotate diministack <name> dimini.io/restore-in-place=<backup>[@<anything new>]`
# restores that backup into the stack's own database (specs/inplace.py); a value is acted on once.
RESTORE_IN_PLACE_ANNOTATION = "dimini.io/restore-in-place"
# On the safety backup Job taken before an in-place restore: the restore request it serves.
BEFORE_RESTORE_ANNOTATION = "dimini.io/before-restoring"
SCRIPT_FILES = (
    "backup.sh",
    "verify.sh",
    "restore.sh",
    "store.sh",
    "facts.sql",
    "compare.sql",
)
SCRIPTS_MOUNT = "/scripts"
BACKUPS_MOUNT = "/backups"
ENCRYPTION_MOUNT = "/secrets/backup-encryption"
# The key of the age identity in spec...s3.encryption.secretRef, and of the S3 credentials.
AGE_IDENTITY_KEY = "identity"
ACCESS_KEY_ID_KEY = "accessKeyId"
SECRET_ACCESS_KEY_KEY = "secretAccessKey"  # noqa: S105 - a key name, not a secret
# rclone's remote name in the scripts (store.sh): RCLONE_CONFIG_DIMINI_* configure it.
RCLONE_REMOTE = "DIMINI"
# Finished on-demand Jobs are removed after a day (scheduled ones by the CronJob's history).
ON_DEMAND_TTL_SECONDS = 86400
HISTORY_LIMIT = 3


def scripts() -> dict[str, str]:
    root = package_files.files("dimini_operator.specs").joinpath("scripts")
    return {name: root.joinpath(name).read_text() for name in SCRIPT_FILES}


def config(stack: Stack) -> Backup | None:
    return stack.spec.postgres.backup


def cronjob_name(stack: Stack) -> str:
    return stack.child("backup")


def scripts_name(stack: Stack) -> str:
    return stack.child("backup-scripts")


def pvc_name(stack: Stack) -> str:
    return stack.child("backups")


def on_demand_job_name(stack: Stack, request: str) -> str:
    return stack.child(f"backup-now-{digest(request, 10)}")


def premigration_job_name(stack: Stack, image: str) -> str:
    return stack.child(f"backup-premigrate-{image_hash(image)}")


def scripts_configmap(stack: Stack) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(stack, scripts_name(stack), COMPONENT),
        "data": scripts(),
    }


def volume_claim(stack: Stack, cfg: Backup) -> Manifest:
    """Created once (a claim's spec cannot change); under deletionPolicy Retain it has no owner
    and outlives the stack, like the data volume: backups are for when the stack is gone."""
    pvc = cfg.target.pvc
    assert pvc is not None
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": pvc.size}},
    }
    if pvc.storage_class_name:
        spec["storageClassName"] = pvc.storage_class_name
    retain = stack.spec.deletion_policy == "Retain"
    meta = metadata(stack, pvc_name(stack), COMPONENT, owned=not retain)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": retained(meta) if retain else meta,
        "spec": spec,
    }


def _env(target: BackupTarget) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"name": "BACKUP_DIR", "value": BACKUPS_MOUNT},
        {"name": "TMPDIR", "value": "/tmp"},  # noqa: S108 - an emptyDir
    ]
    if target.s3 is not None:
        out += _s3_env(target.s3)
    return out


def _s3_env(s3: S3Target) -> list[dict[str, Any]]:
    """rclone configured by environment variables only: the credentials come from the Secret
    into the environment, never into arguments (visible in `ps`) or a file."""
    creds = s3.credentials_secret_ref.name
    conf = f"RCLONE_CONFIG_{RCLONE_REMOTE}_"

    def secret(key: str) -> dict[str, Any]:
        return {"secretKeyRef": {"name": creds, "key": key}}

    out: list[dict[str, Any]] = [
        {"name": "BACKUP_TARGET", "value": "s3"},
        {"name": "S3_BUCKET", "value": s3.bucket},
        *([{"name": "S3_PREFIX", "value": s3.prefix}] if s3.prefix else []),
        {"name": "AGE_IDENTITY_FILE", "value": f"{ENCRYPTION_MOUNT}/{AGE_IDENTITY_KEY}"},
        {"name": f"{conf}TYPE", "value": "s3"},
        {"name": f"{conf}PROVIDER", "value": "Other"},
        {"name": f"{conf}ENV_AUTH", "value": "false"},
        {"name": f"{conf}ENDPOINT", "value": s3.endpoint},
        *([{"name": f"{conf}REGION", "value": s3.region}] if s3.region else []),
        {"name": f"{conf}FORCE_PATH_STYLE", "value": str(s3.force_path_style).lower()},
        # The bucket must exist: no CreateBucket call (and no permission needed for one).
        {"name": f"{conf}NO_CHECK_BUCKET", "value": "true"},
        {"name": f"{conf}ACCESS_KEY_ID", "valueFrom": secret(ACCESS_KEY_ID_KEY)},
        {"name": f"{conf}SECRET_ACCESS_KEY", "valueFrom": secret(SECRET_ACCESS_KEY_KEY)},
    ]
    return out


def _volumes(stack: Stack, target: BackupTarget) -> list[dict[str, Any]]:
    """The backups volume (the claim; for S3 scratch space for the pod's own state), the
    scripts, /tmp, and for S3 the age identity."""
    if target.s3 is not None:
        backups: dict[str, Any] = {"name": "backups", "emptyDir": {}}
    else:
        backups = {"name": "backups", "persistentVolumeClaim": {"claimName": pvc_name(stack)}}
    out = [
        backups,
        {"name": "scripts", "configMap": {"name": scripts_name(stack), "defaultMode": 0o555}},
        {"name": "tmp", "emptyDir": {}},
    ]
    if target.s3 is not None:
        out.append(
            {
                "name": "backup-encryption",
                "secret": {
                    "secretName": target.s3.encryption.secret_ref.name,
                    "items": [{"key": AGE_IDENTITY_KEY, "path": AGE_IDENTITY_KEY}],
                    # Readable by the pod's group (fsGroup) only.
                    "defaultMode": 0o440,
                },
            }
        )
    return out


def _db_env(stack: Stack) -> list[dict[str, Any]]:
    secret = stack.db_secret_name
    return [
        {"name": "PGHOST", "value": database.host(stack)},
        {"name": "PGPORT", "value": str(database.port(stack))},
        {"name": "PGDATABASE", "value": database.name(stack)},
        {"name": "PGUSER", "valueFrom": {"secretKeyRef": {"name": secret, "key": "username"}}},
        {
            "name": "PGPASSWORD",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}},
        },
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
        *database.ssl_env(stack),
    ]


# A dump compresses, and a verify restores, at full speed on every free core, which starves
# the app on a small node; the small request also ranks their CPU share below the app's.
DEFAULT_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"cpu": "500m"},
}


def job_spec(stack: Stack, cfg: Backup) -> dict[str, Any]:
    pg = stack.spec.postgres
    mounts = [
        {"name": "backups", "mountPath": BACKUPS_MOUNT},
        {"name": "scripts", "mountPath": SCRIPTS_MOUNT, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir
    ]
    if cfg.target.s3 is not None:
        mounts.append(
            {"name": "backup-encryption", "mountPath": ENCRYPTION_MOUNT, "readOnly": True}
        )
    common: dict[str, Any] = {
        "image": pg.image,
        "securityContext": container_security_context(read_only_root=True),
        "volumeMounts": mounts,
        # The operator reads the result from here; FallbackToLogsOnError keeps a crash visible.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "resources": resources(cfg.resources) or copy.deepcopy(DEFAULT_RESOURCES),
    }
    dump: dict[str, Any] = {
        "name": "backup",
        "command": ["sh", f"{SCRIPTS_MOUNT}/backup.sh"],
        "env": _env(cfg.target) + _db_env(stack),
        **common,
        # Only the dump talks to the server; verify restores into its own throwaway Postgres.
        "volumeMounts": mounts + database.ca_mounts(stack),
    }
    retention = [{"name": "RETENTION_COUNT", "value": str(cfg.retention.count)}]
    if cfg.retention.max_age_days:
        retention.append(
            {"name": "RETENTION_MAX_AGE_DAYS", "value": str(cfg.retention.max_age_days)}
        )
    verify: dict[str, Any] = {
        "name": "verify",
        "command": ["sh", f"{SCRIPTS_MOUNT}/verify.sh"],
        "env": _env(cfg.target) + retention,
        **common,
    }
    pod_meta = pod_metadata(stack, COMPONENT, pg)
    pod_meta["labels"][POSTGRES_CLIENT_LABEL] = "true"
    return {
        # A failed backup or verification is reported, not retried into a second dump.
        "backoffLimit": 0,
        "activeDeadlineSeconds": cfg.active_deadline_seconds,
        "template": {
            "metadata": pod_meta,
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": stack.child("postgres"),
                "automountServiceAccountToken": False,
                "securityContext": pod_security_context(pg.run_as_user),
                "initContainers": [dump],
                "containers": [verify],
                "volumes": [*_volumes(stack, cfg.target), *database.ca_volumes(stack)],
                **pod_options(stack, pg),
            },
        },
    }


def cronjob(stack: Stack, cfg: Backup) -> Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(stack, cronjob_name(stack), COMPONENT),
        "spec": {
            "schedule": cfg.schedule,
            "suspend": cfg.suspend,
            # Two dumps at once would only compete for the same disk and database.
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": HISTORY_LIMIT,
            "failedJobsHistoryLimit": HISTORY_LIMIT,
            "jobTemplate": {
                "metadata": {"labels": metadata(stack, "", COMPONENT)["labels"]},
                "spec": job_spec(stack, cfg),
            },
        },
    }


def on_demand_job(stack: Stack, cfg: Backup, request: str) -> Manifest:
    meta = metadata(stack, on_demand_job_name(stack, request), COMPONENT)
    meta["annotations"] = {BACKUP_NOW_ANNOTATION: request}
    spec = job_spec(stack, cfg)
    spec["ttlSecondsAfterFinished"] = ON_DEMAND_TTL_SECONDS
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}


def premigration_job(stack: Stack, cfg: Backup, image: str) -> Manifest:
    """The backup taken and verified before the migration Job for `image` is created."""
    meta = metadata(stack, premigration_job_name(stack, image), COMPONENT)
    meta["annotations"] = {PREMIGRATION_ANNOTATION: image}
    spec = job_spec(stack, cfg)
    spec["ttlSecondsAfterFinished"] = ON_DEMAND_TTL_SECONDS
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}


def safety_job(stack: Stack, cfg: Backup, name: str, request: str, keep: str) -> Manifest:
    """The backup taken and verified before an in-place restore (the way back); its retention
    never removes `keep`, the backup the restore is about to load."""
    meta = metadata(stack, name, COMPONENT)
    meta["annotations"] = {BEFORE_RESTORE_ANNOTATION: request}
    spec = job_spec(stack, cfg)
    (verify,) = spec["template"]["spec"]["containers"]
    verify["env"] = [*verify["env"], {"name": "RETENTION_KEEP", "value": keep}]
    spec["ttlSecondsAfterFinished"] = ON_DEMAND_TTL_SECONDS
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}


def from_backup(stack: Stack) -> FromBackup | None:
    boot = stack.spec.postgres.bootstrap
    return boot.from_backup if boot else None


def restore_job_name(stack: Stack) -> str:
    return stack.child("restore")


def restore_job(stack: Stack, source: FromBackup) -> Manifest:
    """Loads the backup into the stack's (empty) database before its first migration: from the
    stack's S3 target when it has one (and no claimName is given), else from a claim."""
    cfg = config(stack) or Backup()
    if source.claim_name or cfg.target.s3 is None:
        cfg = cfg.model_copy(update={"target": BackupTarget(pvc=BackupVolume())})
    env = [{"name": "RESTORE_NAME", "value": source.name}] if source.name else []
    return _restore_job(stack, cfg, restore_job_name(stack), env, source.claim_name)


def restore_in_place_job(
    stack: Stack, cfg: Backup, name: str, request: str, wanted: str
) -> Manifest:
    """Replaces the live database's contents with backup `wanted` (restore.sh, RESTORE_MODE
    replace: checksum first, then one transaction), from the stack's own target."""
    env = [
        {"name": "RESTORE_NAME", "value": wanted},
        {"name": "RESTORE_MODE", "value": "replace"},
    ]
    job = _restore_job(stack, cfg, name, env, None)
    job["metadata"]["annotations"] = {RESTORE_IN_PLACE_ANNOTATION: request}
    return job


def is_restore(stack: Stack, job: dict[str, Any]) -> bool:
    """A restore Job (bootstrap or in place): it restores, it is not a backup."""
    meta = job.get("metadata") or {}
    return meta.get("name") == restore_job_name(stack) or RESTORE_IN_PLACE_ANNOTATION in (
        meta.get("annotations") or {}
    )


def _restore_job(
    stack: Stack, cfg: Backup, name: str, extra_env: list[dict[str, Any]], claim_name: str | None
) -> Manifest:
    spec = job_spec(stack, cfg)
    pod = spec["template"]["spec"]
    (dump,) = pod.pop("initContainers")
    env = [*dump["env"], *extra_env]
    pod["containers"] = [
        {**dump, "name": "restore", "command": ["sh", f"{SCRIPTS_MOUNT}/restore.sh"], "env": env}
    ]
    if cfg.target.pvc is not None:
        claim = claim_name or pvc_name(stack)
        for volume in pod["volumes"]:
            if volume["name"] == "backups":
                volume["persistentVolumeClaim"] = {"claimName": claim, "readOnly": True}
        pod["containers"][0]["volumeMounts"] = [
            {**m, "readOnly": True} if m["name"] == "backups" else m
            for m in pod["containers"][0]["volumeMounts"]
        ]
    spec["ttlSecondsAfterFinished"] = ON_DEMAND_TTL_SECONDS
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(stack, name, COMPONENT),
        "spec": spec,
    }


def render(stack: Stack) -> list[Manifest]:
    """The applied children (the claim and on-demand Jobs are created once, see plan)."""
    cfg = config(stack)
    out: list[Manifest] = []
    if cfg is not None or from_backup(stack) is not None:
        out.append(scripts_configmap(stack))
    if cfg is not None:
        out.append(cronjob(stack, cfg))
    return out


# --- what the pods report ----------------------------------------------------------------------


def pod_report(pod: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON a backup pod's containers left in their termination messages: verify's when it
    ran, the restore's, else backup's (a failed dump)."""
    st = pod.get("status") or {}
    by_name: dict[str, str] = {}
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        message = ((cs.get("state") or {}).get("terminated") or {}).get("message")
        if message:
            by_name[cs.get("name", "")] = message
    for name in ("verify", "restore", "backup"):
        raw = by_name.get(name)
        if raw is None:
            continue
        try:
            value = json.loads(raw.strip().splitlines()[-1])
        except (ValueError, IndexError):
            # Not our JSON (the script crashed and the kubelet fell back to the log tail).
            return {"error": raw.strip()[-300:]}
        if isinstance(value, dict):
            return value
    return None


@dataclass(frozen=True)
class Outcome:
    status: dict[str, Any]
    condition: tuple[bool, str, str]  # BackupVerified: ok, reason, message


def _job_finished(job: dict[str, Any]) -> tuple[str, str, str] | None:
    """(Complete|Failed, time, message) of a finished Job."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            when = cond.get("lastTransitionTime") or (job.get("status") or {}).get(
                "completionTime", ""
            )
            return cond["type"], str(when or ""), str(cond.get("message") or cond.get("reason"))
    return None


def _record(job: str, when: str, report: dict[str, Any] | None) -> dict[str, Any]:
    rep = report or {}
    out: dict[str, Any] = {"job": job, "time": rep.get("createdAt") or when}
    for key, field in (
        ("name", "name"),
        ("revision", "revision"),
        ("postgresVersion", "postgresVersion"),
        ("size", "size"),
        ("sha256", "sha256"),
        ("rowCounts", "rowCounts"),
    ):
        if rep.get(key) is not None:
            out[field] = rep[key]
    return out


def _newer(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if str(b.get(key, "")) > str(a.get(key, "")) else a


def _summary(rec: dict[str, Any]) -> str:
    rows = rec.get("rowCounts") or {}
    text = f"backup {rec.get('name') or rec.get('job')} verified at {rec.get('verifiedAt')}"
    if rec.get("revision"):
        text += f": revision {rec['revision']}"
    if rows:
        text += "; rows " + ", ".join(f"{k}={v}" for k, v in sorted(rows.items()))
    return text


def derive(
    stack: Stack,
    jobs: list[dict[str, Any]],
    reports: dict[str, dict[str, Any]],
    old: dict[str, Any],
    request: str | None,
) -> Outcome:
    """status.backup and the BackupVerified condition from the backup Jobs that exist (finished
    ones are removed after a while: `old` carries what they reported)."""
    last_backup = old.get("lastBackup")
    last_verified = old.get("lastVerified")
    last_failure = old.get("lastFailure")
    count = old.get("count")
    finished_jobs = [(j["metadata"]["name"], _job_finished(j)) for j in jobs]
    # Oldest first: the newest finished Job's count of backups on the target wins.
    for name, finished in sorted(
        ((n, f) for n, f in finished_jobs if f is not None), key=lambda item: item[1][1]
    ):
        state, when, message = finished
        report = reports.get(name)
        if state == "Complete":
            rec = _record(name, when, report)
            rec["verifiedAt"] = (report or {}).get("verifiedAt") or when
            last_backup = _newer(
                last_backup, {k: v for k, v in rec.items() if k != "verifiedAt"}, "time"
            )
            last_verified = _newer(last_verified, rec, "verifiedAt")
        else:
            rep = report or {}
            step = "verification" if rep.get("step") == "verify" else "backup"
            failure = {
                "job": name,
                "time": when,
                "message": f"{step} failed: {rep.get('error') or message}",
            }
            if rep.get("backup"):
                failure["name"] = rep["backup"]
            last_failure = _newer(last_failure, failure, "time")
            if step == "verification" and rep.get("backup"):
                # The dump was written (and is on the target) but does not count.
                last_backup = _newer(
                    last_backup, {"job": name, "name": rep["backup"], "time": when}, "time"
                )
        if report and isinstance(report.get("count"), int):
            count = report["count"]
    status: dict[str, Any] = {}
    for key, value in (
        ("lastBackup", last_backup),
        ("lastVerified", last_verified),
        ("lastFailure", last_failure),
        ("count", count),
        ("requested", request if request is not None else old.get("requested")),
    ):
        if value is not None:
            status[key] = value
    failed_last = last_failure is not None and (
        last_verified is None
        or str(last_failure.get("time", "")) > str(last_verified.get("verifiedAt", ""))
    )
    if failed_last:
        assert last_failure is not None
        point = (
            f"; restore point: {last_verified.get('name') or last_verified.get('job')}"
            if last_verified
            else "; no verified backup exists"
        )
        message = str(last_failure.get("message"))
        reason = "VerificationFailed" if message.startswith("verification") else "BackupFailed"
        condition = (False, reason, f"{message}{point}")
    elif last_verified is not None:
        condition = (True, "Verified", _summary(last_verified))
    else:
        cfg = config(stack)
        schedule = cfg.schedule if cfg else "-"
        condition = (False, "NoVerifiedBackup", f"no verified backup yet (schedule {schedule})")
    return Outcome(status, condition)
