"""/health, /ready and /metrics, including a Postgres outage without restarting the backend."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import httpx
from app.migrate import head_revision

from tests.backend.helpers import (
    api_client,
    create_patient,
    make_settings,
    register_therapist,
    run_migrations,
    wait_for,
)
from tests.support.postgres import PostgresServer


async def test_ready_waits_for_the_schema_and_survives_a_postgres_restart(
    postgres: PostgresServer,
) -> None:
    database_url = postgres.url(postgres.create_database("ready"))  # starts without a schema
    async with api_client(make_settings(database_url)) as client:
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "healthy"
        assert health.json()["database"] == "connected"
        assert health.json()["version"]

        unmigrated = await client.get("/ready")
        assert unmigrated.status_code == 503
        assert unmigrated.json()["schemaRevision"] is None
        assert unmigrated.json()["database"] == "connected"

        run_migrations(database_url)
        ready = await client.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["schemaRevision"] == ready.json()["expectedRevision"]

        therapist = await register_therapist(client)
        patient = await create_patient(client, therapist, name="Committed Before Outage")

        postgres.stop()
        try:
            down = await client.get("/ready")
            assert down.status_code == 503
            assert down.json()["database"] == "disconnected"

            # /health re-checks the database at most once a second; it keeps answering 200.
            async def health_reports_outage() -> bool:
                alive = await client.get("/health")
                assert alive.status_code == 200
                return bool(alive.json()["database"] == "disconnected")

            await wait_for(health_reports_outage, within=10)
            unavailable = await client.get("/api/patients", headers=therapist.headers)
            assert unavailable.status_code == 503
        finally:
            postgres.start()

        async def ready_again() -> bool:
            return (await client.get("/ready")).status_code == 200

        await wait_for(ready_again, within=30)
        kept = await client.get(f"/api/patients/{patient['id']}", headers=therapist.headers)
        assert kept.status_code == 200
        assert kept.json()["name"] == "Committed Before Outage"
        after = await create_patient(client, therapist, name="Written After Outage")
        listing = await client.get("/api/patients", headers=therapist.headers)
        assert {item["id"] for item in listing.json()["items"]} == {patient["id"], after["id"]}


async def test_ready_is_503_when_the_schema_is_behind_head(
    postgres: PostgresServer, migrated_url: str
) -> None:
    database = migrated_url.rsplit("/", 1)[1]
    async with api_client(make_settings(migrated_url)) as client:
        assert (await client.get("/ready")).status_code == 200
        # Only one revision ships so far: "behind" is a database that was never stamped.
        postgres.psql("DELETE FROM alembic_version", database)
        try:
            behind = await client.get("/ready")
            assert behind.status_code == 503
            assert behind.json()["schemaRevision"] is None
            assert behind.json()["database"] == "connected"
        finally:
            postgres.psql(f"INSERT INTO alembic_version VALUES ('{head_revision()}')", database)  # noqa: S608


async def test_ready_stays_200_when_a_newer_release_migrated_first(
    postgres: PostgresServer, migrated_url: str
) -> None:
    """A rolling upgrade: the new release's Job migrates before the old pods are replaced."""
    database = migrated_url.rsplit("/", 1)[1]
    async with api_client(make_settings(migrated_url)) as client:
        postgres.psql("UPDATE alembic_version SET version_num = 'from_a_newer_release'", database)
        try:
            ahead = await client.get("/ready")
            assert ahead.status_code == 200
            assert ahead.json()["schemaRevision"] == "from_a_newer_release"
        finally:
            postgres.psql(f"UPDATE alembic_version SET version_num = '{head_revision()}'", database)  # noqa: S608


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    await client.get("/api/patients/00000000-0000-0000-0000-000000000000")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'dimini_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert 'route="/api/patients/{patient_id}",status="401"' in text
    assert "00000000-0000-0000-0000-000000000000" not in text


async def test_openapi_documents_every_route(migrated_url: str) -> None:
    # The interactive docs are served in development only (test_hardening covers production).
    async with api_client(make_settings(migrated_url, environment="development")) as client:
        spec = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    expected = {
        "/health",
        "/ready",
        "/metrics",
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/token",
        "/api/auth/me",
        "/api/auth/logout",
        "/api/patients",
        "/api/patients/{patient_id}",
        "/api/patients/{patient_id}/sessions",
        "/api/sessions",
        "/api/sessions/start",
        "/api/sessions/{session_id}",
        "/api/sessions/{session_id}/end",
        "/api/sessions/{session_id}/cancel",
        "/api/sessions/{session_id}/transcript",
        "/api/sessions/{session_id}/graph",
        "/api/sessions/{session_id}/insights",
        "/api/sessions/{session_id}/notes",
        "/api/sessions/{session_id}/progress",
        "/api/sessions/{session_id}/concerns",
        "/api/sessions/{session_id}/summary",
        "/api/sessions/{session_id}/tool-calls",
        "/api/hume/token",
        "/api/webhooks/hume",
        "/api/webhooks/hume/tool_call",
        "/api/webhooks/hume/chat_started",
        "/api/webhooks/hume/chat_ended",
    }
    assert expected <= set(spec["paths"])
    assert docs.status_code == 200


async def test_a_connection_lost_on_the_raw_driver_path_is_503(postgres: PostgresServer) -> None:
    """The patient list runs on the raw asyncpg connection (webperf): a connection killed under it
    (failover, admin shutdown) is "Database unavailable" with Retry-After, as on the ORM path,
    not a 500."""
    database = postgres.create_database("rawlost")
    database_url = postgres.url(database)
    run_migrations(database_url)
    async with api_client(make_settings(database_url)) as client:
        therapist = await register_therapist(client)
        await create_patient(client, therapist, name="Locked Out")
        holder = await asyncpg.connect(postgres.url(database, driver="postgresql"))
        try:
            lock = holder.transaction()
            await lock.start()
            await holder.execute("LOCK TABLE patients IN ACCESS EXCLUSIVE MODE")
            listing = asyncio.ensure_future(client.get("/api/patients", headers=therapist.headers))

            async def blocked_backend() -> int | None:
                pid = await holder.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
                    database,
                )
                return int(pid) if pid is not None else None

            pid = await wait_for(blocked_backend, within=15)
            await holder.execute("SELECT pg_terminate_backend($1)", pid)
            response = await asyncio.wait_for(listing, 15)
            await lock.rollback()
        finally:
            await holder.close()
    assert response.status_code == 503, response.text
    assert response.json() == {"detail": "Database unavailable"}
    assert response.headers["retry-after"] == "5"
