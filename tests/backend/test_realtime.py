"""Socket.IO fan-out across backend processes through Postgres LISTEN/NOTIFY."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from app.realtime.pg_manager import PostgresPubSubManager
from app.services.events import session_room

from tests.backend.helpers import (
    BackendProcess,
    SocketRecorder,
    Therapist,
    backend_env,
    create_patient,
    register_therapist,
    start_backend,
    start_session,
    wait_for,
)
from tests.support.postgres import PostgresServer


@pytest.fixture(scope="module")
def backends(
    migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BackendProcess, BackendProcess]]:
    logs = tmp_path_factory.mktemp("realtime")
    env = backend_env(migrated_url)  # one SECRET_KEY: tokens work on both
    first = start_backend(env, logs / "first.log")
    second = start_backend(env, logs / "second.log")
    yield first, second
    first.stop()
    second.stop()


async def _owner_with_session(url: str) -> tuple[Therapist, str]:
    async with httpx.AsyncClient(base_url=url) as client:
        owner = await register_therapist(client, "Owner")
        patient = await create_patient(client, owner)
        session = await start_session(client, owner, patient["id"])
    return owner, str(session["id"])


async def _joined(url: str, token: str, session_id: str) -> SocketRecorder:
    recorder = SocketRecorder()
    await recorder.connect(url, token)
    joined = await recorder.client.call("join_session", {"sessionId": session_id})
    assert joined["ok"] is True
    await recorder.wait_for_event("joined_session")
    state = await recorder.wait_for_event("graph_state")
    assert state == {"nodes": [], "links": []}
    return recorder


async def test_an_event_published_by_one_process_reaches_a_client_of_the_other(
    backends: tuple[BackendProcess, BackendProcess],
) -> None:
    first, second = backends
    owner, session_id = await _owner_with_session(first.url)
    recorder = await _joined(first.url, owner.token, session_id)
    try:
        async with httpx.AsyncClient(base_url=second.url) as client:
            ended = await client.post(f"/api/sessions/{session_id}/end", headers=owner.headers)
            assert ended.status_code == 200
        update = await recorder.wait_for_event("session_update")
        assert update == {"sessionId": session_id, "status": "completed"}
    finally:
        await recorder.disconnect()


async def test_messages_larger_than_a_notify_payload_are_delivered(
    backends: tuple[BackendProcess, BackendProcess], migrated_url: str
) -> None:
    first, _ = backends
    owner, session_id = await _owner_with_session(first.url)
    recorder = await _joined(first.url, owner.token, session_id)
    dsn = migrated_url.replace("postgresql+asyncpg://", "postgresql://")
    emitter = PostgresPubSubManager(dsn, write_only=True)
    big = {"blob": "x" * 50_000}
    try:
        await emitter.emit("graph_batch_update", big, room=session_room(session_id))
        assert await recorder.wait_for_event("graph_batch_update") == big
    finally:
        await emitter.close()
        await recorder.disconnect()


async def test_fan_out_resumes_after_postgres_restarts(
    backends: tuple[BackendProcess, BackendProcess],
    postgres: PostgresServer,
    migrated_url: str,
) -> None:
    first, second = backends
    owner, session_id = await _owner_with_session(first.url)
    recorder = await _joined(first.url, owner.token, session_id)
    emitter = PostgresPubSubManager(
        migrated_url.replace("postgresql+asyncpg://", "postgresql://"), write_only=True
    )
    try:
        postgres.stop()
        postgres.start()

        # The listener of the first process reconnects in the background: probe until it hears.
        async def listener_back() -> bool:
            await emitter.emit("probe", {"n": 1}, room=session_room(session_id))
            return bool(recorder.received("probe"))

        await wait_for(listener_back, within=30, interval=0.2)

        # The second process publishes over a fresh connection after the restart.
        async with httpx.AsyncClient(base_url=second.url) as client:
            cancelled = await client.post(
                f"/api/sessions/{session_id}/cancel", headers=owner.headers
            )
            assert cancelled.status_code == 200
        update = await recorder.wait_for_event("session_update")
        assert update == {"sessionId": session_id, "status": "cancelled"}
    finally:
        await emitter.close()
        await recorder.disconnect()


async def test_transcript_events_arrive_in_pipeline_order(
    backends: tuple[BackendProcess, BackendProcess],
) -> None:
    first, second = backends
    owner, session_id = await _owner_with_session(first.url)
    recorder = await _joined(first.url, owner.token, session_id)
    try:
        async with httpx.AsyncClient(base_url=second.url) as client:
            response = await client.post(
                f"/api/sessions/{session_id}/transcript",
                json={"text": "I'm stressed about work and I can't sleep."},
                headers=owner.headers,
            )
            assert response.status_code == 202
        metrics = await recorder.wait_for_event("metrics_updated", within=30)
        names = [name for name, _ in recorder.events]
        assert names.index("processing_update") < names.index("graph_batch_update")
        assert names.index("graph_batch_update") < names.index("metrics_updated")
        statuses = [data["status"] for data in recorder.received("processing_update")]
        assert statuses[:4] == ["extracting", "embedding", "linking", "done"]
        batch = recorder.received("graph_batch_update")[0]
        assert {node["type"] for node in batch["nodes"]} == {"topic", "emotion"}
        assert batch["edges"]
        assert {node["id"] for node in metrics["nodes"]} == {node["id"] for node in batch["nodes"]}
    finally:
        await recorder.disconnect()


async def test_each_tool_writes_and_broadcasts(
    backends: tuple[BackendProcess, BackendProcess],
) -> None:
    first, second = backends
    owner, session_id = await _owner_with_session(first.url)
    recorder = await _joined(first.url, owner.token, session_id)
    calls = {
        "save_session_note": (
            {"content": "Sleep and mood", "category": "observation"},
            "note_added",
            "notes",
        ),
        "mark_progress": (
            {"progress_type": "insight_gained", "description": "Named a trigger"},
            "progress_marked",
            "progress",
        ),
        "flag_concern": (
            {"concern_type": "risk_behavior", "severity": "high", "description": "Skipping meals"},
            "concern_flagged",
            "concerns",
        ),
    }
    try:
        async with httpx.AsyncClient(base_url=second.url) as client:
            for name, (parameters, event, records) in calls.items():
                response = await client.post(
                    f"/api/sessions/{session_id}/tool-calls",
                    json={
                        "toolCallId": f"{name}-{session_id}",
                        "name": name,
                        "parameters": parameters,
                    },
                    headers=owner.headers,
                )
                assert response.json()["isError"] is False
                broadcast = await recorder.wait_for_event(event)
                assert broadcast["sessionId"] == session_id
                listing = await client.get(
                    f"/api/sessions/{session_id}/{records}", headers=owner.headers
                )
                assert listing.json()["total"] == 1
        # Notes and concerns also join the graph.
        await recorder.wait_for_event("graph_batch_update", within=30)
    finally:
        await recorder.disconnect()


async def test_a_transcript_line_reaches_the_room_as_a_declared_event(
    backends: tuple[BackendProcess, BackendProcess],
) -> None:
    from app.schemas.events import TranscriptEntryAdded

    first, second = backends
    owner, session_id = await _owner_with_session(first.url)
    recorder = await _joined(first.url, owner.token, session_id)
    try:
        async with httpx.AsyncClient(base_url=second.url) as client:
            posted = await client.post(
                f"/api/sessions/{session_id}/transcript",
                json={"text": "How did the week go?", "speaker": "therapist"},
                headers=owner.headers,
            )
            assert posted.status_code == 202
            listed = await client.get(
                f"/api/sessions/{session_id}/transcript", headers=owner.headers
            )
        event = await recorder.wait_for_event("transcript_entry")
        # The wire payload is exactly the declared model's (what the TypeScript types describe).
        assert TranscriptEntryAdded.model_validate(event).wire() == event
        (entry,) = listed.json()["entries"]
        assert event == {"sessionId": session_id, **entry}
    finally:
        await recorder.disconnect()
