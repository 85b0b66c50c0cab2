"""Leader election on a coordination.k8s.io/v1 Lease: only the holder reconciles.

Two operators (two replicas, a host-mode dev operator beside the in-cluster one, a partitioned
old pod) would otherwise race on generated passwords, Events and conditions. Every replica
watches and keeps its workers; the workers of a non-leader do nothing. The holder renews every
RENEW seconds; a Lease not renewed for its duration is taken over (the write carries the
resourceVersion read, so of two candidates exactly one wins). A leader that stops releases the
Lease, so a rolling update hands over at once instead of after the duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable
from typing import Any

from lightkube import ApiError

from dimini_operator.handlers.kube import Kube
from dimini_operator.handlers.retry import TransientError

log = logging.getLogger("dimini_operator.leader")

LEASE_NAME = "dimini-operator"
DURATION = 10
RENEW = 2.0
API = "coordination.k8s.io/v1"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _fmt(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def expired(lease: dict[str, Any], now: datetime.datetime) -> bool:
    spec = lease.get("spec") or {}
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    if not spec.get("holderIdentity") or renewed is None:
        return True
    duration = int(spec.get("leaseDurationSeconds") or DURATION)
    return now - renewed > datetime.timedelta(seconds=duration)


class Leader:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        identity: str,
        on_elected: Callable[[], None],
        name: str = LEASE_NAME,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.identity = identity
        self.on_elected = on_elected
        self.name = name
        self.leading = False
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop(), name="leader election")

    async def _loop(self) -> None:
        while True:
            try:
                leading = await self.try_acquire()
            except (ApiError, TransientError) as exc:
                # Cannot tell whether we still hold it: stop reconciling until we can.
                log.warning("leader election: %s", exc)
                leading = False
            if leading and not self.leading:
                log.info(
                    "leading (Lease %s/%s, identity %s)", self.namespace, self.name, self.identity
                )
                self.leading = True
                self.on_elected()
            elif not leading and self.leading:
                log.warning("lost the Lease %s/%s: not reconciling", self.namespace, self.name)
                self.leading = False
            await asyncio.sleep(RENEW)

    def _body(self, now: datetime.datetime, acquired: str | None) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": DURATION,
            "acquireTime": acquired or _fmt(now),
            "renewTime": _fmt(now),
        }

    async def try_acquire(self) -> bool:
        now = _now()
        lease = await self.kube.get(API, "Lease", self.name, self.namespace)
        if lease is None:
            try:
                await self.kube.create(
                    {
                        "apiVersion": API,
                        "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": self.namespace},
                        "spec": self._body(now, None),
                    }
                )
            except ApiError as exc:
                if exc.status.code == 409:  # another candidate created it first
                    return False
                raise
            return True
        spec = lease.get("spec") or {}
        mine = spec.get("holderIdentity") == self.identity
        if not mine and not expired(lease, now):
            return False
        patch = {
            # The resourceVersion read is a precondition: a concurrent taker gets a 409.
            "metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]},
            "spec": self._body(now, spec.get("acquireTime") if mine else None),
        }
        try:
            await self.kube.merge_patch(API, "Lease", self.name, self.namespace, patch)
        except TransientError:
            return False  # includes a lost 409 race
        return True

    async def release(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if not self.leading:
            return
        self.leading = False
        with contextlib.suppress(ApiError, TransientError):
            await self.kube.merge_patch(
                API,
                "Lease",
                self.name,
                self.namespace,
                {"spec": {"holderIdentity": None, "renewTime": None}},
            )
