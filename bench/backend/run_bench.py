"""Backend benchmark: every figure beside its floor, measured in the same run; asserts nothing.

    .venv/bin/python bench/backend/run_bench.py [--duration 10] [--rounds 3] [--clients 500]

Starts a throwaway Postgres 15, the backend (`python -m app.serve`, WEB_CONCURRENCY workers) and
the bare Starlette floor app (bare_app.py, same worker count, same database), then measures from
separate processes, figure and floor interleaved in `--rounds` alternating slices so that load from
outside the run falls on both alike:
- GET /health, authenticated GET /api/patients, signed POST /api/webhooks/hume (a tool_call of a
  bound chat): closed-loop max throughput with wrk (`apt-get install wrk`), and an open loop at a
  fixed rate (p50/p99 from each request's scheduled time, so queueing counts);
- Socket.IO fan-out latency: N clients in one session room, events published by another process
  through Postgres NOTIFY (no floor yet: printed as a figure only).
Targets (issue 18): webhook p99 <= 25 ms at 100 req/s and >= 500 req/s sustained on 2 workers;
authenticated list throughput >= 0.6 of its floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.services.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_for  # noqa: E402

from tests.backend.fakes import hume_json, tool_call, tool_call_message  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.postgres import PostgresServer, start_postgres  # noqa: E402

BACKEND_DIR = REPO / "backend"
PASSWORD = "load-test-passphrase-1234"
SECRET_KEY = "bench-secret-key-" + "x" * 32
SIGNING_KEY = "bench-signing-key"
CHAT_ID = "bench-chat"
CHAT_GROUP_ID = "bench-chat-group"
WEBHOOK_PATH = "/api/webhooks/hume"


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


# What the throughput bench runs with: limits that a load from one address would trip are raised
# out of the way (the abuse bench keeps the shipped ones).
THROUGHPUT_SETTINGS = {
    "HUME_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
    "LOGIN_RATE_LIMIT": "10000",
    "REGISTER_RATE_LIMIT": "10000",
    "DB_POOL_SIZE": "20",
}


def start_backend(
    database_url: str, workers: int, log: Path, settings: Mapping[str, str]
) -> Server:
    """Migrates the database, then runs the production entry point (`python -m app.serve`) on a
    free port with `settings` over the shipped defaults; returns once /health answers."""
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "WARNING",
        **settings,
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


def start_bare(dsn: str, workers: int, log: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "BARE_DSN": dsn,
        "BARE_SECRET_KEY": SECRET_KEY,
        "BARE_SIGNING_KEY": SIGNING_KEY,
    }
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
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server("bare starlette", f"http://127.0.0.1:{port}", process)
    wait_until_healthy(server.url, process)
    return server


@dataclass
class Fixture:
    token: str
    session_id: str


def prepare_data(url: str) -> Fixture:
    """A therapist with 50 patients, and an active session whose Hume chat is bound."""
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
                json={
                    "name": f"Patient {index}",
                    "email": f"p{index}@example.org",
                    "demographics": {"age": 20 + index % 50, "occupation": "teacher"},
                },
                headers=headers,
            )
        patient = client.post("/api/patients", json={"name": "Session"}, headers=headers).json()
        session_id: str = client.post(
            "/api/sessions/start", json={"patientId": patient["id"]}, headers=headers
        ).json()["id"]
        bound = client.post(
            f"/api/sessions/{session_id}/chats",
            json={"chatId": CHAT_ID, "chatGroupId": CHAT_GROUP_ID},
            headers=headers,
        )
        bound.raise_for_status()
        return Fixture(token, session_id)


def webhook_body(index: int | str, session_id: str) -> bytes:
    """A tool_call webhook as Hume sends it: the SDK's WebhookEventToolCall, on the wire."""
    message = tool_call_message(
        f"bench-{index}",
        parameters={"content": f"note {index}", "category": "observation"},
        custom_session_id=session_id,
    )
    event = tool_call(CHAT_ID, CHAT_GROUP_ID, message, at_ms=int(time.time() * 1000))
    return json.dumps(hume_json(event)).encode()


def signed_headers(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        SIGNATURE_HEADER: signature_for(SIGNING_KEY, body, timestamp),
        TIMESTAMP_HEADER: timestamp,
        "Content-Type": "application/json",
    }


# -- closed loop: wrk -------------------------------------------------------------------------

