"""Status of a stack derived from what was observed: conditions, phase, Events on transitions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dimini_operator.specs import backup, database, gateway, ingress, inplace, storage, tunnel
from dimini_operator.specs.common import LABEL_COMPONENT, Stack, image_hash, image_tag
from dimini_operator.specs.drift import same_image
from dimini_operator.specs.plan import (
    Migration,
    Observed,
    credentials_lost_message,
    database_ready,
    deployment_image,
    restore_progress,
)

CONDITION_TYPES = (
    "Ready",
    "DatabaseReady",
    "MigrationsApplied",
    "BackendReady",
    "FrontendReady",
    "IngressReady",
    # The HTTPRoute accepted by its Gateways (spec.gateway); otherwise the same as IngressReady.
    "RouteReady",
    "TunnelReady",
    # Informational: does not gate Ready (a stack serves without backups).
    "BackupVerified",
    # The data volume has spec.postgres.storage.size (specs/storage.py); does not gate Ready.
    storage.CONDITION,
    # kstatus (Helm 4 --wait, Flux, kpt) reads these two: Reconciling=True is InProgress,
    # Stalled=True is Failed, neither (with status.observedGeneration current) is Current.
    "Reconciling",
    "Stalled",
    # Kept for readers of the earlier status: Progressing mirrors Reconciling, Degraded Stalled
    # for the app's problems (a refused storage growth stalls but degrades nothing).
    "Progressing",
    "Degraded",
    "Paused",
    "CRDOutdated",  # only while the served CRD lacks fields the operator knows
)


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


def _deployment_ready(
    obj: dict[str, Any] | None, generation_matters: bool = True
) -> tuple[bool, str]:
    if obj is None:
        return False, "not created yet"
    spec_replicas = int(obj.get("spec", {}).get("replicas", 1) or 0)
    st = obj.get("status", {})
    ready = int(st.get("readyReplicas") or 0)
    updated = int(st.get("updatedReplicas") or 0)
    available = int(st.get("availableReplicas") or 0)
    gen = obj.get("metadata", {}).get("generation", 0)
    observed_gen = st.get("observedGeneration", 0)
    if generation_matters and observed_gen < gen:
        return False, "rollout not observed yet"
    if updated < spec_replicas or available < spec_replicas or ready < max(spec_replicas, 1):
        return False, f"{ready}/{spec_replicas} replicas ready, {updated} updated"
    return True, f"{ready}/{spec_replicas} replicas ready"


def _cond(ctype: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": ctype,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
    }


def _component(obj: dict[str, Any] | None, container: str) -> dict[str, Any]:
    if obj is None:
        return {}
    out: dict[str, Any] = {
        "replicas": int(obj.get("spec", {}).get("replicas", 0) or 0),
        "readyReplicas": int(obj.get("status", {}).get("readyReplicas") or 0),
    }
    image = deployment_image(obj, container)
    if image:
        out["image"] = image
    return out


def _progress_message(phase: str, mig: Migration, db: str, be: str, fe: str) -> str:
    if phase == "Migrating":
        return mig.message
    if phase == "Pending":
        return "creating the stack's children"
    return f"database: {db}; backend: {be}; frontend: {fe}"


def derive(
    stack: Stack,
    observed: Observed,
    mig: Migration,
    *,
    old_status: dict[str, Any],
    now: str,
    paused: bool,
    apply_errors: tuple[str, ...] = (),
    crd_missing: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The status the stack should have. `old_status` supplies lastTransitionTime values."""
    backend_obj = observed.get("Deployment", stack.child("backend"))
    frontend_obj = observed.get("Deployment", stack.child("frontend"))
    db_ok = database_ready(stack, observed)
    sts = observed.get("StatefulSet", stack.child("postgres"))
    db_msg = (
        "postgres is ready"
        if db_ok
        else ("postgres StatefulSet not created yet" if sts is None else "waiting for postgres pod")
    )
    db_reason = "PostgresReady" if db_ok else "PostgresNotReady"
    ext = stack.spec.postgres.external
    if ext is not None:
        # Not probed by the operator: the migration Job is the first to connect and gates rollouts.
        db_reason = "External"
        db_msg = f"external Postgres at {database.endpoint(stack)} (sslmode {ext.ssl_mode})"
    be_ok, be_msg = _deployment_ready(backend_obj)
    live = deployment_image(backend_obj, "backend")
    # An admission webhook may have pinned the rolled-out tag to a digest (drift.same_image).
    if be_ok and not (
        live == mig.applied_image
        or (live and mig.applied_image and same_image(mig.applied_image, live))
    ):
        be_ok, be_msg = False, "rolling out the migrated image"
    fe_ok, fe_msg = _deployment_ready(frontend_obj)
    if stack.spec.gateway:
        ing_ok, ing_reason, ing_msg = gateway.route_ready(
            stack, observed.get(gateway.KIND, stack.name)
        )
    elif stack.spec.ingress.enabled:
        ing_ok = all(observed.get("Ingress", n) is not None for n in ingress.names(stack))
        ing_reason, ing_msg = (
            ("Created", f"serving {stack.url}")
            if ing_ok
            else ("NotCreated", "ingress not created yet")
        )
    else:
        ing_ok, ing_reason, ing_msg = True, "Disabled", "ingress disabled"
    if tunnel.enabled(stack):
        # A crash-looping cloudflared (e.g. a bad token) means Hume's webhooks do not arrive.
        tun_ok, tun_msg = _deployment_ready(observed.get("Deployment", stack.child("tunnel")))
        tun_reason = "DeploymentReady" if tun_ok else "DeploymentNotReady"
        tun_msg = f"tunnel: {tun_msg}"
    else:
        tun_ok, tun_reason, tun_msg = True, "Disabled", "tunnel disabled"
    mig_ok = mig.state == "Applied"
    old_backup: dict[str, Any] = old_status.get("backup") or {}
    backup_status: dict[str, Any] | None = None
    if backup.config(stack) is None:
        bk_ok, bk_reason, bk_msg = False, "NotConfigured", "spec.postgres.backup is not set"
    else:
        jobs = [
            obj
            for (kind, name), obj in observed.children.items()
            if kind == "Job"
            and (obj.get("metadata", {}).get("labels") or {}).get(LABEL_COMPONENT)
            == backup.COMPONENT
            # A restore (bootstrap or in place) is not a backup.
            and not backup.is_restore(stack, obj)
        ]
        request = observed.backup_request
        handled = (
            request
            if request
            and observed.get("Job", backup.on_demand_job_name(stack, request)) is not None
            else None
        )
        outcome = backup.derive(stack, jobs, observed.backup_reports, old_backup, handled)
        backup_status = outcome.status
        bk_ok, bk_reason, bk_msg = outcome.condition

    restore = restore_progress(stack, observed, mig)
    problems: list[tuple[str, str]] = []
    if observed.credentials_lost:
        problems.append(("CredentialsLost", credentials_lost_message(stack)))
    if mig.state == "Failed":
        problems.append((mig.reason, mig.message))
    if observed.rotation_problem:
        problems.append(("CredentialsRotationFailed", observed.rotation_problem))
    if observed.secret_problems:
        problems.append(("SecretMissing", "; ".join(observed.secret_problems)))
    if restore.problem:
        problems.append(restore.problem)
    if apply_errors:
        problems.append(("ApplyFailed", "; ".join(apply_errors)))
    degraded = bool(problems)
    ready = db_ok and mig_ok and be_ok and fe_ok and ing_ok and tun_ok and not degraded
    # A storage growth leaves the app serving (Ready, phase and Degraded untouched) but counts
    # for kstatus: a running resize is Reconciling (helm --wait, Flux wait for it), a refused one
    # Stalled (Failed: the spec asks for a size the operator cannot reach until the class or the
    # claim changes, and saying Current would tell GitOps the change was made).
    growth = observed.storage_growth or storage.plan(stack, None)
    stalls = [*problems, *([(growth.reason, growth.message)] if growth.refused else [])]
    if paused:
        phase = "Paused"
    elif degraded:
        phase = "Degraded"
    elif restore.active:
        phase = "Restoring"
    elif ready:
        phase = "Ready"
    elif mig.state in ("Pending", "Running", "BackingUp", "Restoring") and (
        mig.applied_image is not None or database_ready(stack, observed)
    ):
        # A new stack's Job starts beside Postgres: until Postgres is ready, it provisions.
        phase = "Migrating"
    elif not observed.children:
        phase = "Pending"
    else:
        phase = "Provisioning"
    # Paused is neither progressing nor stalled: nothing is being changed on purpose.
    reconciling = (not ready or growth.in_progress or restore.active) and not stalls and not paused
    rec_reason, rec_msg = (
        ("Restoring", str((restore.record or {}).get("message")))
        if reconciling and restore.active
        else (growth.reason, growth.message)
        if reconciling and ready
        else (phase, _progress_message(phase, mig, db_msg, be_msg, fe_msg))
        if reconciling
        else ("Paused", "spec.paused is true: children are not changed")
        if paused
        else ("Idle", "nothing to do")
    )
    stalled_reason = stalls[0][0] if stalls else "AsExpected"
    stalled_msg = "; ".join(m for _, m in stalls) if stalls else "no problems"
    degraded_reason = problems[0][0] if problems else "AsExpected"
    degraded_msg = "; ".join(m for _, m in problems) if problems else "no problems"

    conditions = [
        _cond(
            "Ready",
            ready,
            "StackReady" if ready else "NotReady",
            "all components are ready" if ready else "waiting for components",
        ),
        _cond("DatabaseReady", db_ok, db_reason, db_msg),
        _cond("MigrationsApplied", mig_ok, mig.reason, mig.message),
        _cond(
            "BackendReady",
            be_ok,
            "DeploymentReady" if be_ok else "DeploymentNotReady",
            f"backend: {be_msg}",
        ),
        _cond(
            "FrontendReady",
            fe_ok,
            "DeploymentReady" if fe_ok else "DeploymentNotReady",
            f"frontend: {fe_msg}",
        ),
        _cond("IngressReady", ing_ok, ing_reason, ing_msg),
        _cond("RouteReady", ing_ok, ing_reason, ing_msg),
        _cond("TunnelReady", tun_ok, tun_reason, tun_msg),
        _cond("BackupVerified", bk_ok, bk_reason, bk_msg),
        _cond(storage.CONDITION, growth.ok, growth.reason, growth.message),
        _cond("Reconciling", reconciling, rec_reason, rec_msg),
        _cond("Stalled", bool(stalls), stalled_reason, stalled_msg),
        _cond("Progressing", reconciling, rec_reason, rec_msg),
        _cond("Degraded", degraded, degraded_reason, degraded_msg),
        _cond(
            "Paused",
            paused,
            "Paused" if paused else "NotPaused",
            "spec.paused is true: children are not changed"
            if paused
            else "the operator reconciles the stack",
        ),
    ]
    if crd_missing:
        # Present only while true (like a warning): the API server prunes these fields.
        conditions.append(
            _cond(
                "CRDOutdated",
                True,
                "FieldsNotServed",
                "the installed CRD is older than the operator and drops "
                + ", ".join(crd_missing)
                + ": upgrade the CRD (helm upgrade, or kubectl apply manifests/crds/)",
            )
        )
    old = {c.get("type"): c for c in old_status.get("conditions") or []}
    for cond in conditions:
        prev = old.get(cond["type"])
        if prev and prev.get("status") == cond["status"] and prev.get("lastTransitionTime"):
            cond["lastTransitionTime"] = prev["lastTransitionTime"]
        else:
            cond["lastTransitionTime"] = now
        cond["observedGeneration"] = stack.generation

    status: dict[str, Any] = {
        "observedGeneration": stack.generation,
        "phase": phase,
        "url": stack.url,
        "conditions": conditions,
        "backend": _component(backend_obj, "backend"),
        "frontend": _component(frontend_obj, "frontend"),
        "migration": {"job": mig.job_name},
    }
    restored = _restored_from(stack, observed, old_backup)
    if restored:
        backup_status = {**(backup_status or {}), "restoredFrom": restored}
    if backup_status:
        status["backup"] = backup_status
    if restore.record:
        status["restore"] = restore.record
    webhook_url = tunnel.webhook_url(stack)
    if webhook_url:
        status["webhookUrl"] = webhook_url
    premigration = _premigration_backup(stack, observed, mig, old_status)
    if premigration:
        status["migration"]["backup"] = premigration
    if mig.applied_image:
        status["version"] = image_tag(mig.applied_image)
        status["migration"]["image"] = mig.applied_image
        status["migration"]["revision"] = image_hash(mig.applied_image)
    return status


