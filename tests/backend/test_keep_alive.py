"""The backend keeps an idle connection open longer than the proxy in front of it keeps its idle
upstream connections (Traefik's default is 90 s): the proxy then always closes first, and never
sends a request on a connection the backend has just closed (a 502 a POST is not retried from)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from app.core.config import Settings

from tests.backend.helpers import backend_env
from tests.backend.workers import Served, serve
from tests.support.waiting import holds_for

pytestmark = pytest.mark.postgres

TRAEFIK_IDLE_CONN_TIMEOUT = 90  # serversTransport.forwardingTimeouts.idleConnTimeout default
UVICORN_DEFAULT = 5


@pytest.fixture(scope="module")
def served(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(backend_env(migrated_url), tmp_path_factory.mktemp("keepalive")) as s:
        yield s


def _health(conn: socket.socket) -> bytes:
    conn.sendall(b"GET /health HTTP/1.1\r\nHost: backend\r\nConnection: keep-alive\r\n\r\n")
    reply = b""
    while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def _open(conn: socket.socket) -> bool:
    conn.setblocking(False)
    try:
        return conn.recv(1, socket.MSG_PEEK) != b""  # b"": the server closed it
    except BlockingIOError:
        return True  # nothing to read, still connected
    finally:
        conn.setblocking(True)


def test_the_default_outlasts_the_proxies_idle_timeout() -> None:
    settings = Settings(database_url="postgresql+asyncpg://u@localhost/db", secret_key="s" * 40)
    assert settings.keep_alive_seconds > TRAEFIK_IDLE_CONN_TIMEOUT


def test_an_idle_connection_outlives_uvicorns_default(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
        assert _health(conn).startswith(b"HTTP/1.1 200")
        # The observation window is the behaviour: uvicorn's default closes it after 5 s.
        holds_for("the idle connection stays open", lambda: _open(conn), UVICORN_DEFAULT + 2)
        assert _health(conn).startswith(b"HTTP/1.1 200")