WRK_POST = """
wrk.method = "POST"
wrk.body = {body}
"""
# Whole requests in turn, each thread its own share: a webhook sent twice is a replay, recorded
# once, so a throughput run sends every tool call once (while the list lasts).
WRK_REQUESTS = """
local requests = {{{requests}}}
local threads = 0
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end
local index = nil
function request()
  index = (index or first) + {threads}
  return requests[index % #requests + 1]
end
"""
WRK_THREADS = 2


def wrk(
    url: str,
    headers: dict[str, str],
    duration: float,
    body: bytes | None = None,
    requests: list[bytes] | None = None,
) -> dict[str, float] | None:
    """wrk's closed loop: one GET, one POST `body` again and again, or `requests` in turn."""
    if shutil.which("wrk") is None:
        return None
    command = ["wrk", f"-t{WRK_THREADS}", "-c64", f"-d{max(1, round(duration))}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if requests is not None:
            quoted = ",".join(json.dumps(r.decode()) for r in requests)
            script.write(WRK_REQUESTS.format(requests=quoted, threads=WRK_THREADS))
        elif body is not None:
            script.write(WRK_POST.format(body=json.dumps(body.decode())))
        script.flush()
        if requests is not None or body is not None:
            command += ["-s", script.name]
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)

    def percentile(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", output)
        assert match is not None
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


# -- open loop: a fixed request rate from a separate process -----------------------------------


@dataclass(frozen=True)
class Load:
    """What an open-loop run sends: `requests` are whole HTTP/1.1 requests, sent in turn."""

    host: str
    port: int
    requests: list[bytes]


def get_load(url: str, headers: dict[str, str]) -> Load:
    parsed = httpx.URL(url)
    lines = [f"GET {parsed.raw_path.decode()} HTTP/1.1", f"Host: {parsed.host}:{parsed.port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return Load(parsed.host, parsed.port or 80, [("\r\n".join(lines) + "\r\n\r\n").encode()])


_webhook_runs = itertools.count()


def fresh_webhooks(url: str, session_id: str, count: int) -> Load:
    """`count` tool calls never sent before (a replay is recorded once, and answered without a
    write: the figure would measure the duplicate path)."""
    run = next(_webhook_runs)
    bodies = [webhook_body(f"{run}-{index}", session_id) for index in range(count)]
    return post_load(url, bodies, signed_headers)


def post_load(url: str, bodies: list[bytes], headers: Callable[[bytes], dict[str, str]]) -> Load:
    parsed = httpx.URL(url)
    requests = []
    for body in bodies:
        lines = [f"POST {parsed.raw_path.decode()} HTTP/1.1", f"Host: {parsed.host}:{parsed.port}"]
        lines += [f"{name}: {value}" for name, value in headers(body).items()]
        lines.append(f"Content-Length: {len(body)}")
        requests.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return Load(parsed.host, parsed.port or 80, requests)


async def _http_exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """One keep-alive HTTP/1.1 request on an open connection; returns the status code."""
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


def _open_loop_worker(load: Load, rate: int, duration: float, queue: Any) -> None:
    """Sends on a fixed schedule over a pool of raw keep-alive connections (httpx costs too
    much CPU per request to hold hundreds of req/s next to the server on a small machine).
    Latency is measured from each request's *scheduled* time, so queueing counts (no coordinated
    omission)."""

    async def run() -> tuple[list[float], int]:
        schedule: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        latencies: list[float] = []
        errors = 0

        async def connection() -> None:
            nonlocal errors
            reader, writer = await asyncio.open_connection(load.host, load.port)
            while (item := await schedule.get()) is not None:
                due, request = item
                try:
                    status = await _http_exchange(reader, writer, request)
                    errors += not 200 <= status < 300
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(load.host, load.port)
                latencies.append((time.perf_counter() - due) * 1000)
            writer.close()

        workers = [asyncio.create_task(connection()) for _ in range(64)]
        begin = time.perf_counter() + 0.2
        for index in range(int(rate * duration)):
            due = begin + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            schedule.put_nowait((due, load.requests[index % len(load.requests)]))
        for _ in workers:
            schedule.put_nowait(None)
        await asyncio.gather(*workers)
        return latencies, errors

    queue.put(asyncio.run(run()))


def open_loop(load: Load, rate: int, duration: float) -> tuple[list[float], int]:
    queue: Any = multiprocessing.Queue()
    process = multiprocessing.Process(target=_open_loop_worker, args=(load, rate, duration, queue))
    process.start()
    latencies, errors = queue.get()
    process.join()
    return latencies, errors


def latency_summary(latencies: list[float], errors: int, rate: int) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "rate": rate,
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[max(int(len(ordered) * 0.99) - 1, 0)], 2),
        "errors": errors,
    }


