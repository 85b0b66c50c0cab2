"""Abuse load bench (issue 12, acceptance 2): prints figures, asserts nothing.

    .venv/bin/python bench/backend/abuse_bench.py [--body-mib 200] [--registrations 50] \
        [--logins 1000]

Starts a throwaway Postgres 15 and one backend worker (`python -m app.serve`, WEB_CONCURRENCY=1,
the shipped defaults for every limit), then runs three hostile loads one after another while a
prober GETs /health every 20 ms:
- 2 concurrent unauthenticated login bodies of --body-mib MiB each (streamed, never buffered here);
- --registrations concurrent registrations (the registration limit raised so each one hashes);
- --logins wrong-password logins from one address (the shipped login limits apply).
For each: the worker's peak RSS beside its idle RSS (the floor), and /health p99 beside the idle
p99 (the floor), with the ratios. Targets: peak RSS < 300 MiB, /health p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.backend.run_bench import Server, wait_until_healthy  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.postgres import start_postgres  # noqa: E402

BACKEND_DIR = REPO / "backend"
PASSWORD = "abuse-bench-passphrase-77"
MIB = 1024 * 1024


def rss_mib(pid: int) -> float:
    """Resident set of the process and its children (the worker may run under a supervisor)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue  # exited between listing and reading
        total += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
        )
        pids.extend(int(child) for child in children)
    return total / 1024


def start_backend(database_url: str, log: Path) -> Server:
    import os
    import subprocess

    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url,
        "SECRET_KEY": "abuse-bench-secret-" + "x" * 32,
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
        "REGISTER_RATE_LIMIT": "10000",  # so every registration really hashes
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    subprocess.run([sys.executable, "-m", "app.migrate"], env=env, cwd=BACKEND_DIR, check=True)
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


async def probe(url: str, pid: int, load: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    """Runs `load` while sampling RSS and /health latency; returns (peak RSS MiB, p99 ms)."""
    latencies: list[float] = []
    peak = rss_mib(pid)
    done = asyncio.Event()

    async def prober() -> None:
        nonlocal peak
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            while not done.is_set():
                started = time.perf_counter()
                await client.get("/health")
                latencies.append((time.perf_counter() - started) * 1000)
                peak = max(peak, rss_mib(pid))
                await asyncio.sleep(0.02)

    task = asyncio.create_task(prober())
    try:
        await load()
    finally:
        done.set()
        await task
    return peak, statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]


async def huge_bodies(url: str, mib: int) -> None:
    async def body() -> AsyncIterator[bytes]:
        chunk = b"x" * MIB
        for _ in range(mib):
            yield chunk

    async def send() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            # The server may close the connection once it has refused the body.
            with contextlib.suppress(httpx.HTTPError):
                await client.post(
                    "/api/auth/login", content=body(), headers={"content-type": "application/json"}
                )

    await asyncio.gather(send(), send())


async def registrations(url: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await asyncio.gather(
            *(
                client.post(
                    "/api/auth/register",
                    json={"email": f"abuse{n}@example.org", "name": "Abuse", "password": PASSWORD},
                )
                for n in range(count)
            )
        )


async def logins(url: str, count: int) -> None:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(
            *(
                client.post(
                    "/api/auth/login",
                    json={"email": "abuse0@example.org", "password": "wrong-guess"},
                )
                for _ in range(count)
            )
        )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as work:
        postgres = start_postgres()
        backend = start_backend(
            postgres.url(postgres.create_database("abuse")), Path(work) / "backend.log"
        )
        try:
            pid = backend.process.pid

            async def idle() -> None:
                await asyncio.sleep(2)

            floor_rss, floor_p99 = await probe(backend.url, pid, idle)
            loads: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                (
                    f"2 x {args.body_mib} MiB login bodies",
                    lambda: huge_bodies(backend.url, args.body_mib),
                ),
                (
                    f"{args.registrations} concurrent registrations",
                    lambda: registrations(backend.url, args.registrations),
                ),
                (
                    f"{args.logins} logins from one address",
                    lambda: logins(backend.url, args.logins),
                ),
            ]
            print(f"floor (idle worker): RSS {floor_rss:.0f} MiB, /health p99 {floor_p99:.1f} ms")
            print(f"{'load':<36} {'peak RSS':>9} {'ratio':>6} {'/health p99':>12} {'ratio':>6}")
            for name, load in loads:
                peak, p99 = await probe(backend.url, pid, load)
                print(
                    f"{name:<36} {peak:>6.0f} MiB {peak / floor_rss:>6.2f} "
                    f"{p99:>9.1f} ms {p99 / floor_p99:>6.1f}"
                    f"   (targets: < 300 MiB, < 100 ms)"
                )
        finally:
            backend.stop()
            postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--body-mib", type=int, default=200)
    parser.add_argument("--registrations", type=int, default=50)
    parser.add_argument("--logins", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
