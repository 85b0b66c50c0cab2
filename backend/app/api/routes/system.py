"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from app import __version__
from app.core.db import DatabaseProbe
from app.core.metrics import render_metrics
from app.migrate import head_revision, schema_is_compatible
from app.schemas.system import HealthOut, ReadyOut

router = APIRouter(tags=["system"])

CHECK_TIMEOUT_SECONDS = 3.0


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


@router.get("/health", response_model=HealthOut)
async def health(request: Request) -> HealthOut:
    """Liveness: always 200 while the process serves; reports the database without failing."""
    probe: DatabaseProbe = request.app.state.database_probe
    connected = await probe.answers()
    return HealthOut(database="connected" if connected else "disconnected", version=__version__)


async def _schema_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        return result.scalar_one_or_none()


@router.get("/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
async def ready(request: Request) -> JSONResponse:
    """Readiness: 200 only when the database answers and its schema is at the Alembic head, or
    ahead of it (a newer release's migration ran first; see app.migrate.schema_is_compatible)."""
    expected = head_revision()
    revision: str | None = None
    connected = False
    try:
        revision = await asyncio.wait_for(_schema_revision(_engine(request)), CHECK_TIMEOUT_SECONDS)
        connected = True
    except ProgrammingError:  # the database answers but has no alembic_version table yet
        connected = True
    except Exception:  # unreachable or timed out
        connected = False
    is_ready = connected and schema_is_compatible(revision)
    body = ReadyOut(
        status="ready" if is_ready else "not_ready",
        database="connected" if connected else "disconnected",
        schema_revision=revision,
        expected_revision=expected,
    )
    return JSONResponse(
        body.model_dump(mode="json", by_alias=True), status_code=200 if is_ready else 503
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}},
)
async def metrics() -> Response:
    payload, content_type = render_metrics()
    return Response(payload, media_type=content_type)