# -- figure beside floor, interleaved ----------------------------------------------------------


@dataclass
class Comparison:
    """One figure and its floor; `better` says whether higher or lower values are better."""

    name: str
    unit: str
    figure: float
    floor: float
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.figure / self.floor if self.floor else float("nan")

    def row(self) -> str:
        return (
            f"| {self.name} | {self.figure:.2f} {self.unit} | {self.floor:.2f} {self.unit} "
            f"| {self.ratio:.3f} | {self.target} |"
        )


def interleaved_wrk(
    figure: Callable[[float], dict[str, float] | None],
    floor: Callable[[float], dict[str, float] | None],
    duration: float,
    rounds: int,
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Alternates figure and floor in `rounds` slices (order flipped every round)."""
    figures: list[dict[str, float]] = []
    floors: list[dict[str, float]] = []
    for index in range(rounds):
        pair = [(figure, figures), (floor, floors)]
        for run, into in pair if index % 2 == 0 else pair[::-1]:
            result = run(duration / rounds)
            if result is not None:
                into.append(result)
    return figures, floors


def interleaved_open_loop(
    figure: Load | Callable[[], Load],
    floor: Load | Callable[[], Load],
    rate: int,
    duration: float,
    rounds: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Load, or a function making a fresh one for each slice."""
    collected: dict[str, tuple[list[float], int]] = {"figure": ([], 0), "floor": ([], 0)}
    for index in range(rounds):
        order = [("figure", figure), ("floor", floor)]
        for name, load in order if index % 2 == 0 else order[::-1]:
            fresh = load() if callable(load) else load
            latencies, errors = open_loop(fresh, rate, duration / rounds)
            previous, previous_errors = collected[name]
            collected[name] = (previous + latencies, previous_errors + errors)
    return (
        latency_summary(*collected["figure"], rate),
        latency_summary(*collected["floor"], rate),
    )


def mean_rps(results: list[dict[str, float]]) -> float:
    return statistics.fmean(result["rps"] for result in results) if results else float("nan")


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


def fan_out(url: str, dsn: str, token: str, clients: int, events: int) -> dict[str, Any]:
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
        "delivered": f"{len(latencies)}/{expected}",
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
    }


# -- the run -------------------------------------------------------------------------------------


def measure(
    backend: Server, bare: Server, fixture: Fixture, args: argparse.Namespace
) -> list[Comparison]:
    auth = {"Authorization": f"Bearer {fixture.token}"}
    duration, rounds = args.duration, args.rounds
    comparisons: list[Comparison] = []

    def report(comparison: Comparison) -> None:
        comparisons.append(comparison)
        detail = json.dumps(comparison.detail)
        print(f"{comparison.row()}  {detail}", flush=True)  # progress, in case of a stop

    # Closed loop, max throughput (higher is better: ratio = figure / floor, target >= 0.6).
    reads: list[tuple[str, str, dict[str, str]]] = [
        ("GET /health max throughput", "/health", {}),
        ("GET /api/patients (Bearer) max throughput", "/api/patients", auth),
    ]
    for name, path, headers in [read for read in reads if _wanted(args, read[1])]:
        figures, floors = interleaved_wrk(
            functools.partial(wrk, f"{backend.url}{path}", headers),
            functools.partial(wrk, f"{bare.url}{path}", headers),
            duration,
            rounds,
        )
        target = "≥ 0.6" if "patients" in path else ""
        report(
            Comparison(
                name, "req/s", mean_rps(figures), mean_rps(floors), target,
                {"figure_runs": figures, "floor_runs": floors},
            )
        )  # fmt: skip

    if _wanted(args, "webhook"):
        _webhooks(backend, bare, fixture, args, report)
    if _wanted(args, "/api/patients"):
        _list_latency(backend, bare, auth, args, report)
    return comparisons


Report = Callable[[Comparison], None]


def _wanted(args: argparse.Namespace, what: str) -> bool:
    return not args.only or any(part in what for part in args.only.split(","))


