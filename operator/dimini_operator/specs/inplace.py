"""Restoring a stack's database in place (docs/backup.md, Restoring in place).

The annotation dimini.io/restore-in-place (backup.RESTORE_IN_PLACE_ANNOTATION) names a backup;
each new value runs, operator-side, one sequence: a safety backup of the current database (the
way back), the backend (and its HPA) at 0 until no backend pod exists, the restore Job against
the live Postgres (restore.sh, RESTORE_MODE replace), the migration rerun for the running image,
the backend back. status.restore records the request, the phase and the outcome; the next step
is decided from it and from the Jobs, which are named after the request: a dropped connection,
a re-apply or an operator restart continues the sequence and never restores twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dimini_operator.specs import backup, database, migration
from dimini_operator.specs.common import Manifest, Stack, digest
from dimini_operator.specs.model import BACKUP_NAME_PATTERN

ACTIVE = ("BackingUp", "ScalingDown", "Restoring", "Migrating")
# Event reasons by phase reached (a failure is a Warning RestoreFailed).
EVENT_REASONS = {
    "BackingUp": "RestoreBackingUp",
    "ScalingDown": "RestoreScalingDown",
    "Restoring": "RestoreRestoring",
    "Migrating": "RestoreMigrating",
    "Restored": "Restored",
    "Failed": "RestoreFailed",
}


def requested_backup(request: str) -> str:
    """The backup a request names: `<backup>` or `<backup>@<anything>` (a new value for the same
    backup restores it again)."""
    return request.split("@", 1)[0]


def _suffix(request: str) -> str:
    return digest(request, 10)


def safety_job_name(stack: Stack, request: str) -> str:
    return stack.child(f"backup-prerestore-{_suffix(request)}")


def restore_job_name(stack: Stack, request: str) -> str:
    return stack.child(f"restore-inplace-{_suffix(request)}")


def migration_job_name(stack: Stack, request: str) -> str:
    return stack.child(f"migrate-restored-{_suffix(request)}")


@dataclass(frozen=True)
class Progress:
    # status.restore (None: never requested).
    record: dict[str, Any] | None = None
    # The backend (and its HPA) at 0 replicas: while restoring, or after a failure that may
    # have changed the database.
    hold_backend: bool = False
    # Jobs to create now.
    create: list[Manifest] = field(default_factory=list)
    # (reason, message) for Degraded/Stalled.
    problem: tuple[str, str] | None = None

    @property
    def active(self) -> bool:
        return bool(self.record and self.record.get("phase") in ACTIVE)


def wants_pods(request: str | None, old: dict[str, Any] | None) -> bool:
    """Whether the handler must count backend pods (a restore runs or is asked for)."""
    old = old or {}
    return old.get("phase") in ACTIVE or bool(request and request != old.get("request"))


def _refusal(stack: Stack, wanted: str, applied_image: str | None, migrating: bool) -> str:
    if database.external(stack):
        return (
            "the stack uses an external Postgres: an in-place restore replaces the in-cluster "
            "database only; pg_restore the dump into the server instead (docs/backup.md)"
        )
    if backup.config(stack) is None:
        return "spec.postgres.backup is not set: no safety backup can be taken, nothing restored"
    if not re.fullmatch(BACKUP_NAME_PATTERN, wanted):
        return f"{wanted!r} is not a backup name (dimini-<timestamp>)"
    if applied_image is None or migrating:
        return "a migration is pending or running: request the restore again once it is done"
    return ""


def _settled(old: dict[str, Any], request: str | None) -> Progress:
    """A finished request: only a failure that may have changed the database holds the backend
    (until a new restore succeeds); Degraded while the failed request is still asked for."""
    if old.get("phase") != "Failed":
        return Progress(record=old or None)
    intact = bool(old.get("databaseIntact"))
    shown = not intact or request == old.get("request")
    problem = (
        (str(old.get("reason") or "RestoreFailed"), str(old.get("message"))) if shown else None
    )
    return Progress(record=old, hold_backend=not intact, problem=problem)


def progress(
    stack: Stack,
    *,
    request: str | None,
    old: dict[str, Any] | None,
    job: Callable[[str], dict[str, Any] | None],
    reports: dict[str, dict[str, Any]],
    migration_reports: dict[str, str],
    backend_pods: int | None,
    applied_image: str | None,
    migrating: bool,
) -> Progress:
    """The in-place restore's next step. Pure: from the annotation's value, status.restore,
    the Jobs, their pods' reports and the number of backend pods (None: not counted)."""
    old = dict(old or {})
    if old.get("phase") in ACTIVE:
        # The running request finishes first; a newer value starts after it.
        rec = old
    elif request and request != old.get("request"):
        wanted = requested_backup(request)
        rec = {"request": request, "backup": wanted}
        refused = _refusal(stack, wanted, applied_image, migrating)
        if refused:
            rec.update(
                phase="Failed",
                reason="RestoreRefused",
                message=f"restore of {wanted} refused: {refused}",
                databaseIntact=True,
            )
            return _settled(rec, request)
        rec["phase"] = "BackingUp"
    else:
        return _settled(old, request)
    req = str(rec["request"])
    wanted = str(rec["backup"])
    cfg = backup.config(stack)
    assert cfg is not None
    create: list[Manifest] = []

    def fail(reason: str, message: str, intact: bool) -> Progress:
        rec.update(phase="Failed", reason=reason, message=message, databaseIntact=intact)
        return _settled(rec, request if request is not None else req)

    safety = rec.get("safetyBackup") or "the safety backup"
    if rec["phase"] == "BackingUp":
        name = safety_job_name(stack, req)
        state, reason, message = migration.job_state(job(name))
        report = reports.get(name) or {}
        if state == "Failed":
            why = report.get("error") or f"{reason} {message}".strip()
            return fail(
                "SafetyBackupFailed",
                f"the safety backup before restoring {wanted}, Job {name}, failed: {why}; "
                "nothing was restored and the backend kept serving",
                True,
            )
        if state != "Succeeded":
            if state == "Missing":
                create.append(backup.safety_job(stack, cfg, name, req, wanted))
            rec["message"] = f"taking the safety backup (Job {name}) before restoring {wanted}"
            return Progress(record=rec, create=create)
        rec["safetyBackup"] = safety = str(report.get("name") or name)
        rec["phase"] = "ScalingDown"
    if rec["phase"] == "ScalingDown":
        if backend_pods != 0:
            left = "?" if backend_pods is None else backend_pods
            rec["message"] = (
                f"safety backup {safety} verified; scaling the backend to 0 so that nothing "
                f"writes during the restore ({left} pods left)"
            )
            return Progress(record=rec, hold_backend=True)
        rec["phase"] = "Restoring"
    if rec["phase"] == "Restoring":
        name = restore_job_name(stack, req)
        state, reason, message = migration.job_state(job(name))
        if state == "Failed":
            report = reports.get(name) or {}
            why = report.get("error") or f"{reason} {message}".strip()
            if report.get("intact") is True:
                return fail(
                    "RestoreFailed",
                    f"restoring {wanted}, Job {name}, failed: {why}; the database is unchanged "
                    "and the backend is back",
                    True,
                )
            return fail(
                "RestoreFailed",
                f"restoring {wanted}, Job {name}, failed: {why}; the database may be half "
                f"restored, so the backend stays at 0: restore the safety backup {safety} in "
                "place (docs/backup.md, Restoring in place)",
                False,
            )
        if state != "Succeeded":
            if state == "Missing":
                create.append(backup.restore_in_place_job(stack, cfg, name, req, wanted))
            rec["message"] = f"restoring {wanted} into the database: Job {name}"
            return Progress(record=rec, hold_backend=True, create=create)
        rec["phase"] = "Migrating"
    if rec["phase"] == "Migrating":
        name = migration_job_name(stack, req)
        image = applied_image or stack.spec.backend.image
        state, reason, message = migration.job_state(job(name))
        if state == "Failed":
            why = migration_reports.get(name) or f"{reason} {message}".strip()
            return fail(
                "RestoreMigrationFailed",
                f"{wanted} is restored but its migration for {image}, Job {name}, failed: "
                f"{why}; the backend stays at 0: fix the migration, or restore the safety "
                f"backup {safety} in place",
                False,
            )
        if state != "Succeeded":
            if state == "Missing":
                create.append(migration.render(stack, image, name))
            rec["message"] = f"{wanted} restored; migrating the schema for {image}: Job {name}"
            return Progress(record=rec, hold_backend=True, create=create)
    rec.update(
        phase="Restored",
        message=f"restored {wanted} in place and migrated it; safety backup {safety}",
    )
    rec.pop("reason", None)
    return Progress(record=rec)