def _restored_from(stack: Stack, observed: Observed, old: dict[str, Any]) -> str | None:
    """The backup the database was loaded from (bootstrap.fromBackup), once restored."""
    if backup.from_backup(stack) is None:
        return None
    job = backup.restore_job_name(stack)
    report = observed.backup_reports.get(job) or {}
    if report.get("step") == "restore" and report.get("name"):
        return str(report["name"])
    return str(old["restoredFrom"]) if old.get("restoredFrom") else None


def _premigration_backup(
    stack: Stack, observed: Observed, mig: Migration, old_status: dict[str, Any]
) -> str | None:
    """The backup taken before migrating to the desired image (its name once reported)."""
    if backup.config(stack) is None:
        return None
    job = backup.premigration_job_name(stack, mig.desired_image)
    if observed.get("Job", job) is not None:
        report = observed.backup_reports.get(job) or {}
        return str(report.get("name") or job)
    old = old_status.get("migration") or {}
    # The Job is gone (TTL): keep what was recorded for this migration.
    if old.get("job") == mig.job_name and old.get("backup"):
        return str(old["backup"])
    return None


def events(old_status: dict[str, Any], new_status: dict[str, Any], mig: Migration) -> list[Event]:
    """Kubernetes Events to post for the transition from `old_status` to `new_status`."""
    out: list[Event] = []
    old_mig = {c.get("type"): c for c in old_status.get("conditions") or []}.get(
        "MigrationsApplied", {}
    )
    new_mig = {c["type"]: c for c in new_status["conditions"]}["MigrationsApplied"]
    if (old_mig.get("reason"), old_mig.get("status")) != (new_mig["reason"], new_mig["status"]):
        if mig.state == "Applied" and old_mig:
            out.append(Event("Normal", "MigrationSucceeded", mig.message))
        elif mig.state == "Failed":
            out.append(Event("Warning", "MigrationFailed", mig.message))
        elif mig.state == "Pending":
            out.append(Event("Normal", "MigrationStarted", mig.message))
    out += backup_events(old_status.get("backup") or {}, new_status.get("backup") or {})
    out += storage_events(old_status, new_status)
    out += restore_events(old_status.get("restore") or {}, new_status.get("restore") or {})
    old_phase = old_status.get("phase")
    new_phase = new_status["phase"]
    if old_phase != new_phase:
        degraded = {c["type"]: c for c in new_status["conditions"]}["Degraded"]
        message = f"phase {old_phase or 'None'} -> {new_phase}"
        if new_phase == "Degraded":
            message += f": {degraded['message']}"
        out.append(Event("Warning" if new_phase == "Degraded" else "Normal", new_phase, message))
    return out


