"""Backend benchmark: prints figures, asserts nothing.

    .venv/bin/python bench/backend/run_bench.py [--duration 10] [--clients 500]

Starts a throwaway Postgres 15, the backend (`python -m app.serve`, WEB_CONCURRENCY workers) and a
bare Starlette app on this machine, then measures from separate processes:
- GET /health and authenticated GET /api/patients: closed-loop max throughput with wrk (if
  installed; `apt-get install wrk`) and an open-loop run at a fixed 200 req/s (p50/p99);
- the ratio of the backend's /health throughput to the bare Starlette app's;
- Socket.IO fan-out latency: N clients in one session room, events published by another process
  through Postgres NOTIFY, latency from publish to receipt on every client.
Targets (issue 4): authenticated list p99 <= 25 ms at 200 req/s; fan-out p99 <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.ports import free_port  # noqa: E402
from tests.support.postgres import PostgresServer, start_postgres  # noqa: E402

BACKEND_DIR = REPO / "backend"
PASSWORD = "load-test-passphrase-1234"


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server at {url} exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server at {url} not healthy in time")


def start_backend(database_url: str, workers: int, log: Path) -> Server:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "WARNING",
        "LOGIN_RATE_LIMIT": "10000",
        "REGISTER_RATE_LIMIT": "10000",
        "DB_POOL_SIZE": "20",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    subprocess.run(
        [sys.executable, "-m", "app.migrate"],
        env=env,
        cwd=BACKEND_DIR,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "app.serve"],
        env=env,
        cwd=BACKEND_DIR,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server("backend", f"http://127.0.0.1:{port}", process)
    wait_until_healthy(server.url, process)
    return server


def start_bare(workers: int, log: Path) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=Path(__file__).parent,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server("bare starlette", f"http://127.0.0.1:{port}", process)
    wait_until_healthy(server.url, process)
    return server


def prepare_data(url: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as client:
        email = "bench@example.org"
        client.post(
            "/api/auth/register", json={"email": email, "name": "Bench", "password": PASSWORD}
        )
        token: str = client.post(
            "/api/auth/login", json={"email": email, "password": PASSWORD}
        ).json()["accessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        for index in range(50):
            client.post(
                "/api/patients",
                json={"name": f"Patient {index}", "email": f"p{index}@example.org"},
                headers=headers,
            )
        return token


# -- closed loop: wrk -------------------------------------------------------------------------


def wrk(url: str, token: str | None, duration: int) -> dict[str, float] | None:
    if shutil.which("wrk") is None:
        return None
    command = ["wrk", "-t2", "-c64", f"-d{duration}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def percentile(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", output)
        assert match is not None
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {"rps": rps, "p50_ms": percentile("50"), "p99_ms": percentile("99")}


# -- open loop: a fixed request rate from a separate process -----------------------------------


async def _http_get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """One keep-alive HTTP/1.1 GET on an open connection; returns the status code."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