def _webhooks(
    backend: Server, bare: Server, fixture: Fixture, args: argparse.Namespace, report: Report
) -> None:
    duration, rounds = args.duration, args.rounds
    session = fixture.session_id

    def closed_loop(url: str) -> Callable[[float], dict[str, float] | None]:
        # Enough new tool calls for 3,000 req/s; past that the list starts over (replays).
        return lambda seconds: wrk(
            url, {}, seconds, requests=fresh_webhooks(url, session, int(3000 * seconds)).requests
        )

    figures, floors = interleaved_wrk(
        closed_loop(f"{backend.url}{WEBHOOK_PATH}"),
        closed_loop(f"{bare.url}{WEBHOOK_PATH}"),
        duration,
        rounds,
    )
    report(
        Comparison(
            "POST webhook tool_call max throughput", "req/s", mean_rps(figures), mean_rps(floors),
            "figure ≥ 500 req/s", {"figure_runs": figures, "floor_runs": floors},
        )
    )  # fmt: skip

    # Open loop at a fixed rate (lower is better: ratio = figure p99 / floor p99).
    for rate, target in [(args.webhook_rate, "figure p99 ≤ 25 ms"), (500, "0 errors")]:
        count = int(rate * duration / rounds) + 1
        figure, floor = interleaved_open_loop(
            functools.partial(fresh_webhooks, f"{backend.url}{WEBHOOK_PATH}", session, count),
            functools.partial(fresh_webhooks, f"{bare.url}{WEBHOOK_PATH}", session, count),
            rate,
            duration,
            rounds,
        )
        for stat in ("p50_ms", "p99_ms"):
            report(
                Comparison(
                    f"POST webhook tool_call at {rate} req/s, {stat[:3]}", "ms",
                    figure[stat], floor[stat], target if stat == "p99_ms" else "",
                    {"figure": figure, "floor": floor},
                )
            )  # fmt: skip


def _list_latency(
    backend: Server, bare: Server, auth: dict[str, str], args: argparse.Namespace, report: Report
) -> None:
    figure, floor = interleaved_open_loop(
        get_load(f"{backend.url}/api/patients", auth),
        get_load(f"{bare.url}/api/patients", auth),
        args.rate,
        args.duration,
        args.rounds,
    )
    for stat in ("p50_ms", "p99_ms"):
        report(
            Comparison(
                f"GET /api/patients at {args.rate} req/s, {stat[:3]}", "ms",
                figure[stat], floor[stat], "", {"figure": figure, "floor": floor},
            )
        )  # fmt: skip


def main() -> None:
    # `timeout` and Ctrl-C stop the run through SystemExit, so the finally blocks clean up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=12, help="seconds per figure+floor")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved slices per figure")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=200, help="open-loop rate of the list")
    parser.add_argument("--webhook-rate", type=int, default=100)
    parser.add_argument("--clients", type=int, default=500, help="Socket.IO fan-out clients")
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--no-fan-out", action="store_true")
    parser.add_argument(
        "--only", default="", help="comma-separated subset: health, patients, webhook"
    )
    args = parser.parse_args()

    logs = Path(tempfile.mkdtemp(prefix="dimini-bench-"))
    postgres: PostgresServer = start_postgres()
    servers: list[Server] = []
    try:
        database = postgres.create_database("bench")
        backend = start_backend(
            postgres.url(database), args.workers, logs / "backend.log", THROUGHPUT_SETTINGS
        )
        servers.append(backend)
        dsn = postgres.url(database, driver="postgresql")
        bare = start_bare(dsn, args.workers, logs / "bare.log")
        servers.append(bare)
        fixture = prepare_data(backend.url)
        print(f"cpus: {os.cpu_count()}, workers: {args.workers}, duration: {args.duration} s")
        print("| Figure | Value | Floor | Ratio | Target |\n| --- | --- | --- | --- | --- |")
        comparisons = measure(backend, bare, fixture, args)
        if not args.no_fan_out:
            result = fan_out(backend.url, dsn, fixture.token, args.clients, args.events)
            print(f"socketio_fan_out (no floor yet): {json.dumps(result)}", flush=True)
        print("\nSummary (figure, floor, ratio):")
        print("| Figure | Value | Floor | Ratio | Target |\n| --- | --- | --- | --- | --- |")
        for comparison in comparisons:
            print(comparison.row())
    finally:
        for server in servers:
            server.stop()
        postgres.destroy()
        shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
