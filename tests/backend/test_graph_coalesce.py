"""Metrics recomputation is coalesced per session and runs off the default executor.

No clocks: the coalescing window and the computations are held open by events the test sets.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.services.background import BackgroundRunner
from app.services.coalesce import Coalescer
from app.services.graph import metrics
from app.services.graph.pipeline import GraphPipeline

from tests.backend.helpers import make_settings


def _recorder(
    state: dict[str, int],
    runs: list[tuple[str, int]],
    gate: asyncio.Event | None = None,
    started: asyncio.Event | None = None,
) -> Any:
    async def job(key: str) -> None:
        runs.append((key, state[key]))  # what a metrics run reads: the graph as it is now
        if started is not None:
            started.set()
        if gate is not None:
            await gate.wait()

    return job


async def _open() -> None:
    return None


def test_a_burst_inside_the_window_runs_once() -> None:
    async def scenario() -> list[tuple[str, int]]:
        runner, window, waiting = BackgroundRunner(), asyncio.Event(), asyncio.Event()
        state, runs = {"s": 0}, list[tuple[str, int]]()

        async def settle() -> None:
            waiting.set()
            await window.wait()

        coalescer = Coalescer(runner, "metrics", _recorder(state, runs), settle)
        for version in range(1, 11):
            state["s"] = version
            coalescer.submit("s")
        await waiting.wait()  # the queued run is in its window
        assert runs == []
        window.set()
        await runner.idle()
        return runs

    assert asyncio.run(scenario()) == [("s", 10)]


def test_requests_during_a_run_cost_one_more_run_which_sees_the_latest() -> None:
    async def scenario() -> list[tuple[str, int]]:
        runner, gate, started = BackgroundRunner(), asyncio.Event(), asyncio.Event()
        state, runs = {"s": 1}, list[tuple[str, int]]()
        coalescer = Coalescer(runner, "metrics", _recorder(state, runs, gate, started), _open)
        coalescer.submit("s")
        await started.wait()  # the first run has read its state and is computing
        for version in range(2, 8):
            state["s"] = version
            coalescer.submit("s")
        gate.set()
        await runner.idle()
        return runs

    assert asyncio.run(scenario()) == [("s", 1), ("s", 7)]


def test_sessions_coalesce_separately() -> None:
    async def scenario() -> list[tuple[str, int]]:
        runner, window = BackgroundRunner(), asyncio.Event()
        state, runs = {"a": 1, "b": 2}, list[tuple[str, int]]()
        coalescer = Coalescer(runner, "metrics", _recorder(state, runs), window.wait)
        for key in ("a", "b", "a", "b", "a"):
            coalescer.submit(key)
        window.set()
        await runner.idle()
        return runs

    assert sorted(asyncio.run(scenario())) == [("a", 1), ("b", 2)]


def test_a_failed_run_does_not_stop_later_ones() -> None:
    async def scenario() -> list[str]:
        runner, calls = BackgroundRunner(), list[str]()

        async def job(key: str) -> None:
            calls.append(key)
            if len(calls) == 1:
                raise RuntimeError("database went away")

        coalescer = Coalescer(runner, "metrics", job, _open)
        coalescer.submit("s")
        await runner.idle()
        coalescer.submit("s")
        await runner.idle()
        return calls

    assert asyncio.run(scenario()) == ["s", "s"]


def test_pipeline_metrics_requests_go_through_its_coalescer() -> None:
    async def scenario() -> list[uuid.UUID]:
        settings = make_settings("postgresql+asyncpg://unused@127.0.0.1:1/unused")
        runner = BackgroundRunner()
        pipeline = GraphPipeline(runner, None, None, settings)  # type: ignore[arg-type]
        computed: list[uuid.UUID] = []

        async def update_metrics(session_id: uuid.UUID) -> None:
            computed.append(session_id)

        pipeline.update_metrics = update_metrics  # type: ignore[method-assign]
        window = asyncio.Event()
        pipeline.metrics.settle = window.wait
        session = uuid.uuid4()
        for _ in range(25):  # 25 transcript batches of one session in quick succession
            pipeline.submit_metrics(session)
        window.set()
        await runner.idle()
        return computed

    computed = asyncio.run(scenario())
    assert len(computed) == 1


def test_metrics_do_not_queue_behind_a_busy_default_executor() -> None:
    """Password hashing and asyncio.to_thread share the loop's default pool; metrics must not."""

    async def scenario() -> str:
        loop = asyncio.get_running_loop()
        busy = ThreadPoolExecutor(max_workers=1, thread_name_prefix="default")
        loop.set_default_executor(busy)
        release = threading.Event()
        blocked = loop.run_in_executor(None, release.wait)  # the default pool's only worker
        names: list[str] = []

        def probe(_: object, __: object) -> dict[uuid.UUID, metrics.NodeMetrics]:
            names.append(threading.current_thread().name)
            return {}

        original = metrics.compute_metrics
        metrics.compute_metrics = probe  # type: ignore[assignment]
        try:
            # A hang guard only: with a shared pool this would wait for `release` forever.
            await asyncio.wait_for(metrics.compute_metrics_async([], []), timeout=60)
        finally:
            metrics.compute_metrics = original
            release.set()
            await blocked
        return names[0]

    assert asyncio.run(scenario()).startswith("graph-metrics")
