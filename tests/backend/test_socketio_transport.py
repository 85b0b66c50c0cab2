"""Socket.IO is websocket-only (issue 11 #7, acceptance 6): 2 replicas x 2 uvicorn workers behind
one round-robin address, no sticky sessions. 100 websocket clients work; long-polling is refused
at once with a clear reason instead of a stream of "Invalid session" 400s."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.backend.helpers import (
    BACKEND_DIR,
    SocketRecorder,
    backend_env,
    create_patient,
    register_therapist,
    start_session,
    wait_for,
)
from tests.support.ports import free_port
from tests.support.roundrobin import round_robin

CLIENTS = 100


@pytest.fixture(scope="module")
def replicas(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Two `python -m app.serve` replicas with two workers each, as the operator runs them."""
    logs = tmp_path_factory.mktemp("replicas")
    # One SECRET_KEY; the per-account socket cap raised: these clients all belong to one account.
    env = backend_env(
        migrated_url, WEB_CONCURRENCY="2", HOST="127.0.0.1", MAX_SOCKETS_PER_USER=str(2 * CLIENTS)
    )
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "app.serve"],
            env={**env, "PORT": str(port)},
            cwd=BACKEND_DIR,
            stdout=(logs / f"replica-{port}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            _wait_healthy(port, process, logs / f"replica-{port}.log")
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    async def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"replica exited early; see {log}")
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
        except httpx.TransportError:
            return False

    asyncio.run(wait_for(healthy, within=60, interval=0.1))


@pytest.fixture
async def address(replicas: list[int]) -> AsyncIterator[str]:
    async with round_robin(replicas) as port:
        yield f"http://127.0.0.1:{port}"


async def test_a_hundred_websocket_clients_across_four_processes(address: str) -> None:
    async with httpx.AsyncClient(base_url=address) as client:
        owner = await register_therapist(client, "Owner")
        patient = await create_patient(client, owner)
        session_id = str((await start_session(client, owner, patient["id"]))["id"])
    recorders = [SocketRecorder() for _ in range(CLIENTS)]
    try:
        await asyncio.gather(*(recorder.connect(address, owner.token) for recorder in recorders))
        joined = await asyncio.gather(
            *(r.client.call("join_session", {"sessionId": session_id}) for r in recorders)
        )
        assert all(reply["ok"] for reply in joined)
        async with httpx.AsyncClient(base_url=address) as client:
            cancelled = await client.post(
                f"/api/sessions/{session_id}/cancel", headers=owner.headers
            )
            assert cancelled.status_code == 200
        # The emit from one process reaches clients held by all four (Postgres LISTEN/NOTIFY).
        updates = await asyncio.gather(
            *(r.wait_for_event("session_update", within=30) for r in recorders)
        )
        assert all(update["status"] == "cancelled" for update in updates)
    finally:
        await asyncio.gather(*(r.disconnect() for r in recorders), return_exceptions=True)


async def test_long_polling_is_refused_with_a_reason(address: str) -> None:
    # A fresh connection per request, as requests spread across replicas behind an ingress.
    async with httpx.AsyncClient(
        base_url=address, limits=httpx.Limits(max_keepalive_connections=0)
    ) as client:
        handshake = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        # A client that goes on polling with a session id gets the same reason, never the
        # "Invalid session" 400s that a non-sticky polling session produced before.
        follow_up = await client.get(
            "/socket.io/", params={"EIO": "4", "transport": "polling", "sid": "abc"}
        )
    assert handshake.status_code == 400
    assert "websocket" in handshake.json()["detail"].lower()
    assert follow_up.status_code == 400
    assert follow_up.json() == handshake.json()
