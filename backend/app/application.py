"""Builds the FastAPI app and the Socket.IO server from validated settings."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import socketio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import __version__
from app.api.errors import install_error_handlers
from app.api.routes import auth, hume, patients, records, sessions, system, webhooks
from app.core import tracing
from app.core.config import Settings
from app.core.db import (
    DatabaseProbe,
    create_engine,
    create_read_session_factory,
    create_session_factory,
)
from app.core.logging import configure_logging
from app.core.metrics import MetricsMiddleware
from app.core.middleware import ASGIApp, BodyLimitMiddleware, SecurityHeadersMiddleware
from app.core.security import CSRF_HEADER, configure_password_hashing
from app.realtime.broadcast import SocketBroadcaster
from app.realtime.pg_manager import PostgresPubSubManager
from app.realtime.server import (
    SOCKETIO_PATH,
    create_socket_server,
    refuse_long_polling,
    register_handlers,
)
from app.services.background import BackgroundRunner
from app.services.graph.pipeline import GraphPipeline
from app.services.hume import HumeGateway

logger = logging.getLogger("app")

SHUTDOWN_DRAIN_SECONDS = 10.0


def asyncpg_dsn(settings: Settings) -> str:
    url = settings.database_url_object.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def create_app(settings: Settings) -> tuple[FastAPI, socketio.AsyncServer]:
    configure_logging(settings.log_level, settings.secret_values())
    configure_password_hashing(settings.password_hash_concurrency)
    manager = PostgresPubSubManager(
        asyncpg_dsn(settings), publish_timeout=settings.realtime_publish_timeout_seconds
    )
    sio = create_socket_server(settings, manager)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        tracing.instrument_engine(engine, settings)
        session_factory = create_session_factory(engine)
        runner = BackgroundRunner()
        app.state.engine = engine
        app.state.database_probe = DatabaseProbe(engine)
        app.state.session_factory = session_factory
        app.state.read_session_factory = create_read_session_factory(engine)
        app.state.runner = runner
        app.state.hume = HumeGateway(settings)
        broadcaster = SocketBroadcaster(sio)
        app.state.broadcaster = broadcaster
        app.state.pipeline = GraphPipeline(runner, session_factory, broadcaster, settings)
        register_handlers(sio, settings, session_factory)
        await manager.start()
        recovery = asyncio.create_task(app.state.pipeline.jobs.recover_forever())
        # Start-up objects live for the whole process: keep them out of every GC pass.
        gc.collect()
        gc.freeze()
        logger.info("backend started", extra={"version": __version__})
        try:
            yield
        finally:
            logger.info("backend shutting down")
            recovery.cancel()
            await runner.drain(SHUTDOWN_DRAIN_SECONDS)
            await manager.close()
            await engine.dispose()
            tracing.shutdown(settings)
            logger.info("backend stopped")

    app = FastAPI(
        title="Dimini API",
        version=__version__,
        description="Therapy sessions with a live knowledge graph. JSON keys are camelCase.",
        lifespan=lifespan,
        # Public API docs map the attack surface for anyone: development only.
        docs_url="/docs" if settings.api_docs_enabled else None,
        redoc_url="/redoc" if settings.api_docs_enabled else None,
        openapi_url="/openapi.json" if settings.api_docs_enabled else None,
        # Every route sits behind these: the body parsing and the body limit (BodyLimitMiddleware).
        responses={
            400: {"description": "Malformed request body (not JSON, or not UTF-8)"},
            413: {"description": "Request body over MAX_REQUEST_BODY_BYTES"},
        },
    )
    app.state.settings = settings
    app.state.sio = sio
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["Authorization", "Content-Type", CSRF_HEADER],
    )
    # Added last = outermost: the body limit applies before any other layer reads the body.
    app.add_middleware(
        SecurityHeadersMiddleware,
        hsts=settings.cookie_secure if settings.hsts_enabled is None else settings.hsts_enabled,
        exempt_prefixes=("/docs", "/redoc") if settings.api_docs_enabled else (),
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(MetricsMiddleware)
    install_error_handlers(app)
    tracing.instrument_app(app, settings)
    routers = (
        system.router,
        auth.router,
        patients.router,
        sessions.router,
        records.router,
        hume.router,
        webhooks.router,
    )
    for router in routers:
        app.include_router(router)
    return app, sio


def build_socket_app(app: FastAPI, sio: socketio.AsyncServer) -> ASGIApp:
    return refuse_long_polling(
        socketio.ASGIApp(sio, other_asgi_app=app, socketio_path=SOCKETIO_PATH)
    )
