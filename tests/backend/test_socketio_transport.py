"""Socket.IO with 2 replicas x 2 uvicorn workers behind one round-robin address (issue 11, 7).

Production runs several workers per pod and several pods without sticky sessions. Engine.IO
long-polling keeps per-connection state in one process, so the second request of a polling client
lands elsewhere and gets "Invalid session". The transport is therefore websocket-only on both
sides: a websocket is one TCP connection, pinned to one process for its life, and the Postgres
pub/sub manager delivers broadcasts to every process. This module proves both halves on 4 real
processes (`python -m app.serve`, WEB_CONCURRENCY=2, twice) behind a proxy that balances every
HTTP request and every websocket connection round-robin, with no stickiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import socketio
from app.core.security import SESSION_COOKIE

from tests.backend.helpers import (
    BACKEND_DIR,
    BackendProcess,
    backend_env,
    create_patient,
    register_therapist,
    start_session,
    wait_for,
)
from tests.support import waiting

REPLICAS = 2
WORKERS_PER_REPLICA = 2
CLIENTS = 100
ORIGIN = "http://localhost:3000"


# -- a round-robin proxy without stickiness ------------------------------------------------------


@dataclass
class Exchange:
    """One request through the proxy: which replica took it and what came back (plain HTTP)."""

    upstream: int
    request_line: str
    websocket: bool
    response: bytes = b""

    @property
    def status(self) -> int:
        return int(self.response.split(b" ", 2)[1]) if self.response else 0

    @property
    def body(self) -> bytes:
        return self.response.partition(b"\r\n\r\n")[2]


@dataclass
class RoundRobinProxy:
    """Every HTTP request (forced to one per connection) and every websocket goes to the next
    replica in turn, like an ingress balancing requests over pods with no session affinity."""

    upstream_ports: list[int]
    exchanges: list[Exchange] = field(default_factory=list)
    _turn: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> RoundRobinProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a peer went away mid-exchange
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        upstream = self._turn % len(self.upstream_ports)
        self._turn += 1
        websocket = headers.get("upgrade", "").lower() == "websocket"
        exchange = Exchange(upstream, lines[0], websocket)
        self.exchanges.append(exchange)
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.upstream_ports[upstream]
        )
        try:
            if websocket:
                up_writer.write(head)
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
                return
            assert "transfer-encoding" not in headers, "the test clients send Content-Length"
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            # One request per upstream connection, so the next request is balanced again.
            kept = [
                line for line in lines[1:] if line and not line.lower().startswith("connection:")
            ]
            request = "\r\n".join([lines[0], *kept, "Connection: close", "", ""])
            up_writer.write(request.encode("latin-1") + body)
            exchange.response = await up_reader.read()  # the upstream closes after its answer
            writer.write(exchange.response)
            await writer.drain()
        finally:
            up_writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except OSError:
        pass
    finally:
        sink.close()


# -- two replicas of the production entry point ---------------------------------------------------


@dataclass
class Replica(BackendProcess):
    """`python -m app.serve` with WEB_CONCURRENCY workers: the container's command."""

    def start(self) -> None:
        import subprocess

        self.env = {**self.env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.serve"],
            env=self.env,
            cwd=BACKEND_DIR,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def workers_started(self) -> int:
        return self.output().count('"message": "backend started"')


@pytest.fixture(scope="module")
def replicas(
    migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Replica]]:
    logs = tmp_path_factory.mktemp("transport")
    # One SECRET_KEY: a token from any process is valid on all of them.
    env = backend_env(migrated_url, WEB_CONCURRENCY=str(WORKERS_PER_REPLICA), LOG_LEVEL="INFO")
    started = [Replica(env=env, log_path=logs / f"replica-{n}.log") for n in range(REPLICAS)]
    for replica in started:
        replica.start()

    def up_or_exited() -> str:
        if any(r.process is None or r.process.poll() is not None for r in started):
            return "exited"
        return "up" if all(r.workers_started() == WORKERS_PER_REPLICA for r in started) else ""

    try:
        # Every worker logs "backend started" once its lifespan (and LISTEN) is up: 4 processes.
        state = waiting.wait_for("2 replicas x 2 workers started", up_or_exited, timeout=90)
        assert state == "up", "\n".join(r.output() for r in started)
        yield started
    finally:
        for replica in started:
            replica.stop()


@pytest.fixture
async def proxy(replicas: list[Replica]) -> AsyncIterator[RoundRobinProxy]:
    async with RoundRobinProxy([replica.port for replica in replicas]) as balancer:
        yield balancer


async def _session_through(proxy: RoundRobinProxy) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
        owner = await register_therapist(http, "Transport Owner")
        patient = await create_patient(http, owner)
        session = await start_session(http, owner, patient["id"])
    return owner.token, str(session["id"])


