"""Probes GET /health at a steady cadence in a background thread and keeps every outcome.

Meant to run across a rolling upgrade: afterwards the report must show no failed probe. A probe
is OK only with status 200; any other status or a transport error (refused, reset, timeout) fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

import httpx


@dataclass(frozen=True)
class Probe:
    started_at: float  # wall clock (time.time()), to line probes up with cluster events and logs
    elapsed: float  # seconds until the response or the error
    status: int | None  # None when the request failed without a response
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def finished_at(self) -> float:
        return self.started_at + self.elapsed

    def describe(self) -> str:
        outcome = f"HTTP {self.status}" if self.status is not None else self.error
        at = datetime.fromtimestamp(self.started_at).strftime("%H:%M:%S.%f")[:-3]
        return f"{at} +{self.elapsed:.3f}s {outcome}"


@dataclass(frozen=True)
class ProbeReport:
    probes: tuple[Probe, ...]

    @property
    def ok(self) -> int:
        return sum(1 for probe in self.probes if probe.ok)

    @property
    def failed(self) -> int:
        return len(self.probes) - self.ok

    @property
    def failures(self) -> list[Probe]:
        return [probe for probe in self.probes if not probe.ok]

    def summary(self) -> str:
        """One line of counts, then one line per failure (for assertion messages)."""
        lines = [f"{len(self.probes)} probes: {self.ok} ok, {self.failed} failed"]
        lines += [f"  {probe.describe()}" for probe in self.failures]
        return "\n".join(lines)


class HealthProber:
    def __init__(
        self,
        base_url: str,
        host: str,
        *,
        path: str = "/health",
        interval: float = 0.05,
        timeout: float = 2.0,
    ) -> None:
        self._base_url = base_url
        self._host = host
        self._path = path
        self._interval = interval
        self._timeout = timeout
        self._probes: list[Probe] = []
        self._recorded = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-prober", daemon=True)

    def start(self) -> HealthProber:
        self._thread.start()
        return self

    def stop(self) -> ProbeReport:
        self._stopping.set()
        self._thread.join(timeout=self._timeout + 5)
        return self.report()

    def report(self) -> ProbeReport:
        """The probes so far, without stopping."""
        with self._recorded:
            return ProbeReport(tuple(self._probes))

    def wait_until(
        self, condition: Callable[[ProbeReport], bool], timeout: float = 10.0
    ) -> ProbeReport:
        """Blocks until `condition(report)` holds (returns that report) or raises on timeout."""
        with self._recorded:
            met = self._recorded.wait_for(
                lambda: condition(ProbeReport(tuple(self._probes))), timeout=timeout
            )
            report = ProbeReport(tuple(self._probes))
        if not met:
            raise AssertionError(f"prober condition not met within {timeout}s:\n{report.summary()}")
        return report

    def _run(self) -> None:
        # Keep-alive connections to the ingress, as a browser would hold them.
        with httpx.Client(
            base_url=self._base_url, headers={"Host": self._host}, timeout=self._timeout
        ) as client:
            next_at = time.monotonic()
            while not self._stopping.is_set():
                self._record(self._probe(client))
                # A fixed cadence: a slow probe is followed at once, not after a full interval.
                next_at = max(next_at + self._interval, time.monotonic())
                self._stopping.wait(next_at - time.monotonic())

    def _probe(self, client: httpx.Client) -> Probe:
        started_at, started = time.time(), time.monotonic()
        try:
            status = client.get(self._path).status_code
        except httpx.HTTPError as error:
            return Probe(
                started_at, time.monotonic() - started, None, f"{type(error).__name__}: {error}"
            )
        return Probe(started_at, time.monotonic() - started, status)

    def _record(self, probe: Probe) -> None:
        with self._recorded:
            self._probes.append(probe)
            self._recorded.notify_all()

    def __enter__(self) -> HealthProber:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
