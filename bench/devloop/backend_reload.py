"""Backend dev loop: save a file -> the new code answers, with `uvicorn --reload` run natively
the way the backend's `dev` image runs it (and Tilt syncs files into that pod).

    python bench/devloop/backend_reload.py [--runs 5]

Works on a copy of backend/ in a temporary directory; each run rewrites app/__init__.py's
__version__ and polls GET /health until the new version answers. Prints the figures; the target
is 1.5 s (the seed claimed about 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.postgres import start_postgres  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health_version(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            return str(json.load(r)["version"])
    except (urllib.error.URLError, OSError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    postgres = start_postgres()
    with tempfile.TemporaryDirectory(prefix="dimini-reload-") as tmp:
        work = Path(tmp) / "backend"
        shutil.copytree(
            REPO / "backend", work, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": postgres.url("postgres"),
            "SECRET_KEY": "bench-secret-key-" + "x" * 32,
            "PYTHONPATH": str(work),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:socket_app",
                "--reload",
                "--reload-dir",
                str(work / "app"),
                "--port",
                str(port),
            ],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while health_version(port) is None:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("uvicorn --reload did not start")
                time.sleep(0.05)
            init = work / "app" / "__init__.py"
            original = init.read_text()
            times = []
            for run in range(args.runs):
                version = f"0.0.{run + 100}"
                started = time.monotonic()
                init.write_text(original.replace('"0.1.0"', f'"{version}"'))
                while health_version(port) != version:
                    if time.monotonic() - started > 30:
                        raise SystemExit("the new code did not answer within 30 s")
                    time.sleep(0.01)
                times.append(time.monotonic() - started)
        finally:
            server.terminate()
            server.wait(10)
            postgres.destroy()
    print(
        f"backend save -> new code answers (uvicorn --reload), {len(times)} runs: "
        f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
        f"max {max(times):.2f} s (target <= 1.5 s)"
    )


if __name__ == "__main__":
    main()
