"""One asyncio worker per stack: reconciles serially whenever triggered, and on a slow timer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from lightkube import ApiError

from dimini_operator.handlers.reconcile import Result
from dimini_operator.metrics import ERRORS, STACKS, forget_stack
from dimini_operator.specs.status import CONDITION_TYPES

log = logging.getLogger("dimini_operator.workers")

StackKey = tuple[str, str]  # (namespace, name)
ReconcileFn = Callable[[str, str], Awaitable[Result]]


# Re-read a stack waiting for a missing Secret after 2, 4, 8, 16, then every 32 s.
RECHECK_FIRST = 2.0


class Worker:
    def __init__(
        self,
        key: StackKey,
        fn: ReconcileFn,
        resync: float,
        debounce: float,
        limit: asyncio.Semaphore,
    ) -> None:
        self.key = key
        self.limit = limit
        self.fn = fn
        self.resync = resync
        self.debounce = debounce
        self.wakeup = asyncio.Event()
        self.wakeup.set()
        self.failures = 0
        self.rechecks = 0
        self.retry: asyncio.TimerHandle | None = None
        self.task = asyncio.create_task(self._run(), name=f"reconcile {key[0]}/{key[1]}")
        self.on_result: Callable[[StackKey, Result], None] | None = None

    def trigger(self) -> None:
        self.wakeup.set()

    async def _run(self) -> None:
        while True:
            timeout = self.resync * random.uniform(0.9, 1.1)
            if self.rechecks:
                timeout = min(timeout, RECHECK_FIRST * 2 ** min(self.rechecks - 1, 4))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=timeout)
            # Coalesce bursts of events (a rollout emits many) into one reconcile.
            await asyncio.sleep(self.debounce)
            self.wakeup.clear()
            try:
                async with self.limit:
                    result = await self.fn(*self.key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                ERRORS.labels("reconcile").inc()
                delay = min(60.0, 0.5 * 2 ** min(self.failures, 7))
                detail = exc.status.message if isinstance(exc, ApiError) else repr(exc)
                log.warning(
                    "reconcile of %s/%s failed (retry in %.1fs): %s", *self.key, delay, detail
                )
                self.retry = asyncio.get_running_loop().call_later(delay, self.wakeup.set)
                continue
            self.failures = 0
            self.rechecks = self.rechecks + 1 if result.recheck else 0
            if self.on_result is not None:
                self.on_result(self.key, result)
            if result.gone:
                return

    async def stop(self) -> None:
        if self.retry is not None:
            self.retry.cancel()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class Workers:
    """Registry of per-stack workers plus an index of referenced Secrets → stacks."""

    def __init__(
        self,
        fn: ReconcileFn,
        resync: float = 300.0,
        debounce: float = 0.05,
        concurrency: int = 8,
    ) -> None:
        self.fn = fn
        # Bounded parallelism across stacks: many stacks at once must not flood the API server.
        self.limit = asyncio.Semaphore(concurrency)
        self.resync = resync
        self.debounce = debounce
        self.workers: dict[StackKey, Worker] = {}
        self.secret_refs: dict[StackKey, set[str]] = {}

    def trigger(self, namespace: str, name: str, *, create: bool = False) -> None:
        key = (namespace, name)
        worker = self.workers.get(key)
        if worker is not None and worker.task.done():
            self.workers.pop(key)
            worker = None
        if worker is None:
            if not create:
                return
            worker = Worker(key, self.fn, self.resync, self.debounce, self.limit)
            worker.on_result = self._record
            self.workers[key] = worker
            STACKS.set(len(self.workers))
        worker.trigger()

    def trigger_all(self) -> None:
        for namespace, name in list(self.workers):
            self.trigger(namespace, name)

    def _record(self, key: StackKey, result: Result) -> None:
        self.secret_refs[key] = set(result.referenced_secrets)

    def trigger_by_secret(self, namespace: str, secret: str) -> None:
        for (ns, name), refs in list(self.secret_refs.items()):
            if ns == namespace and secret in refs:
                self.trigger(ns, name)

    async def forget(self, namespace: str, name: str) -> None:
        worker = self.workers.pop((namespace, name), None)
        self.secret_refs.pop((namespace, name), None)
        STACKS.set(len(self.workers))
        forget_stack(namespace, name, CONDITION_TYPES)
        if worker is not None:
            await worker.stop()

    async def stop_all(self) -> None:
        for key in list(self.workers):
            await self.forget(*key)
