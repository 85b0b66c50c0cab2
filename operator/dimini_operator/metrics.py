"""Prometheus metrics of the operator (served by `start_metrics_server`)."""

from __future__ import annotations

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

WRITE_VERBS = ("apply", "patch", "create", "delete")


def start_metrics_server(port: int, addr: str = "127.0.0.1") -> None:
    start_http_server(port, addr=addr)
