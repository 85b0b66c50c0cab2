"""/metrics of a real `python -m app.serve` with two uvicorn workers: what each worker counted adds
up, the connected-clients gauge forgets workers that died, and the text passes promtool's lint."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backend.helpers import SocketRecorder, backend_env, register_therapist, wait_for
from tests.backend.workers import Served, parse, per_worker, serve, value

pytestmark = pytest.mark.postgres

ROUTE = "/api/patients/{patient_id}"


@pytest.fixture(scope="module")
def served(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(backend_env(migrated_url), tmp_path_factory.mktemp("served")) as backend:
        yield backend


async def scrape(served: Served) -> str:
    async with httpx.AsyncClient(base_url=served.url, timeout=5) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def unauthorised_requests(served: Served, count: int) -> None:
    # A fresh connection per request, so the kernel hands them to both workers' accept().
    async with httpx.AsyncClient(
        base_url=served.url, limits=httpx.Limits(max_keepalive_connections=0), timeout=5
    ) as client:
        paths = [f"/api/patients/{uuid.uuid4()}" for _ in range(count)]
        replies = await asyncio.gather(*(client.get(path) for path in paths))
    assert {reply.status_code for reply in replies} == {401}


async def eventually(served: Served, name: str, expected: float, **labels: str) -> None:
    async def matches() -> bool:
        try:
            return value(parse(await scrape(served)), name, **labels) == expected
        except httpx.TransportError:
            return False  # the replacement workers are still starting

    await wait_for(matches, within=30)


def served_by(served: Served, tmp: Path) -> dict[int, float]:
    return {
        pid: value(samples, "dimini_http_requests_total", method="GET", route=ROUTE, status="401")
        for pid, samples in per_worker(served.metrics_dir, tmp).items()
    }


async def test_counts_from_both_workers_add_up(served: Served, tmp_path: Path) -> None:
    sent = 0

    async def both_workers_counted() -> bool:
        nonlocal sent
        await unauthorised_requests(served, 20)
        sent += 20
        counts = served_by(served, tmp_path)
        return len([count for count in counts.values() if count > 0]) == 2

    await wait_for(both_workers_counted, within=60, interval=0)
    total = value(
        parse(await scrape(served)),
        "dimini_http_requests_total",
        method="GET",
        route=ROUTE,
        status="401",
    )
    counts = served_by(served, tmp_path)
    assert set(counts) == set(served.workers())
    assert sum(counts.values()) == total == sent
    histogram_total = value(
        parse(await scrape(served)),
        "dimini_http_request_duration_seconds_count",
        method="GET",
        route=ROUTE,
    )
    assert histogram_total == sent


async def test_connected_clients_forget_a_killed_worker(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        therapist = await register_therapist(client, "Gauge")
    recorders = [SocketRecorder() for _ in range(4)]
    await asyncio.gather(*(recorder.connect(served.url, therapist.token) for recorder in recorders))

    try:
        await eventually(served, "dimini_socketio_connected_clients", 4.0)
        reply = await recorders[0].client.call("leave_session", {"sessionId": str(uuid.uuid4())})
        assert reply["ok"]
        await recorders[0].wait_for_event("left_session")
        samples = parse(await scrape(served))
        assert (
            value(samples, "dimini_socketio_events_total", event="leave_session", direction="in")
            == 1
        )
        assert (
            value(samples, "dimini_socketio_events_total", event="left_session", direction="out")
            == 1
        )
        accepted_before = value(samples, "dimini_socketio_connections_total", outcome="accepted")
        assert accepted_before >= 4
        # Killed workers run no shutdown code: only the scrape can forget their sockets.
        before = served.workers()
        for pid in before:
            os.kill(pid, signal.SIGKILL)

        async def replaced() -> bool:
            workers = served.workers()
            return len(workers) == 2 and not set(workers) & set(before)

        await wait_for(replaced, within=30)
        await eventually(served, "dimini_socketio_connected_clients", 0.0)
        # Counters of the dead workers stay in the totals: a counter never goes back.
        after = parse(await scrape(served))
        assert value(after, "dimini_socketio_connections_total", outcome="accepted") == (
            accepted_before
        )
    finally:
        await asyncio.gather(*(r.disconnect() for r in recorders), return_exceptions=True)


def test_metrics_pass_promtool_lint(served: Served) -> None:
    asyncio.run(unauthorised_requests(served, 2))
    text = httpx.get(f"{served.url}/metrics", timeout=5).text
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
