"""Coalesced recomputation: per key, at most one run in progress and one pending.

A request while a run is pending joins it; a request while one runs queues one more (jobs of one
key run in order, services/background.py). A run reads the state when it starts, not when it was
requested, so the latest state wins and a burst of N requests costs one or two runs, not N.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from app.services.background import BackgroundRunner

K = TypeVar("K", bound=Hashable)


class Coalescer(Generic[K]):
    def __init__(
        self,
        runner: BackgroundRunner,
        kind: str,
        job: Callable[[K], Awaitable[None]],
        settle: Callable[[], Awaitable[object]],
    ) -> None:
        self._runner = runner
        self._kind = kind
        self._job = job
        # Awaited before each run starts: requests arriving meanwhile join that run.
        self.settle = settle
        self._pending: set[K] = set()

    def submit(self, key: K) -> None:
        if key in self._pending:
            return  # the pending run has not read the state yet: it will see this change
        if self._runner.submit((self._kind, key), self._kind, lambda: self._run(key)):
            self._pending.add(key)

    async def _run(self, key: K) -> None:
        try:
            await self.settle()
        finally:
            # From here on the run reads the state, so a new request needs a new run.
            self._pending.discard(key)
        await self._job(key)
