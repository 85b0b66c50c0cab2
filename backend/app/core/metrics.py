"""Prometheus metrics of the backend (docs/observability.md lists them).

With several uvicorn workers, each is a process with its own counters; `python -m app.serve` sets
PROMETHEUS_MULTIPROC_DIR to a fresh directory per container start (the pod's /tmp), and /metrics
aggregates every worker through prometheus-client's multiprocess mode. Counters and histograms sum
across workers; the one gauge (connected sockets) is `livesum`, and the files of workers that died
are dropped at collection (`_forget_dead_workers`) so a crashed worker's sockets stop counting.

Names follow Prometheus' conventions (`dimini_` prefix, base units, `_total` counters); the chart's
rules and dashboard may only use names declared here (tests/monitoring checks it).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GRAPH_STAGES = ("extract", "embed", "link", "metrics", "summary")
WEBHOOK_OUTCOMES = (
    "recorded",
    "ignored",
    "bad_signature",
    "missing_signature",
    "stale",
    "not_configured",
    "malformed",
)

# Every metric of the backend is registered here, in the default registry, so a test can list them.
HTTP_REQUESTS = Counter(
    "dimini_http_requests_total",
    "HTTP requests by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "dimini_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SOCKET_CONNECTIONS = Counter(
    "dimini_socketio_connections_total",
    "Socket.IO connection attempts by outcome (accepted, refused).",
    ["outcome"],
)
SOCKET_CONNECTED = Gauge(
    "dimini_socketio_connected_clients",
    "Socket.IO clients connected now (summed over the live workers).",
    multiprocess_mode="livesum",
)
SOCKET_EVENTS = Counter(
    "dimini_socketio_events_total",
    "Socket.IO events by name and direction (in: from clients, out: emitted by the server).",
    ["event", "direction"],
)
GRAPH_STAGE_SECONDS = Histogram(
    "dimini_graph_stage_duration_seconds",
    f"Duration of each graph pipeline stage ({', '.join(GRAPH_STAGES)}).",
    ["stage"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
WEBHOOKS = Counter(
    "dimini_webhooks_total",
    f"Hume webhooks by outcome ({', '.join(WEBHOOK_OUTCOMES)}).",
    ["outcome"],
)
LOGIN_ATTEMPTS = Counter("dimini_login_attempts_total", "Login attempts by outcome.", ["outcome"])
BACKGROUND_JOBS = Counter(
    "dimini_background_jobs_total",
    "Background jobs (graph, metrics, summary) by kind and outcome.",
    ["kind", "outcome"],
)


@contextmanager
def graph_stage(stage: str) -> Iterator[None]:
    """Times one pipeline stage, failed or not (failures are counted by BACKGROUND_JOBS)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        GRAPH_STAGE_SECONDS.labels(stage).observe(time.perf_counter() - started)


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _forget_dead_workers(directory: str) -> None:
    # uvicorn restarts a crashed worker without a hook to tell prometheus-client; a dead pid's
    # live gauges would count its sockets forever. Counters stay: totals must never go back.
    for path in Path(directory).glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.search(path.name)
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), directory)  # type: ignore[no-untyped-call]


def render_metrics() -> tuple[bytes, str]:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        _forget_dead_workers(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """RED per route *template* (bounded label cardinality). Pure ASGI and cheap: the labelled
    children are cached per (method, template, status), skipping prometheus-client's label
    validation and lock on every request (bench/backend/metrics_bench.py measures the cost)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        if method not in _METHODS:
            method = "other"  # a client's made-up verb must not become a label value
        histogram = self._histograms.get((method, template))
        if histogram is None:
            histogram = self._histograms[(method, template)] = HTTP_LATENCY.labels(method, template)
        counter = self._counters.get((method, template, status))
        if counter is None:
            counter = self._counters[(method, template, status)] = HTTP_REQUESTS.labels(
                method, template, str(status)
            )
        counter.inc()
        histogram.observe(elapsed)
