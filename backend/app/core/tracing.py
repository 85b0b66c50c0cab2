"""OpenTelemetry tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/observability.md).

Initialised by `create_app`, i.e. inside each uvicorn worker: the `opentelemetry-instrument`
wrapper patches only the process it starts, not the workers `uvicorn --workers` spawns. Spans go
over OTLP/HTTP (protobuf) in batches from a background thread; a collector that is down costs
dropped spans, never a slower or failed request.

Server spans are named by route template (FastAPI), database spans carry the statement (bound
parameters never), and the query string is removed from every server span: search terms are
patient data.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

from app import __version__
from app.core.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

# Probes and scrapes would be most of the spans and say nothing.
EXCLUDED_URLS = "/health,/ready,/metrics"
EXPORT_TIMEOUT_SECONDS = 5.0
# Attributes that carry the request target with its query string (old and stable semconv).
_QUERY_BEARING = ("http.target", "http.url", "url.full", "url.query")

_provider: TracerProvider | None = None


def tracer_provider(settings: Settings) -> TracerProvider | None:
    """The process's provider, built on first use when tracing is configured (one per worker)."""
    global _provider
    if settings.otel_exporter_otlp_endpoint is None:
        return None
    if _provider is None:
        # Imported here, not at the top: the SDK, exporter and instrumentations are a quarter
        # of a second of each worker's start, wasted when tracing is off (the default).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        resource = Resource.create(
            {
                "service.name": settings.otel_service_name,
                "service.version": __version__,
                "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
            }
        )
        provider = TracerProvider(
            resource=resource,
            sampler=ParentBased(TraceIdRatioBased(settings.otel_traces_sampler_arg)),
        )
        endpoint = str(settings.otel_exporter_otlp_endpoint).rstrip("/") + "/v1/traces"
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=EXPORT_TIMEOUT_SECONDS))
        )
        trace.set_tracer_provider(provider)
        # httpx (OpenAI, Hume) is patched process-wide, once.
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
        _provider = provider
    return _provider


def _path_only(span: Any, scope: dict[str, Any]) -> None:
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for key in _QUERY_BEARING:
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, "" if key == "url.query" else value.split("?", 1)[0])


def instrument_app(app: FastAPI, settings: Settings) -> None:
    provider = tracer_provider(settings)
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # see tracer_provider

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        server_request_hook=_path_only,
        # The per-message ASGI send/receive spans double the span count for no insight.
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: AsyncEngine, settings: Settings) -> None:
    provider = tracer_provider(settings)
    if provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor  # see above

    # The instrumentation declares "sqlalchemy < 2.1" (a bound set when 2.0 was the newest), and
    # otherwise instruments nothing; its engine events are unchanged in 2.1, and
    # tests/backend/test_tracing.py checks the database spans arrive with our pinned 2.1.
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )


def shutdown(settings: Settings) -> None:
    """Flushes the spans still queued (a worker's last requests) before the process exits."""
    if settings.otel_exporter_otlp_endpoint is not None and _provider is not None:
        _provider.force_flush(int(EXPORT_TIMEOUT_SECONDS * 1000))
