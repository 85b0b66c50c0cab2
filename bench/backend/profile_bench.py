"""Where a backend request's CPU goes: py-spy samples one worker under wrk; asserts nothing.

    .venv/bin/python bench/backend/profile_bench.py [--target patients|webhook] [--duration 15]

Starts a throwaway Postgres 15 and the backend (`python -m app.serve`, one worker, so every
sample is a request's), loads the bench's data (bench/backend/run_bench.py), drives the target
with wrk (2 threads, 64 connections) while `py-spy record --format raw` samples the worker, then
prints the share of samples per function: inclusive (the function or anything it calls) and self.
The collapsed stacks are kept (`--out`) for a flame graph (e.g. speedscope or flamegraph.pl).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.backend.run_bench import (
    THROUGHPUT_SETTINGS,
    WEBHOOK_PATH,
    fresh_webhooks,
    prepare_data,
    start_backend,
    wrk,
)
from tests.support.postgres import start_postgres


def _worker_pid(master: int) -> int:
    """The process serving requests: uvicorn runs one worker in its own process (no fork), and
    forks each of several (then the first child). Called once /health answers."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0]) if children else master


def summarise(collapsed: Path, top: int) -> str:
    """Inclusive and self sample shares per function from py-spy's raw (collapsed) output."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [frame.split(" (")[0] + " " + _where(frame) for frame in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        lines.append(f"\n{title}:")
        for frame, count in counter.most_common(top):
            lines.append(f"{100 * count / total:5.1f}%  {frame}")
    return "\n".join(lines)


def _where(frame: str) -> str:
    """`(path/to/module.py:12)` → `module.py`: lines split one function into many rows."""
    inside = frame.partition(" (")[2].rstrip(")")
    return Path(inside.rpartition(":")[0]).name if inside else ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--target", choices=["patients", "webhook"], default="patients")
    parser.add_argument("--duration", type=int, default=15, help="seconds sampled under wrk")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=60, help="rows per table")
    parser.add_argument("--out", type=Path, help="keep the collapsed stacks here")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("py-spy not found: .venv/bin/pip install py-spy")

    logs = Path(tempfile.mkdtemp(prefix="dimini-profile-"))
    postgres = start_postgres()
    backend = None
    try:
        database = postgres.create_database("bench")
        backend = start_backend(
            postgres.url(database), 1, logs / "backend.log", THROUGHPUT_SETTINGS
        )
        fixture = prepare_data(backend.url)
        headers: dict[str, str] = {}
        if args.target == "patients":
            url = f"{backend.url}/api/patients"
            headers = {"Authorization": f"Bearer {fixture.token}"}
        else:
            url = f"{backend.url}{WEBHOOK_PATH}"

        def requests(seconds: float) -> list[bytes] | None:
            # New tool calls each run: a replay is recorded once and would profile that path.
            if args.target == "patients":
                return None
            return fresh_webhooks(url, fixture.session_id, int(3000 * seconds)).requests

        wrk(url, headers, 2, requests=requests(2))  # warm up: caches, prepared statements, pool
        collapsed = args.out or logs / "stacks.txt"
        pid = _worker_pid(backend.process.pid)
        spy = subprocess.Popen(
            [
                *(py_spy, "record", "--pid", str(pid), "--format", "raw"),
                *("--rate", str(args.rate), "--duration", str(args.duration), "--nonblocking"),
                *("--output", str(collapsed)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result = wrk(url, headers, args.duration, requests=requests(args.duration))
        spy.wait(timeout=args.duration + 60)
        print(f"wrk: {result}")
        print(summarise(collapsed, args.top))
    finally:
        if backend is not None:
            backend.stop()
        postgres.destroy()
        shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
