"""Helpers for backend tests: settings, in-process clients, real uvicorn processes, waiting."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from app.application import build_socket_app, create_app
from app.core.config import Settings

from tests.support.ports import free_port

BACKEND_DIR = Path(__file__).resolve().parents[2] / "backend"
PASSWORD = "correct horse battery staple"
T = TypeVar("T")


def backend_env(database_url: str, **overrides: str) -> dict[str, str]:
    """Environment for a backend process: only what the test means to set, nothing inherited."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "COOKIE_SECURE": "false",
        "ALLOWED_ORIGINS": "http://localhost:3000",
        "LOGIN_RATE_LIMIT": "1000",
        "REGISTER_RATE_LIMIT": "1000",
        "LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    return env


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": "test-secret-" + "k" * 40,
        "cookie_secure": False,
        "login_rate_limit": 1000,
        "register_rate_limit": 1000,
    }
    values.update(overrides)
    return Settings(**values)


def run_migrations(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "app.migrate"],
        env=backend_env(database_url),
        check=True,
        capture_output=True,
        cwd=BACKEND_DIR,
    )


@asynccontextmanager
async def api_client(
    settings: Settings, client_ip: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole ASGI app in-process with its lifespan running, behind an httpx client."""
    app, sio = create_app(settings)
    socket_app = build_socket_app(app, sio)
    transport = httpx.ASGITransport(app=socket_app, client=(client_ip, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 15.0, interval: float = 0.05
) -> T:
    """Polls `probe` until it returns a truthy value (returned) or `within` seconds pass."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within}s (last value: {last!r})")


@dataclass
class BackendProcess:
    """A real `uvicorn app.main:socket_app` on a free port (or, with `serve=True`, the production
    entry point `python -m app.serve`); output kept for inspection."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    serve: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = self.log_path.open("wb")
        if self.serve:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.serve"],
                env={**self.env, "HOST": "127.0.0.1", "PORT": str(self.port)},
                cwd=BACKEND_DIR,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            return
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:socket_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--timeout-graceful-shutdown",
                "5",
            ],
            env=self.env,
            cwd=BACKEND_DIR,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def wait_healthy(self, within: float = 30.0) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:

            async def healthy() -> bool:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"backend exited early:\n{self.output()}")
                try:
                    return (await client.get("/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(healthy, within=within)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


def start_backend(env: dict[str, str], log_path: Path) -> BackendProcess:
    """Starts a backend and waits (synchronously, for module fixtures) until /health answers."""
    backend = BackendProcess(env=env, log_path=log_path)
    backend.start()
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=backend.url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            assert backend.process is not None
            if backend.process.poll() is not None:
                raise AssertionError(f"backend exited early:\n{backend.output()}")
            try:
                if client.get("/health").status_code == 200:
                    return backend
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # sync fixture: polling /health with a deadline
    backend.stop()
    raise AssertionError(f"backend not healthy within 30s:\n{backend.output()}")


class SocketRecorder:
    """A python-socketio AsyncClient that records every event it receives."""

    def __init__(self) -> None:
        import socketio

        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.client.on("*", self._record)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))

    async def connect(self, url: str, token: str | None) -> None:
        await self.client.connect(
            url,
            auth={"token": token} if token else None,
            transports=["websocket"],
            wait_timeout=10,
        )

    def received(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def wait_for_event(self, event: str, within: float = 10.0) -> Any:
        async def arrived() -> list[Any]:
            return self.received(event)

        return (await wait_for(arrived, within=within))[0]

    async def disconnect(self) -> None:
        await self.client.disconnect()


@asynccontextmanager
async def running_backend(
    env: dict[str, str], log_path: Path, *, serve: bool = False
) -> AsyncIterator[BackendProcess]:
    backend = BackendProcess(env=env, log_path=log_path, serve=serve)
    backend.start()
    try:
        await backend.wait_healthy()
        yield backend
    finally:
        backend.stop()


@dataclass
class Therapist:
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register_therapist(client: httpx.AsyncClient, name: str = "Dr Test") -> Therapist:
    email = f"{name.lower().replace(' ', '.')}.{secrets.token_hex(4)}@example.org"
    response = await client.post(
        "/api/auth/register", json={"email": email, "name": name, "password": PASSWORD}
    )
    assert response.status_code == 202, response.text
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.cookies.clear()  # tests opt into cookie auth explicitly
    return Therapist(email=email, token=response.json()["accessToken"])


async def create_patient(
    client: httpx.AsyncClient, therapist: Therapist, **fields: Any
) -> dict[str, Any]:
    body = {"name": "Pat Example", **fields}
    response = await client.post("/api/patients", json=body, headers=therapist.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def start_session(
    client: httpx.AsyncClient, therapist: Therapist, patient_id: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/sessions/start", json={"patientId": patient_id}, headers=therapist.headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
