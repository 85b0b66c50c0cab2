"""Background work off the request path, with a graceful drain at shutdown.

Jobs run as asyncio tasks in the process that accepted the request. Jobs of one key (a session) run
one after another, so a session's graph updates apply in order; different sessions run in parallel.
Work queued here dies with the process; what must not (graph updates of transcript text and
summaries) is recorded in Postgres first and resumed by any process (services/durable_jobs.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

from app.core.metrics import BACKGROUND_JOBS

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class BackgroundRunner:
    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def submit(self, key: Hashable, kind: str, job: Job) -> bool:
        """Queues `job` after the jobs already queued under `key`. False once shutting down."""
        if self._closed:
            return False
        previous = self._tails.get(key)
        task = asyncio.get_running_loop().create_task(self._run(previous, kind, job))
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._forget(key, done))
        return True

    def _forget(self, key: Hashable, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]

    @staticmethod
    async def _run(previous: asyncio.Task[None] | None, kind: str, job: Job) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await job()
            BACKGROUND_JOBS.labels(kind, "succeeded").inc()
        except asyncio.CancelledError:
            BACKGROUND_JOBS.labels(kind, "cancelled").inc()
            raise
        except Exception:
            BACKGROUND_JOBS.labels(kind, "failed").inc()
            logger.exception("background job failed", extra={"kind": kind})

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def idle(self) -> None:
        """Waits until every queued job has finished (tests and shutdown use it)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def drain(self, grace_seconds: float) -> None:
        """Stops accepting work, lets running jobs finish for `grace_seconds`, cancels the rest."""
        self._closed = True
        if not self._tasks:
            return
        _, still_running = await asyncio.wait(list(self._tasks), timeout=grace_seconds)
        for task in still_running:
            task.cancel()
        if still_running:
            logger.warning("cancelled %d background jobs at shutdown", len(still_running))
            await asyncio.wait(still_running)
