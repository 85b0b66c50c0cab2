"""Accepted work survives the process: graph updates and a summary pending when a worker is
SIGKILLed are done by the next process (issue 12 #16, acceptance 6)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
from app.core.config import Settings
from app.core.db import create_engine, create_session_factory
from app.models import PendingJob
from app.services import durable_jobs
from app.services.background import BackgroundRunner
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.backend.helpers import (
    BackendProcess,
    backend_env,
    create_patient,
    register_therapist,
    start_session,
    wait_for,
)
from tests.support.postgres import PostgresServer

LINES = [
    "My sister Margaret called about the wedding in Lisbon.",
    "Work at the bakery has been exhausting and I feel anxious.",
    "I keep dreaming about the ocean and my grandfather.",
]
# One distinctive word per line that the offline extractor turns into a node.
EXPECTED = ["wedding", "bakery", "ocean"]


@contextlib.asynccontextmanager
async def blackhole() -> AsyncIterator[str]:
    """An "OpenAI" that accepts connections and never answers: every graph job hangs in it."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    finally:
        server.close()
        for writer in held:
            writer.close()


async def test_pending_graph_updates_and_summary_survive_a_sigkill(
    migrated_url: str, postgres: PostgresServer, tmp_path: Path
) -> None:
    database = migrated_url.rsplit("/", 1)[1]
    # One signing key for both processes, so the therapist's token outlives the first one.
    lease = {"BACKGROUND_JOB_LEASE_SECONDS": "1", "SECRET_KEY": "k" * 40}
    async with blackhole() as stuck_llm:
        doomed = BackendProcess(
            env=backend_env(
                migrated_url,
                OPENAI_API_KEY="sk-test",
                OPENAI_BASE_URL=stuck_llm,
                OPENAI_TIMEOUT_SECONDS="300",
                **lease,
            ),
            log_path=tmp_path / "doomed.log",
        )
        doomed.start()
        await doomed.wait_healthy()
        async with httpx.AsyncClient(base_url=doomed.url) as client:
            therapist = await register_therapist(client)
            patient = await create_patient(client, therapist)
            session_id = (await start_session(client, therapist, patient["id"]))["id"]
            for line in LINES:
                posted = await client.post(
                    f"/api/sessions/{session_id}/transcript",
                    json={"text": line},
                    headers=therapist.headers,
                )
                assert posted.status_code == 202
            ended = await client.post(f"/api/sessions/{session_id}/end", headers=therapist.headers)
            assert ended.status_code == 200
        pending = postgres.psql(
            f"SELECT kind FROM pending_jobs WHERE session_id = '{session_id}' ORDER BY id",  # noqa: S608
            database,
        )
        assert pending.split() == ["graph", "graph", "graph", "summary"]
        assert doomed.process is not None
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait()
        doomed.stop()

    # The next process (offline extraction this time) finds the work and does it.
    survivor = BackendProcess(
        env=backend_env(migrated_url, **lease), log_path=tmp_path / "survivor.log"
    )
    survivor.start()
    try:
        await survivor.wait_healthy()
        async with httpx.AsyncClient(base_url=survivor.url) as client:

            async def summarised() -> dict[str, object] | None:
                response = await client.get(
                    f"/api/sessions/{session_id}/summary", headers=therapist.headers
                )
                assert response.status_code == 200, response.text
                summary: dict[str, object] | None = response.json()["summary"]
                return summary

            await wait_for(summarised, within=60, interval=0.2)
            graph = (
                await client.get(f"/api/sessions/{session_id}/graph", headers=therapist.headers)
            ).json()
        labels = " ".join(node["label"] for node in graph["nodes"])
        for word in EXPECTED:
            assert word in labels, f"{word!r} missing from the graph: {labels}"
        assert (
            postgres.psql(
                f"SELECT count(*) FROM pending_jobs WHERE session_id = '{session_id}'",  # noqa: S608
                database,
            )
            == "0"
        )
    finally:
        survivor.stop()


class _DropsFirstSession:
    """A session factory whose first session fails as a dropped connection does; then real."""

    def __init__(self, real: async_sessionmaker[AsyncSession]) -> None:
        self._real = real
        self.failed = 0

    def __call__(self) -> Any:
        if self.failed == 0:
            self.failed += 1
            return _Failing()
        return self._real()


class _Failing:
    async def __aenter__(self) -> AsyncSession:
        raise ConnectionResetError("connection dropped under the claim")

    async def __aexit__(self, *_: object) -> None:
        return None


async def test_a_claim_that_fails_once_is_retried_not_left_for_a_whole_lease(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """One failed claim (a dropped connection, a full pool) left a transcript's graph update to
    the recovery scan, a whole lease (120 s) later, while the therapist's page waited."""
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    session_id = uuid.UUID((await start_session(client, therapist, patient["id"]))["id"])
    engine = create_engine(settings)
    try:
        real = create_session_factory(engine)
        async with real() as db:
            job = durable_jobs.add(db, session_id, "graph", "a line")
            await db.commit()
        ran: list[tuple[uuid.UUID, str | None]] = []

        async def handler(session: uuid.UUID, payload: str | None) -> None:
            ran.append((session, payload))

        runner = BackgroundRunner()
        flaky = _DropsFirstSession(real)
        # Duck-typed: DurableJobs only calls the factory and enters what it returns.
        factory = cast(async_sessionmaker[AsyncSession], flaky)
        jobs = durable_jobs.DurableJobs(runner, factory, {"graph": handler}, lease_seconds=120)
        jobs.start(job)
        await runner.idle()
        assert flaky.failed == 1, "the first claim was meant to fail"
        assert ran == [(session_id, "a line")], "the job waits for the recovery scan"
        async with real() as db:
            assert await db.get(PendingJob, job.id) is None, "the job's row is deleted when done"
    finally:
        await engine.dispose()
