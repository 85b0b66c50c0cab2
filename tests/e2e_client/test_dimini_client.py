"""The e2e client and health prober, proven against a real backend process on the host.

The Ingress is not here, so the Host header cannot be proven by routing; a capturing socket shows
instead that both the REST calls and the WebSocket upgrade carry it.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from tests.backend.helpers import (
    PASSWORD,
    BackendProcess,
    backend_env,
    run_migrations,
    start_backend,
)
from tests.e2e.dimini_client import DiminiClient
from tests.e2e.health_prober import HealthProber

HOST = "dimini.localhost"
SIGNING_KEY = "e2e-client-webhook-signing-key"


@pytest.fixture
def backend(database_url: str, tmp_path: Path) -> Iterator[BackendProcess]:
    run_migrations(database_url)
    env = backend_env(database_url, HUME_WEBHOOK_SIGNING_KEY=SIGNING_KEY)
    process = start_backend(env, tmp_path / "backend.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.mark.postgres
def test_whole_client_flow_while_the_prober_sees_health(backend: BackendProcess) -> None:
    prober = HealthProber(backend.url, HOST).start()
    try:
        with DiminiClient(backend.url, HOST) as client:
            assert client.health() == 200
            assert client.ready() == 200

            email = f"e2e.{secrets.token_hex(4)}@example.org"
            assert "detail" in client.register(email, PASSWORD, "Dr E2E")
            client.login(email, PASSWORD)
            assert client.me()["email"] == email

            patient = client.create_patient("Pat E2E", email="pat.e2e@example.org")
            assert client.get_patient(patient["id"])["name"] == "Pat E2E"
            assert [p["id"] for p in client.list_patients()["items"]] == [patient["id"]]
            session_id = client.start_session(patient["id"])["id"]

            with client.realtime(session_id) as live:
                client.post_transcript(session_id, "I'm stressed about work and I can't sleep.")
                batch = live.wait_for("graph_batch_update", timeout=30)
            assert {node["type"] for node in batch["nodes"]} == {"topic", "emotion"}
            assert batch["edges"]

            note = {"content": "Sleep affects mood", "category": "insight"}
            chat = (f"chat-{session_id}", f"group-{session_id}")
            assert client.bind_chat(session_id, *chat).status_code == 201
            saved = client.relay_tool_call(session_id, "save_session_note", note)
            assert saved["isError"] is False
            recorded = client.signed_webhook_tool_call(*chat, "save_session_note", SIGNING_KEY)
            assert recorded.status_code == 200, recorded.text
            assert recorded.json() == {"status": "recorded", "sessionId": session_id}
            forged = client.signed_webhook_tool_call(
                *chat, "save_session_note", "not-the-signing-key"
            )
            assert forged.status_code == 401
            notes = client.session_notes(session_id)
            assert [n["content"] for n in notes["items"]] == ["Sleep affects mood"]
            assert client.end_session(session_id)["status"] == "completed"

        prober.wait_until(lambda report: report.ok >= 10)
        stopped_at = time.time()
        backend.stop()
        prober.wait_until(lambda report: report.failed >= 3)
    finally:
        report = prober.stop()

    while_up = [probe for probe in report.probes if probe.finished_at < stopped_at]
    assert while_up, report.summary()
    assert all(probe.ok for probe in while_up), report.summary()
    assert report.failures, report.summary()
    # Nothing listens any more: the failures are refused connections, not HTTP answers.
    assert all(probe.status is None and probe.error for probe in report.failures)


class HeadCapture:
    """A loopback listener that records each request's head and answers 503 (or just hangs up)."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed
            with connection:
                head = b""
                while b"\r\n\r\n" not in head and (chunk := connection.recv(4096)):
                    head += chunk
                self.heads.append(head.decode("latin-1"))
                connection.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\n"
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )

    def close(self) -> None:
        self._server.close()


def _header(head: str, name: str) -> list[str]:
    prefix = f"{name.lower()}:"
    return [
        line.split(":", 1)[1].strip()
        for line in head.split("\r\n")
        if line.lower().startswith(prefix)
    ]


def test_rest_and_websocket_requests_carry_the_ingress_host() -> None:
    capture = HeadCapture()
    try:
        client = DiminiClient(capture.url, HOST)
        assert client.health() == 503
        client.token = "not-checked-here"
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.realtime("00000000-0000-0000-0000-000000000000", timeout=5)
        client.close()
    finally:
        capture.close()

    rest, upgrade = capture.heads
    assert rest.startswith("GET /health ")
    assert _header(rest, "host") == [HOST]
    # WebSocket straight away (no long-polling first), so a connection proves the upgrade works.
    method, target, _ = upgrade.split(" ", 2)
    assert (method, target.split("?")[0]) == ("GET", "/socket.io/")
    assert "transport=websocket" in target
    assert _header(upgrade, "host") == [HOST]
    assert [value.lower() for value in _header(upgrade, "upgrade")] == ["websocket"]
