"""What MetricsMiddleware costs per request, beside a no-metrics floor measured in the same run.

The app is a FastAPI route (route templates are what the middleware reads) called through ASGI
in-process, so the figure is the middleware's own cost without sockets or uvicorn. Floor: the
same app without the middleware, in the same process, in alternating batches (drift hits both
alike); median CPU time per request over the batches. Twice: with prometheus-client's
single-process registry (a one-worker backend) and in multiprocess mode (several workers: values
in mmap'd files), each in its own subprocess as the mode is chosen at import; and with tracing on
as well (core/tracing.py's FastAPI instrumentation, spans dropped by the exporter).

    .venv/bin/python bench/backend/metrics_bench.py [--batches 40 --size 500]   # ~1 min
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any


def build(with_metrics: bool, traced: bool = False) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    @app.get("/api/patients/{patient_id}")
    async def patient(patient_id: str) -> PlainTextResponse:
        return PlainTextResponse("ok")

    if with_metrics:
        from app.core.metrics import MetricsMiddleware

        app.add_middleware(MetricsMiddleware)
    if traced:
        _trace(app)
    return app


def _trace(app: Any) -> None:
    """core/tracing.py's FastAPI instrumentation, spans batched to an exporter that drops them
    (what a request pays; the export itself runs on the batch processor's thread)."""
    from app.core.tracing import EXCLUDED_URLS
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Dropping(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropping()))
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )


SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/api/patients/123",
    "raw_path": b"/api/patients/123",
    "query_string": b"",
    "headers": [],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 80),
}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


async def batch(app: Any, requests: int) -> float:
    """CPU seconds per request over one batch: CPU time, not wall time, as other processes on a
    shared machine take turns on the cores without adding to this one's CPU time."""
    started = time.process_time()
    for _ in range(requests):
        await app(dict(SCOPE), _receive, _send)
    return (time.process_time() - started) / requests


async def interleaved(batches: int, size: int) -> dict[str, float]:
    apps = {"floor": build(False), "metrics": build(True), "traced": build(True, traced=True)}
    for app in apps.values():  # warm-up: routes compiled, labelled children created
        await batch(app, 500)
    seen: dict[str, list[float]] = {kind: [] for kind in apps}
    for _ in range(batches):
        for kind, app in apps.items():
            seen[kind].append(await batch(app, size))
    return {kind: statistics.median(values) for kind, values in seen.items()}


def in_subprocess(batches: int, size: int, multiproc_dir: str | None) -> dict[str, float]:
    # prometheus-client picks multiprocess mode when the variable is present at all, at import.
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if multiproc_dir:
        env["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
    args = ["--one", "--batches", str(batches), "--size", str(size)]
    out = subprocess.run(
        [sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(interleaved(args.batches, args.size))))
        return
    print(f"{'registry':<28}{'µs/request':>12}{'floor µs':>10}{'ratio':>8}{'added µs':>10}")
    with tempfile.TemporaryDirectory() as directory:
        for label, multiproc_dir in (("single process", None), ("multiprocess", directory)):
            result = in_subprocess(args.batches, args.size, multiproc_dir)
            floor = result["floor"]
            for variant, name in (("metrics", label), ("traced", f"{label} + tracing")):
                figure = result[variant]
                print(
                    f"{name:<28}{figure * 1e6:>12.1f}{floor * 1e6:>10.1f}"
                    f"{figure / floor:>8.3f}{(figure - floor) * 1e6:>10.1f}"
                )


if __name__ == "__main__":
    main()
