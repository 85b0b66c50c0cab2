"""Therapist B gets 404 for every patient, session, graph and room of therapist A."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.backend.helpers import (
    BackendProcess,
    SocketRecorder,
    backend_env,
    create_patient,
    register_therapist,
    start_backend,
    start_session,
)


@pytest.fixture(scope="module")
def backend(
    migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BackendProcess]:
    log = tmp_path_factory.mktemp("tenancy") / "backend.log"
    process = start_backend(backend_env(migrated_url), log)
    yield process
    process.stop()


async def test_rest_routes_answer_404_for_another_therapists_resources(
    backend: BackendProcess,
) -> None:
    async with httpx.AsyncClient(base_url=backend.url) as client:
        owner = await register_therapist(client, "Owner")
        intruder = await register_therapist(client, "Intruder")
        patient = await create_patient(client, owner, email="private@example.org")
        session = await start_session(client, owner, patient["id"])
        pid, sid = patient["id"], session["id"]

        attempts: list[tuple[str, str, dict[str, object] | None]] = [
            ("GET", f"/api/patients/{pid}", None),
            ("PUT", f"/api/patients/{pid}", {"name": "Stolen"}),
            ("PATCH", f"/api/patients/{pid}", {"name": "Stolen"}),
            ("DELETE", f"/api/patients/{pid}", None),
            ("GET", f"/api/patients/{pid}/sessions", None),
            ("POST", "/api/sessions/start", {"patientId": pid}),
            ("GET", f"/api/sessions/{sid}", None),
            ("POST", f"/api/sessions/{sid}/end", None),
            ("POST", f"/api/sessions/{sid}/cancel", None),
            ("POST", f"/api/sessions/{sid}/transcript", {"text": "injected"}),
            ("GET", f"/api/sessions/{sid}/graph", None),
            ("GET", f"/api/sessions/{sid}/insights", None),
            ("GET", f"/api/sessions/{sid}/notes", None),
            ("GET", f"/api/sessions/{sid}/progress", None),
            ("GET", f"/api/sessions/{sid}/concerns", None),
            ("GET", f"/api/sessions/{sid}/summary", None),
            ("GET", f"/api/sessions/{sid}/transcript", None),
            ("GET", f"/api/sessions/{sid}/clinical-note", None),
            ("GET", f"/api/sessions/{sid}/clinical-note/draft", None),
            ("GET", f"/api/sessions/{sid}/clinical-note/versions", None),
            (
                "POST",
                f"/api/sessions/{sid}/clinical-note/versions",
                {"format": "dap", "sections": {"data": "", "assessment": "", "plan": ""}},
            ),
            ("GET", f"/api/sessions/{sid}/export.md", None),
            ("GET", f"/api/patients/{pid}/history", None),
            (
                "POST",
                f"/api/sessions/{sid}/tool-calls",
                {
                    "toolCallId": "intruder-1",
                    "name": "save_session_note",
                    "parameters": {"content": "x", "category": "insight"},
                },
            ),
        ]
        for method, url, body in attempts:
            response = await client.request(method, url, json=body, headers=intruder.headers)
            assert response.status_code == 404, (method, url, response.text)

        listing = await client.get("/api/patients", headers=intruder.headers)
        assert listing.json()["total"] == 0
        sessions = await client.get(
            "/api/sessions", params={"patientId": pid}, headers=intruder.headers
        )
        assert sessions.json()["total"] == 0

        # Nothing of the owner's changed.
        mine = await client.get(f"/api/sessions/{sid}", headers=owner.headers)
        assert mine.json()["status"] == "active"
        assert mine.json()["transcript"] == ""
        kept = await client.get(f"/api/patients/{pid}", headers=owner.headers)
        assert kept.json()["name"] == patient["name"]


async def test_socket_rooms_answer_404_for_another_therapists_session(
    backend: BackendProcess,
) -> None:
    async with httpx.AsyncClient(base_url=backend.url) as client:
        owner = await register_therapist(client, "Owner")
        intruder = await register_therapist(client, "Intruder")
        patient = await create_patient(client, owner)
        session = await start_session(client, owner, patient["id"])

        owner_socket, intruder_socket = SocketRecorder(), SocketRecorder()
        await owner_socket.connect(backend.url, owner.token)
        await intruder_socket.connect(backend.url, intruder.token)
        try:
            denied = await intruder_socket.client.call("join_session", {"sessionId": session["id"]})
            assert denied == {"ok": False, "status": 404, "detail": "Session not found"}
            joined = await owner_socket.client.call("join_session", {"sessionId": session["id"]})
            assert joined["ok"] is True
            await owner_socket.wait_for_event("graph_state")

            ended = await client.post(f"/api/sessions/{session['id']}/end", headers=owner.headers)
            assert ended.status_code == 200
            update = await owner_socket.wait_for_event("session_update")
            assert update == {"sessionId": session["id"], "status": "completed"}
            # The intruder was refused the room, so it saw none of the session's events.
            assert intruder_socket.received("session_update") == []
            assert intruder_socket.received("graph_state") == []
            assert intruder_socket.received("joined_session") == []
        finally:
            await owner_socket.disconnect()
            await intruder_socket.disconnect()


async def test_socket_connections_need_a_valid_token(backend: BackendProcess) -> None:
    import socketio

    for token in (None, "not-a-jwt"):
        recorder = SocketRecorder()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await recorder.connect(backend.url, token)
