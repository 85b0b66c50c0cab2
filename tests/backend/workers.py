"""A real `python -m app.serve` with several uvicorn workers, as the operator runs the backend,
and readers for what its /metrics and its multiprocess directory say."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from tests.backend.helpers import BACKEND_DIR, wait_for
from tests.support.ports import free_port
from tests.support.processes import stop


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    metrics_dir: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """The worker pids (uvicorn spawns them; the resource tracker is not one)."""
        pids = []
        for child in (
            Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        ):
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"spawn_main" in cmdline:
                pids.append(int(child))
        return pids

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve(env: dict[str, str], tmp: Path, workers: int = 2) -> Iterator[Served]:
    metrics_dir = tmp / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    log = tmp / "backend.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "app.serve"],
        env={
            **env,
            "WEB_CONCURRENCY": str(workers),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        },
        cwd=BACKEND_DIR,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    served = Served(process, port, metrics_dir, log)
    try:

        async def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"backend exited early:\n{served.output()}")
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    answered = (await client.get(f"{served.url}/health")).status_code == 200
            except httpx.TransportError:
                return False
            return answered and len(served.workers()) == workers

        asyncio.run(wait_for(ready, within=60, interval=0.1))
        yield served
    finally:
        stop(process)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def per_worker(metrics_dir: Path, tmp: Path, kind: str = "counter") -> dict[int, Samples]:
    """What each worker wrote, read on its own (prometheus-client's reader over one file)."""
    result: dict[int, Samples] = {}
    for path in sorted(metrics_dir.glob(f"{kind}_*.db")):
        pid = int(path.stem.rsplit("_", 1)[1])
        alone = tmp / f"worker-{pid}"
        alone.mkdir(exist_ok=True)
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        result[pid] = parse(generate_latest(registry).decode())
    return result
