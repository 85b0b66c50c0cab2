"""The whole desired state of a stack, from the spec and what was observed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dimini_operator.kinds import PRUNED
from dimini_operator.specs import (
    availability,
    backend,
    backup,
    database,
    frontend,
    gateway,
    ingress,
    inplace,
    migration,
    networkpolicies,
    observability,
    postgres,
    secrets,
    serviceaccounts,
    storage,
    tunnel,
)
from dimini_operator.specs.common import Manifest, Stack, with_hash

Key = tuple[str, str]  # (kind, name)


@dataclass(frozen=True)
class Observed:
    """What the handler read from the cluster, reduced to plain data."""

    db_password: str
    secret_key: str
    children: dict[Key, dict[str, Any]] = field(default_factory=dict)
    # The data claim's growth (specs/storage.py), decided by the handler from the claim it read.
    storage_growth: storage.Growth | None = None
    # The role the backend connects as (spec.postgres.username, or the BYO Secret's).
    db_username: str | None = None
    # `<stack>-db` is gone while the data volume exists: its password is in the database only.
    credentials_lost: bool = False
    # Messages for referenced Secrets or keys that do not exist.
    secret_problems: tuple[str, ...] = ()
    # Digest of the data of the referenced Secrets (rolls the backend when it changes).
    config_checksum: str = ""
    # status.migration.image: the backend image whose migration last succeeded.
    applied_image: str | None = None
    # A credential rotation Job failed (specs/rotation.py): the message, else "".
    rotation_problem: str = ""
    # The stack's dimini.io/backup-now annotation, and the value status.backup.requested acted on.
    backup_request: str | None = None
    backup_requested: str | None = None
    # Backup Job name -> what its pod reported (specs/backup.py, pod_report).
    backup_reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Failed migration Job name -> its pod's termination message (specs/migration.py).
    migration_reports: dict[str, str] = field(default_factory=dict)
    # The stack's dimini.io/restore-in-place annotation and status.restore (specs/inplace.py).
    restore_request: str | None = None
    restore_status: dict[str, Any] | None = None
    # Backend pods that exist (terminating ones too), counted while a restore needs it.
    backend_pods: int | None = None

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.children.get((kind, name))


@dataclass(frozen=True)
class Migration:
    desired_image: str
    applied_image: str | None
    # Applied, WaitingForDatabase, Blocked, Restoring, BackingUp, Pending, Running, Failed
    state: str
    reason: str
    message: str
    job_name: str


@dataclass
class Plan:
    apply: list[Manifest]
    create_only: list[Manifest]
    keep: set[Key]
    migration: Migration
    restore: inplace.Progress = field(default_factory=inplace.Progress)


def database_ready(stack: Stack, observed: Observed) -> bool:
    if database.external(stack):
        return True  # the user's server: the migration Job finds out whether it answers
    sts = observed.get("StatefulSet", stack.child("postgres"))
    return bool(sts and (sts.get("status", {}).get("readyReplicas") or 0) >= 1)


def deployment_image(obj: dict[str, Any] | None, container: str) -> str | None:
    if not obj:
        return None
    for c in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
        if c.get("name") == container:
            return str(c.get("image"))
    return None


def plan_migration(stack: Stack, observed: Observed) -> Migration:
    desired = stack.spec.backend.image
    applied = observed.applied_image or deployment_image(
        observed.get("Deployment", stack.child("backend")), "backend"
    )
    name = migration.job_name(stack, desired)
    source = backup.from_backup(stack)
    # Keyed on status (a migration recorded), not on a leftover Deployment a new stack of the
    # same name may adopt; restore.sh leaves a database with a schema alone in any case.
    if source is not None and observed.applied_image is None:
        # A new stack from a backup: restore before the first migration.
        if not database_ready(stack, observed):
            return Migration(
                desired,
                applied,
                "WaitingForDatabase",
                "WaitingForDatabase",
                "waiting for Postgres before restoring the backup",
                name,
            )
        restore = backup.restore_job_name(stack)
        r_state, r_reason, r_message = migration.job_state(observed.get("Job", restore))
        if r_state == "Failed":
            detail = f": {r_message}" if r_message else ""
            return Migration(
                desired,
                applied,
                "Failed",
                "RestoreFailed",
                f"restoring the backup, Job {restore}, failed ({r_reason}){detail}",
                name,
            )
        if r_state != "Succeeded":
            return Migration(
                desired,
                applied,
                "Restoring",
                "RestoringBackup",
                f"restoring the backup before the first migration: Job {restore}",
                name,
            )
    if applied == desired:
        return Migration(
            desired, applied, "Applied", "Migrated", f"schema migrated for {desired}", name
        )
    state, reason, message = migration.job_state(observed.get("Job", name))
    if state == "Succeeded":
        return Migration(
            desired, desired, "Applied", "Migrated", f"schema migrated for {desired}", name
        )
    if state == "Failed":
        detail = f": {message}" if message else ""
        # The pod's own words (e.g. a TLS verification failure), after the Job's.
        report = observed.migration_reports.get(name)
        detail += f"; {report}" if report else ""
        return Migration(
            desired,
            applied,
            "Failed",
            reason,
            f"migration Job {name} failed ({reason}){detail}",
            name,
        )
    if state == "Running":
        return Migration(
            desired,
            applied,
            "Running",
            "MigrationRunning",
            f"migration Job {name} is running",
            name,
        )
    if observed.credentials_lost:
        return Migration(
            desired, applied, "Blocked", "CredentialsLost", credentials_lost_message(stack), name
        )
    if observed.secret_problems:
        return Migration(
            desired, applied, "Blocked", "SecretMissing", "; ".join(observed.secret_problems), name
        )
    # A new stack's Job starts beside its Postgres and waits for it (MIGRATE_WAIT_SECONDS): its
    # pod start and imports overlap initdb. An upgrade waits here, its old pods serving.
    if applied is not None and not database_ready(stack, observed):
        return Migration(
            desired,
            applied,
            "WaitingForDatabase",
            "WaitingForDatabase",
            "waiting for Postgres before migrating",
            name,
        )
    if backup.config(stack) is not None and applied is not None:
        # An upgrade of a database with data: a verified backup first, the restore point if
        # the new release's migration goes wrong (status.migration.backup names it).
        pre = backup.premigration_job_name(stack, desired)
        pre_state, pre_reason, pre_message = migration.job_state(observed.get("Job", pre))
        if pre_state == "Failed":
            detail = f": {pre_message}" if pre_message else ""
            return Migration(
                desired,
                applied,
                "Failed",
                "PreMigrationBackupFailed",
                f"the backup before migrating, Job {pre}, failed ({pre_reason}){detail}; the "
                "migration waits (delete the Job to try again)",
                name,
            )
        if pre_state != "Succeeded":
            return Migration(
                desired,
                applied,
                "BackingUp",
                "PreMigrationBackup",
                f"backing up and verifying before migrating: Job {pre}",
                name,
            )
    return Migration(
        desired, applied, "Pending", "MigrationStarted", f"migration Job {name} created", name
    )


def credentials_lost_message(stack: Stack) -> str:
    return (
        f'Secret "{stack.child("db")}" is gone but the data volume '
        f'"{postgres.pvc_name(stack)}" exists: its password lives only in the database, so none '
        "is generated; recreate the Secret with the old password, or set a new one inside "
        "Postgres and create the Secret with it (docs/operator.md, Credentials)"
    )


def restore_progress(stack: Stack, observed: Observed, mig: Migration) -> inplace.Progress:
    return inplace.progress(
        stack,
        request=observed.restore_request,
        old=observed.restore_status,
        job=lambda name: observed.get("Job", name),
        reports=observed.backup_reports,
        migration_reports=observed.migration_reports,
        backend_pods=observed.backend_pods,
        applied_image=observed.applied_image,
        migrating=mig.state != "Applied",
    )


def render(stack: Stack, observed: Observed) -> Plan:
    """Desired children of `stack`. Pure: same input, same output."""
    mig = plan_migration(stack, observed)
    restore = restore_progress(stack, observed, mig)
    objects: list[Manifest] = []
    # Generated credentials are created once, never applied over (see specs/secrets.py).
    create_only: list[Manifest] = []
    keep: set[Key] = set()
    connection = stack.child("connection")
    external_unread = database.external(stack) and not observed.db_password
    if observed.credentials_lost or external_unread:
        # No password to build the URL from (lost, or the external Secret is missing): keep
        # what the pods use.
        keep.add(("Secret", connection))
    else:
        db = secrets.db_secret(stack, observed.db_password)
        if db is not None:
            create_only.append(db)
        username = observed.db_username or stack.spec.postgres.username
        objects.append(secrets.connection_secret(stack, username, observed.db_password))
    create_only.append(secrets.app_secret(stack, observed.secret_key))
    objects += serviceaccounts.render(stack)
    objects += postgres.render(stack, observed.get("StatefulSet", stack.child("postgres")))
    objects += networkpolicies.render(stack)
    backend_name = stack.child("backend")
    if observed.secret_problems or observed.credentials_lost:
        # Without its Secrets the backend cannot start: keep what runs, change nothing.
        if observed.get("Deployment", backend_name):
            keep.add(("Deployment", backend_name))
    elif mig.applied_image:
        deployment = backend.deployment(stack, mig.applied_image, observed.config_checksum)
        if restore.hold_backend:
            # No writes while the database is replaced (or may be half restored).
            deployment["spec"]["replicas"] = 0
        objects.append(deployment)
    objects.append(backend.service(stack))
    objects += frontend.render(stack)
    # spec.gateway takes precedence: an HTTPRoute instead of the Ingress, never both.
    objects += gateway.render(stack) if stack.spec.gateway else ingress.render(stack)
    objects += availability.pdbs(stack)
    # An HPA would scale a held backend up again: it goes while the backend is held.
    objects += [
        h
        for h in availability.hpas(stack)
        if not (restore.hold_backend and h["metadata"]["name"] == backend_name)
    ]
    objects += tunnel.render(stack)
    objects += observability.render(stack)
    objects += backup.render(stack)
    # A new image's migration waits for a running restore in place (its own migration reruns).
    if mig.state == "Pending" and not restore.active:
        create_only.append(migration.render(stack, mig.desired_image))
    create_only += plan_backup(stack, observed, mig)
    create_only += restore.create
    apply = [with_hash(obj) for obj in objects]
    keep |= {(o["kind"], o["metadata"]["name"]) for o in apply + create_only}
    return Plan(apply=apply, create_only=create_only, keep=keep, migration=mig, restore=restore)


def plan_backup(stack: Stack, observed: Observed, mig: Migration) -> list[Manifest]:
    """What backups need created once: the target claim, the pre-migration backup, and an
    on-demand Job per new request."""
    out: list[Manifest] = []
    source = backup.from_backup(stack)
    if (
        source is not None
        and mig.state == "Restoring"
        and observed.get("Job", backup.restore_job_name(stack)) is None
    ):
        out.append(backup.restore_job(stack, source))
    cfg = backup.config(stack)
    if cfg is None:
        return out
    if (
        cfg.target.pvc is not None
        and observed.get("PersistentVolumeClaim", backup.pvc_name(stack)) is None
    ):
        out.append(backup.volume_claim(stack, cfg))
    pre = backup.premigration_job_name(stack, mig.desired_image)
    if mig.state == "BackingUp" and observed.get("Job", pre) is None:
        out.append(backup.premigration_job(stack, cfg, mig.desired_image))
    request = observed.backup_request
    if request and request != observed.backup_requested:
        out.append(backup.on_demand_job(stack, cfg, request))
    return out


def prunable(stack: Stack, plan: Plan, observed: Observed) -> list[Key]:
    """Children that exist, belong to the stack and are no longer desired."""
    return sorted(key for key in observed.children if key[0] in PRUNED and key not in plan.keep)
