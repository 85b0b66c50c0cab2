"""Logout and token expiry cut live sockets, in every process (issue 12 #5, acceptance 5); an
account holds a bounded number of sockets per process (#15)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
import socketio

from tests.backend.helpers import (
    BackendProcess,
    SocketRecorder,
    backend_env,
    create_patient,
    register_therapist,
    start_backend,
    start_session,
    wait_for,
)

SECRET = "revocation-secret-" + "k" * 40
SOCKET_CAP = 3


@pytest.fixture(scope="module")
def two_processes(
    migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BackendProcess, BackendProcess]]:
    logs = tmp_path_factory.mktemp("revocation")
    env = backend_env(migrated_url, SECRET_KEY=SECRET, MAX_SOCKETS_PER_USER=str(SOCKET_CAP))
    first = start_backend(env, logs / "first.log")
    second = start_backend(env, logs / "second.log")
    yield first, second
    first.stop()
    second.stop()


async def _joined_socket(url: str, token: str, session_id: str) -> SocketRecorder:
    recorder = SocketRecorder()
    await recorder.connect(url, token)
    joined = await recorder.client.call("join_session", {"sessionId": session_id})
    assert joined["ok"], joined
    return recorder


async def test_logout_in_one_process_disconnects_the_users_sockets_in_another(
    two_processes: tuple[BackendProcess, BackendProcess],
) -> None:
    first, second = two_processes
    async with httpx.AsyncClient(base_url=first.url) as client:
        therapist = await register_therapist(client)
        other = await register_therapist(client, "Other")
        patient = await create_patient(client, therapist)
        session_id = str((await start_session(client, therapist, patient["id"]))["id"])
        other_patient = await create_patient(client, other)
        other_session = str((await start_session(client, other, other_patient["id"]))["id"])
    mine = await _joined_socket(second.url, therapist.token, session_id)
    theirs = await _joined_socket(second.url, other.token, other_session)
    try:
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=first.url) as client:
            out = await client.post("/api/auth/logout", headers=therapist.headers)
            assert out.status_code == 204

        async def cut() -> bool:
            return not mine.client.connected

        await wait_for(cut, within=10)
        print(f"socket in the other process cut {time.monotonic() - started:.2f} s after logout")
        assert theirs.client.connected, "another user's socket must stay"
    finally:
        await mine.disconnect()
        await theirs.disconnect()


async def test_a_socket_is_cut_when_its_token_expires(
    two_processes: tuple[BackendProcess, BackendProcess],
) -> None:
    first, _ = two_processes
    async with httpx.AsyncClient(base_url=first.url) as client:
        therapist = await register_therapist(client)
        patient = await create_patient(client, therapist)
        session_id = str((await start_session(client, therapist, patient["id"]))["id"])
    claims = jwt.decode(therapist.token, SECRET, algorithms=["HS256"])
    claims["exp"] = int(time.time()) + 2  # the token expires two seconds from now
    short = jwt.encode(claims, SECRET, algorithm="HS256")
    recorder = await _joined_socket(first.url, short, session_id)
    try:

        async def cut() -> bool:
            return not recorder.client.connected

        await wait_for(cut, within=15)
    finally:
        await recorder.disconnect()


async def test_an_account_holds_at_most_the_cap_of_sockets_per_process(
    two_processes: tuple[BackendProcess, BackendProcess],
) -> None:
    first, _ = two_processes
    async with httpx.AsyncClient(base_url=first.url) as client:
        therapist = await register_therapist(client)
        other = await register_therapist(client, "Other")
    held = [SocketRecorder() for _ in range(SOCKET_CAP)]
    extra, theirs, again = SocketRecorder(), SocketRecorder(), SocketRecorder()
    try:
        for recorder in held:
            await recorder.connect(first.url, therapist.token)
        reasons: list[object] = []
        extra.client.on("connect_error", reasons.append)  # the server's reason for refusing
        with pytest.raises(socketio.exceptions.ConnectionError):
            await extra.connect(first.url, therapist.token)
        assert "too many live connections" in str(reasons)
        await theirs.connect(first.url, other.token)  # the cap is per account
        await held[0].disconnect()

        async def reconnects() -> bool:
            try:
                await again.connect(first.url, therapist.token)
            except socketio.exceptions.ConnectionError:
                return False  # the server has not processed the disconnect yet
            return True

        await wait_for(reconnects, within=10)
    finally:
        for recorder in [*held, extra, theirs, again]:
            await recorder.disconnect()
