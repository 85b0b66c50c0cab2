"""Prometheus metrics of the operator (served by `start_metrics_server`)."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter(
    "dimini_operator_reconciles_total", "Reconciles of DiminiStacks by result.", ["result"]
)
RECONCILE_SECONDS = Histogram(
    "dimini_operator_reconcile_duration_seconds",
    "Duration of one reconcile of a DiminiStack.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
API_CALLS = Counter(
    "dimini_operator_api_calls_total",
    "Kubernetes API calls made by the reconciler, by verb and kind.",
    ["verb", "kind"],
)
API_ERRORS = Counter(
    "dimini_operator_api_errors_total",
    "Kubernetes API calls that failed, by verb, kind and HTTP status code.",
    ["verb", "kind", "code"],
)
API_RETRIES = Counter(
    "dimini_operator_api_retries_total",
    "Kubernetes API calls retried after a transient error (409/429/5xx/timeout), by verb, kind.",
    ["verb", "kind"],
)
ERRORS = Counter(
    "dimini_operator_errors_total", "Errors in reconciles or handlers, by where.", ["where"]
)
STACKS = Gauge("dimini_operator_stacks", "DiminiStacks the operator currently tracks.")
TRANSITIONS = Counter(
    "dimini_operator_phase_transitions_total",
    "Phase transitions of stacks, by new phase.",
    ["phase"],
)
CRD_OUTDATED = Gauge(
    "dimini_operator_crd_outdated",
    "1 when the served DiminiStack CRD lacks fields this operator knows (upgrade the CRD).",
)

STACK_CONDITION = Gauge(
    "dimini_operator_stack_condition",
    "1 when the stack's status condition is True, else 0; removed with the stack.",
    ["namespace", "stack", "condition"],
)
MIGRATION_FAILED = Gauge(
    "dimini_operator_migration_failed",
    "1 while the stack's current migration Job has failed, else 0.",
    ["namespace", "stack"],
)

BACKUP_LAST_VERIFIED = Gauge(
    "dimini_operator_backup_last_verified_timestamp_seconds",
    "Unix time of the stack's last backup verified by a restore (until the first one: when backups"
    " were enabled); only for stacks with backups.",
    ["namespace", "stack"],
)
BACKUP_FAILURES = Counter(
    "dimini_operator_backup_failures",
    "Backups and verifications that failed, by step (backup or verification).",
    ["namespace", "stack", "step"],
)

WRITE_VERBS = ("apply", "patch", "create", "delete")


def record_stack(
    namespace: str, stack: str, conditions: Iterable[Mapping[str, Any]], migration_failed: bool
) -> None:
    """Set the per-stack gauges from the status just derived (every reconcile, so an operator
    restart repopulates them without a status change)."""
    for cond in conditions:
        STACK_CONDITION.labels(namespace, stack, cond["type"]).set(
            1 if cond.get("status") == "True" else 0
        )
    MIGRATION_FAILED.labels(namespace, stack).set(1 if migration_failed else 0)


def _seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def record_backup(
    namespace: str,
    stack: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    enabled_at: str | None,
) -> None:
    """Set the backup gauge from status.backup (`new`; None: backups not configured) and count a
    failure that `old` did not have yet (the status carries it over restarts, so never twice).
    `enabled_at`: when backups were enabled (the CronJob's creation), the gauge's value until a
    backup is verified, so a stack that just enabled backups does not alert at once."""
    if new is None:
        with contextlib.suppress(KeyError):
            BACKUP_LAST_VERIFIED.remove(namespace, stack)
        return
    verified = (new.get("lastVerified") or {}).get("verifiedAt") or enabled_at
    if verified:
        BACKUP_LAST_VERIFIED.labels(namespace, stack).set(_seconds(str(verified)))
    failure = new.get("lastFailure")
    if failure and failure != (old or {}).get("lastFailure"):
        step = "verification" if str(failure.get("message", "")).startswith("verif") else "backup"
        BACKUP_FAILURES.labels(namespace, stack, step).inc()


def forget_stack(namespace: str, stack: str, condition_types: Iterable[str]) -> None:
    """Drop a deleted stack's series, so alerts do not fire on a stack that is gone."""
    # KeyError: that series was never set (the stack was deleted before its first reconcile).
    for kind in condition_types:
        with contextlib.suppress(KeyError):
            STACK_CONDITION.remove(namespace, stack, kind)
    with contextlib.suppress(KeyError):
        MIGRATION_FAILED.remove(namespace, stack)
    with contextlib.suppress(KeyError):
        BACKUP_LAST_VERIFIED.remove(namespace, stack)
    for step in ("backup", "verification"):
        with contextlib.suppress(KeyError):
            BACKUP_FAILURES.remove(namespace, stack, step)


def start_metrics_server(port: int, addr: str = "127.0.0.1") -> None:
    start_http_server(port, addr=addr)
