"""The migration Job `<stack>-migrate-<short hash of the backend image>`."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs import backend, database
from dimini_operator.specs.common import Manifest, Stack, image_hash, metadata, pod_metadata

MIGRATE_COMMAND = ["python", "-m", "app.migrate"]
IMAGE_ANNOTATION = "dimini.io/backend-image"
# The Job's and its pod's app.kubernetes.io/component.
COMPONENT = "migration"
CONTAINER = "migrate"
# Of a failed pod's termination message (app.migrate writes one line; a crash leaves the log
# tail): enough to name the cause in the status.
REPORT_CHARS = 400


def job_name(stack: Stack, image: str) -> str:
    return stack.child(f"migrate-{image_hash(image)}")


def render(stack: Stack, image: str, name: str | None = None) -> Manifest:
    """The migration Job for `image`; `name` for a rerun (after an in-place restore)."""
    mig = stack.spec.backend.migration
    container: dict[str, Any] = {
        "name": CONTAINER,
        "command": list(MIGRATE_COMMAND),
        # app.migrate writes why it failed there (the stack's status carries it); a crash
        # before that leaves the (redacted) log tail.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod = backend.pod_spec(stack, image, container)
    if not database.external(stack):
        # The in-cluster Postgres may still be starting (a new stack's Job starts beside it):
        # app.migrate waits for it as long as the Job may run. An external one is not waited for.
        wait = {"name": "MIGRATE_WAIT_SECONDS", "value": str(mig.active_deadline_seconds)}
        pod["containers"][0]["env"] = [*pod["containers"][0]["env"], wait]
    pod["restartPolicy"] = "Never"
    meta = metadata(stack, name or job_name(stack, image), COMPONENT)
    meta["annotations"] = {IMAGE_ANNOTATION: image}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": mig.backoff_limit,
            "activeDeadlineSeconds": mig.active_deadline_seconds,
            "ttlSecondsAfterFinished": mig.ttl_seconds_after_finished,
            "template": {
                "metadata": pod_metadata(stack, COMPONENT, stack.spec.backend),
                "spec": pod,
            },
        },
    }


def job_state(job: dict[str, Any] | None) -> tuple[str, str, str]:
    """(state, reason, message) of a Job: Missing, Running, Succeeded or Failed."""
    if job is None:
        return "Missing", "", ""
    for cond in job.get("status", {}).get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return "Succeeded", "JobComplete", cond.get("message", "") or ""
        if cond.get("type") == "Failed":
            return "Failed", cond.get("reason") or "JobFailed", cond.get("message", "") or ""
    return "Running", "JobRunning", ""


def pod_report(pod: dict[str, Any]) -> str:
    """The termination message a migration pod's container left, else ""."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") != CONTAINER:
            continue
        message = ((cs.get("state") or {}).get("terminated") or {}).get("message") or ""
        return " ".join(message.split())[-REPORT_CHARS:]
    return ""
