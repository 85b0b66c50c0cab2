"""`kubectl dimini backup`: the backup-now annotation, and waiting for its Job's verdict in
status.backup (docs/backup.md, Back up now)."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass

from dimini_operator import crd
from dimini_operator.kubectl_plugin.cluster import Cluster, Obj, as_stack
from dimini_operator.kubectl_plugin.errors import FAILED, PluginError
from dimini_operator.kubectl_plugin.table import parse_status
from dimini_operator.specs import backup

POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Request:
    value: str
    job: str


def new_value(now: datetime.datetime | None = None) -> str:
    # Microseconds: two requests in one second are still two backups (a value is acted on once).
    stamp = now or datetime.datetime.now(datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def request(cluster: Cluster, name: str, value: str | None = None) -> Request:
    obj = cluster.stack(name)
    stack = as_stack(obj)
    if backup.config(stack) is None:
        raise PluginError(
            f"{crd.KIND} {name!r} has no spec.postgres.backup: on-demand backups run with the "
            "scheduled ones' settings (docs/backup.md)"
        )
    value = value or new_value()
    cluster.annotate(name, {backup.BACKUP_NOW_ANNOTATION: value})
    return Request(value, backup.on_demand_job_name(stack, value))


def verdict(obj: Obj, req: Request) -> tuple[bool, str] | None:
    """(verified, message) once status.backup names the request's Job, else None."""
    bk = parse_status(obj).backup
    if bk is None:
        return None
    if bk.last_verified is not None and bk.last_verified.job == req.job:
        rec = bk.last_verified
        return True, f"backup {rec.name or rec.job} verified at {rec.verified_at}"
    if bk.last_failure is not None and bk.last_failure.job == req.job:
        return False, f"backup {req.job} failed: {bk.last_failure.message}"
    return None


def wait(
    cluster: Cluster,
    name: str,
    req: Request,
    timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """The verified backup's summary; PluginError(FAILED) on a failure or at the timeout."""
    deadline = clock() + timeout
    while True:
        obj = cluster.stack(name)
        result = verdict(obj, req)
        if result is not None:
            ok, message = result
            if not ok:
                raise PluginError(message, FAILED)
            return message
        if clock() >= deadline:
            bk = parse_status(obj).backup
            acted = bk is not None and bk.requested == req.value
            seen = (
                f"the operator started Job {req.job}, which has not been verified"
                if acted
                else "the operator has not acted on the request (is it running?)"
            )
            raise PluginError(
                f"timed out after {timeout:g}s waiting for backup {req.value!r}: {seen}", FAILED
            )
        sleep(min(POLL_SECONDS, max(deadline - clock(), 0.1)))