def backup_events(old: dict[str, Any], new: dict[str, Any]) -> list[Event]:
    """A Warning for each new backup failure, a Normal Event for each newly verified backup."""
    out: list[Event] = []
    failure = new.get("lastFailure")
    if failure and failure != old.get("lastFailure"):
        what = failure.get("name") or failure.get("job")
        out.append(
            Event("Warning", "BackupFailed", f"backup {what} failed: {failure.get('message')}")
        )
    verified = new.get("lastVerified")
    if verified and verified != old.get("lastVerified"):
        name = verified.get("name") or verified.get("job")
        out.append(Event("Normal", "BackupVerified", f"backup {name} restored and verified"))
    return out


def restore_events(old: dict[str, Any], new: dict[str, Any]) -> list[Event]:
    """One Event per step an in-place restore reaches: a Warning when it failed."""
    phase = new.get("phase")
    if not phase or (old.get("request"), old.get("phase")) == (new.get("request"), phase):
        return []
    kind = "Warning" if phase == "Failed" else "Normal"
    return [Event(kind, inplace.EVENT_REASONS[str(phase)], str(new.get("message")))]


def storage_events(old_status: dict[str, Any], new_status: dict[str, Any]) -> list[Event]:
    """On a new StorageResized reason: the resize starting, its steps, its end, a refusal."""
    old = {c.get("type"): c for c in old_status.get("conditions") or []}.get(storage.CONDITION)
    new = {c["type"]: c for c in new_status["conditions"]}[storage.CONDITION]
    reason, message = new["reason"], new["message"]
    if old is not None and old.get("reason") == reason:
        return []
    if reason in storage.REFUSED:
        return [Event("Warning", reason, message)]
    if reason == "Resizing":
        return [Event("Normal", "StorageResizing", message)]
    if reason == "FileSystemResizePending":
        return [Event("Normal", reason, message)]
    if reason == "AsRequested" and old is not None and old.get("reason") in storage.IN_PROGRESS:
        return [Event("Normal", "StorageResized", message)]
    return []
