"""Voice-agent benchmark (issue 5): prints figures, asserts nothing.

    .venv/bin/python bench/backend/voice_bench.py [--rate 100] [--duration 10]

- signed webhook tool_call: p50/p99 at a fixed request rate (open loop, separate process);
- transcript -> `graph_batch_update` latency with the offline extractor (Socket.IO client);
- graph metrics (networkx) time for a 300-node session graph.
Targets: webhook p99 <= 50 ms; transcript -> update <= 500 ms offline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.services.graph.metrics import compute_metrics  # noqa: E402
from app.services.webhooks import (  # noqa: E402
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_for,
)

from tests.support.ports import free_port  # noqa: E402
from tests.support.postgres import start_postgres  # noqa: E402

SIGNING_KEY = "bench-signing-key"
PASSWORD = "bench-password-1234"


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[max(int(len(ordered) * 0.99) - 1, 0)], 2),
    }


def _webhook_load(url: str, session_id: str, rate: int, duration: int, queue: Any) -> None:
    async def run() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:

            async def one(index: int) -> None:
                nonlocal errors
                body = json.dumps(
                    {
                        "event_name": "tool_call",
                        "chat_id": f"bench-chat-{session_id}",
                        "chat_group_id": "g",
                        "timestamp": 0,
                        "tool_call_message": {
                            "tool_call_id": f"bench-{session_id}-{index}",
                            "name": "save_session_note",
                            "parameters": json.dumps(
                                {"content": f"note {index}", "category": "observation"}
                            ),
                            "custom_session_id": session_id,
                            "tool_type": "function",
                            "response_required": True,
                            "type": "tool_call",
                        },
                    }
                ).encode()
                timestamp = str(int(time.time()))
                headers = {
                    SIGNATURE_HEADER: signature_for(SIGNING_KEY, body, timestamp),
                    TIMESTAMP_HEADER: timestamp,
                    "Content-Type": "application/json",
                }
                started = time.perf_counter()
                response = await client.post(
                    f"{url}/api/webhooks/hume", content=body, headers=headers
                )
                latencies.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text

            tasks = []
            begin = time.perf_counter()
            for index in range(rate * duration):
                delay = begin + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(index)))
            # Bounded: requests still open a minute after the schedule ended count as errors.
            _, late = await asyncio.wait(tasks, timeout=60)
            for task in late:
                task.cancel()
            errors += len(late)
        return latencies, errors

    queue.put(asyncio.run(run()))


async def transcript_latency(url: str, token: str, session_id: str, samples: int) -> list[float]:
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    arrived: asyncio.Queue[float] = asyncio.Queue()
    client.on("graph_batch_update", lambda data: arrived.put_nowait(time.perf_counter()))
    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=30)
    await client.call("join_session", {"sessionId": session_id}, timeout=30)
    latencies = []
    topics = ["work", "sleep", "family", "exercise", "money", "friends", "school", "health"]
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for index in range(samples):
            text = (
                f"I feel anxious about {random.choice(topics)} and {random.choice(topics)} "
                f"number {index}."
            )
            started = time.perf_counter()
            await http.post(
                f"/api/sessions/{session_id}/transcript",
                json={"text": text},
                headers={"Authorization": f"Bearer {token}"},
            )
            latencies.append((await asyncio.wait_for(arrived.get(), 30) - started) * 1000)
    await client.disconnect()
    return latencies


def metrics_time(nodes: int = 300, edges: int = 900) -> float:
    ids = [uuid.uuid4() for _ in range(nodes)]
    rng = random.Random(7)
    pairs = {tuple(sorted(rng.sample(range(nodes), 2))) for _ in range(edges)}
    edge_list = [(ids[a], ids[b], rng.uniform(0.75, 1.0)) for a, b in pairs]
    started = time.perf_counter()
    compute_metrics(ids, edge_list)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    # `timeout` and Ctrl-C stop the run through SystemExit, so the finally blocks clean up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    postgres = start_postgres()
    log = Path(tempfile.mkdtemp(prefix="dimini-voice-bench-")) / "backend.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        database_url = postgres.url(postgres.create_database("voice"))
        port = free_port()
        env = {
            "PATH": os.environ["PATH"],
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-secret-" + "k" * 32,
            "HUME_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
            "LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": "2",
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
        backend_dir = REPO / "backend"
        subprocess.run(
            [sys.executable, "-m", "app.migrate"],
            env=env,
            cwd=backend_dir,
            check=True,
            capture_output=True,
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "app.serve"],
            env=env,
            cwd=backend_dir,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=30) as client:
            client.post(
                "/api/auth/register",
                json={"email": "voice@example.org", "name": "V", "password": PASSWORD},
            )
            token = client.post(
                "/api/auth/login", json={"email": "voice@example.org", "password": PASSWORD}
            ).json()["accessToken"]
            headers = {"Authorization": f"Bearer {token}"}
            patient = client.post("/api/patients", json={"name": "Voice"}, headers=headers).json()
            session_id = client.post(
                "/api/sessions/start", json={"patientId": patient["id"]}, headers=headers
            ).json()["id"]
        print("graph_metrics_300_nodes_ms:", round(metrics_time(), 1), flush=True)
        latencies = asyncio.run(transcript_latency(url, token, session_id, args.samples))
        print("transcript_to_graph_batch_update:", json.dumps(percentiles(latencies)), flush=True)
        queue: Any = multiprocessing.Queue()
        loader = multiprocessing.Process(
            target=_webhook_load, args=(url, session_id, args.rate, args.duration, queue)
        )
        loader.start()
        webhook, errors = queue.get()
        loader.join()
        print(
            f"webhook_tool_call_at_{args.rate}_rps:",
            json.dumps({**percentiles(webhook), "errors": errors}),
            flush=True,
        )
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        postgres.destroy()


if __name__ == "__main__":
    main()