def _open_loop_worker(
    url: str, headers: dict[str, str], rate: int, duration: int, queue: Any
) -> None:
    """Sends on a fixed schedule over a pool of raw keep-alive connections (httpx costs too
    much CPU per request to hold 200 req/s next to the server on a small machine). Latency is
    measured from each request's *scheduled* time, so queueing counts (no coordinated omission)."""
    parsed = httpx.URL(url)
    lines = [f"GET {parsed.raw_path.decode()} HTTP/1.1", f"Host: {parsed.host}:{parsed.port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def run() -> tuple[list[float], int]:
        schedule: asyncio.Queue[float | None] = asyncio.Queue()
        latencies: list[float] = []
        errors = 0

        async def connection() -> None:
            nonlocal errors
            reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
            while (due := await schedule.get()) is not None:
                try:
                    status = await _http_get(reader, writer, request)
                    errors += status != 200
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
                latencies.append((time.perf_counter() - due) * 1000)
            writer.close()

        workers = [asyncio.create_task(connection()) for _ in range(32)]
        begin = time.perf_counter() + 0.2
        for index in range(rate * duration):
            due = begin + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            schedule.put_nowait(due)
        for _ in workers:
            schedule.put_nowait(None)
        await asyncio.gather(*workers)
        return latencies, errors

    queue.put(asyncio.run(run()))


def open_loop(url: str, token: str | None, rate: int, duration: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    queue: Any = multiprocessing.Queue()
    process = multiprocessing.Process(
        target=_open_loop_worker, args=(url, headers, rate, duration, queue)
    )
    process.start()
    latencies, errors = queue.get()
    process.join()
    ordered = sorted(latencies)
    return {
        "rate": rate,
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1],
        "errors": errors,
    }


# -- Socket.IO fan-out ---------------------------------------------------------------------------


def _fan_out_clients(
    url: str, token: str, session_id: str, clients: int, events: int, queue: Any
) -> None:
    import socketio

    async def run() -> list[float]:
        latencies: list[float] = []
        received = 0
        sockets = []
        done = asyncio.Event()

        async def connect_one() -> None:
            client = socketio.AsyncClient(reconnection=False)

            async def on_tick(data: dict[str, Any]) -> None:
                nonlocal received
                latencies.append((time.time() - float(data["sentAt"])) * 1000)
                received += 1
                if received >= clients * events:
                    done.set()

            client.on("bench_tick", on_tick)
            await client.connect(
                url, auth={"token": token}, transports=["websocket"], wait_timeout=30
            )
            await client.call("join_session", {"sessionId": session_id}, timeout=30)
            sockets.append(client)

        for start in range(0, clients, 50):
            await asyncio.gather(*(connect_one() for _ in range(min(50, clients - start))))
        queue.put("ready")
        with contextlib.suppress(TimeoutError):  # report whatever arrived
            await asyncio.wait_for(done.wait(), timeout=60)
        await asyncio.gather(*(client.disconnect() for client in sockets))
        return latencies

    queue.put(asyncio.run(run()))


def fan_out(url: str, dsn: str, token: str, clients: int, events: int) -> dict[str, float]:
    from app.realtime.pg_manager import PostgresPubSubManager
    from app.services.events import session_room

    with httpx.Client(base_url=url, timeout=30) as client:
        headers = {"Authorization": f"Bearer {token}"}
        patient = client.post("/api/patients", json={"name": "Fan-out"}, headers=headers).json()
        session_id = client.post(
            "/api/sessions/start", json={"patientId": patient["id"]}, headers=headers
        ).json()["id"]
    queue: Any = multiprocessing.Queue()
    process = multiprocessing.Process(
        target=_fan_out_clients, args=(url, token, session_id, clients, events, queue)
    )
    process.start()
    assert queue.get(timeout=300) == "ready"

    async def publish() -> None:
        emitter = PostgresPubSubManager(dsn, write_only=True)
        for _ in range(events):
            await emitter.emit("bench_tick", {"sentAt": time.time()}, room=session_room(session_id))
            await asyncio.sleep(0.2)
        await emitter.close()

    asyncio.run(publish())
    latencies = sorted(queue.get(timeout=120))
    process.join()
    expected = clients * events
    return {
        "clients": clients,
        "delivered": f"{len(latencies)}/{expected}",  # type: ignore[dict-item]
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
    }


def main() -> None:
    # `timeout` and Ctrl-C stop the run through SystemExit, so the finally blocks clean up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--events", type=int, default=10)
    args = parser.parse_args()

    logs = Path(tempfile.mkdtemp(prefix="dimini-bench-"))
    postgres: PostgresServer = start_postgres()
    servers: list[Server] = []
    try:
        database = postgres.create_database("bench")
        backend = start_backend(postgres.url(database), args.workers, logs / "backend.log")
        servers.append(backend)
        bare = start_bare(args.workers, logs / "bare.log")
        servers.append(bare)
        token = prepare_data(backend.url)
        results: dict[str, Any] = {"cpus": os.cpu_count(), "workers": args.workers}

        def report(name: str, value: Any) -> None:
            results[name] = value
            print(f"{name}: {json.dumps(value)}", flush=True)  # progress, in case of a stop

        report("wrk_bare_health", wrk(f"{bare.url}/health", None, args.duration))
        report("wrk_health", wrk(f"{backend.url}/health", None, args.duration))
        report("wrk_patients", wrk(f"{backend.url}/api/patients", token, args.duration))
        if results["wrk_bare_health"] and results["wrk_health"]:
            report(
                "health_vs_bare_ratio",
                round(results["wrk_health"]["rps"] / results["wrk_bare_health"]["rps"], 3),
            )
        report(
            "open_loop_health", open_loop(f"{backend.url}/health", None, args.rate, args.duration)
        )
        report(
            "open_loop_patients",
            open_loop(f"{backend.url}/api/patients", token, args.rate, args.duration),
        )
        dsn = postgres.url(database, driver="postgresql")
        report("socketio_fan_out", fan_out(backend.url, dsn, token, args.clients, args.events))
        print(json.dumps(results, indent=2))
    finally:
        for server in servers:
            server.stop()
        postgres.destroy()
        shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
