"""Print the sandbox's cold build time and warm start time.

    python bench/sandbox/measure.py          # warm start (3 runs) + the recorded cold build time
    python bench/sandbox/measure.py --cold   # also rebuild from scratch into a temporary cache

The cold build time is what sandbox/build.sh recorded in its cache (build-seconds) when it last
compiled; --cold measures it afresh (about 25 minutes on 2 cores, with a warm Go module cache).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from sandbox import cluster  # noqa: E402


def cold_build() -> float:
    with tempfile.TemporaryDirectory(prefix="dimini-cold-") as cache:
        started = time.monotonic()
        subprocess.run(
            ["bash", str(REPO / "sandbox" / "build.sh")],
            check=True,
            env={**os.environ, "DIMINI_SANDBOX_CACHE": cache},
            stdout=subprocess.DEVNULL,
        )
        return time.monotonic() - started


def warm_starts(runs: int) -> list[float]:
    cluster.binaries()  # build outside the timing
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="dimini-bench-") as root:
            started = time.monotonic()
            cluster.up(Path(root) / "sb", nodes=2)
            times.append(time.monotonic() - started)
            cluster.down(Path(root) / "sb", quiet=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true", help="rebuild from scratch (slow)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    if args.cold:
        print(f"cold build (fresh cache): {cold_build():.0f} s")
    recorded = cluster.binaries().parent / "build-seconds"
    if recorded.exists():
        print(f"cold build (recorded by build.sh): {float(recorded.read_text()):.0f} s")
    starts = warm_starts(args.runs)
    print(
        f"warm start, {len(starts)} runs: median {statistics.median(starts):.1f} s, "
        f"min {min(starts):.1f} s, max {max(starts):.1f} s"
    )


if __name__ == "__main__":
    main()