# -- websocket: works for 100 clients across 4 processes -----------------------------------------


async def test_a_hundred_websocket_clients_across_replicas_get_a_broadcast_from_another_process(
    proxy: RoundRobinProxy,
) -> None:
    token, session_id = await _session_through(proxy)
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(CLIENTS)]
    updates: dict[int, list[Any]] = {index: [] for index in range(CLIENTS)}
    for index, client in enumerate(clients):

        async def on_update(data: Any, index: int = index) -> None:
            updates[index].append(data)

        client.on("session_update", on_update)
    # A bounded number of handshakes at once: two shared cores also run the four backends.
    handshakes = asyncio.Semaphore(20)

    async def connect_and_join(index: int, client: socketio.AsyncClient) -> None:
        # Half authenticate like the browser (session cookie), half with the token in `auth`.
        credentials: dict[str, Any] = (
            {"headers": {"Cookie": f"{SESSION_COOKIE}={token}"}}
            if index % 2
            else {"auth": {"token": token}}
        )
        async with handshakes:
            await client.connect(
                proxy.url, transports=["websocket"], wait_timeout=30, **credentials
            )
            joined = await client.call("join_session", {"sessionId": session_id}, timeout=30)
        assert joined == {"ok": True, "sessionId": session_id}

    try:
        await asyncio.gather(*(connect_and_join(n, c) for n, c in enumerate(clients)))
        sockets = Counter(e.upstream for e in proxy.exchanges if e.websocket)
        assert sockets == {0: CLIENTS // 2, 1: CLIENTS // 2}, sockets

        async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
            ended = await http.post(
                f"/api/sessions/{session_id}/end", headers={"Authorization": f"Bearer {token}"}
            )
        assert ended.status_code == 200, ended.text
        publisher = proxy.exchanges[-1].upstream
        assert proxy.exchanges[-1].request_line.startswith("POST /api/sessions/")
        # The other replica's 50 clients live in other processes than the one that published.
        assert sockets[1 - publisher] == CLIENTS // 2

        # The end itself; the summary's own session_update may follow it.
        ended_event = {"sessionId": session_id, "status": "completed"}

        async def everyone_heard() -> bool:
            return all(ended_event in events for events in updates.values())

        await wait_for(everyone_heard, within=30)
        # No client ever needed anything but its one websocket (no polling requests at all).
        assert not [
            e for e in proxy.exchanges if "/socket.io/" in e.request_line and not e.websocket
        ]
    finally:
        await asyncio.gather(*(client.disconnect() for client in clients))


# -- polling: refused at once, with the reason ---------------------------------------------------


def _assert_clear_refusal(exchange: Exchange) -> None:
    assert b"Invalid session" not in exchange.response
    assert exchange.status == 400, exchange.response[:300]
    body = httpx.Response(200, content=exchange.body).json()
    assert body["code"] == "websocket_required"
    assert "websocket" in body["detail"].lower()


async def test_a_polling_handshake_is_refused_with_a_clear_400(proxy: RoundRobinProxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        response = await http.get(
            "/socket.io/", params={"EIO": "4", "transport": "polling"}, headers={"Origin": ORIGIN}
        )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    # Readable by the page: the refusal carries CORS headers for an allowed origin.
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    _assert_clear_refusal(proxy.exchanges[-1])


@pytest.mark.parametrize(
    "transports", [["polling"], ["polling", "websocket"]], ids=["polling", "polling-then-upgrade"]
)
async def test_a_client_that_polls_fails_clearly_not_with_invalid_session_400s(
    proxy: RoundRobinProxy, transports: list[str]
) -> None:
    token, _ = await _session_through(proxy)
    first_socket_exchange = len(proxy.exchanges)
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[Any] = []

    async def on_connect_error(data: Any) -> None:
        reasons.append(data)

    client.on("connect_error", on_connect_error)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                proxy.url, auth={"token": token}, transports=transports, wait_timeout=10
            )
    finally:
        with contextlib.suppress(Exception):
            await client.disconnect()
    polled = proxy.exchanges[first_socket_exchange:]
    invalid = [e for e in polled if b"Invalid session" in e.response]
    assert not invalid, f"silent 'Invalid session' 400s: {[e.request_line for e in invalid]}"
    # Refused at the handshake, once: nothing for the client to retry in a loop.
    assert len(polled) == 1, [e.request_line for e in polled]
    _assert_clear_refusal(polled[0])
    # The client is told why, not just "Unexpected status code 400".
    assert len(reasons) == 1
    assert reasons[0]["code"] == "websocket_required"
    assert "websocket" in reasons[0]["detail"].lower()
