"""Backend dev loop: save a file -> the new code answers, run natively the way the backend's `dev`
image runs it (and Tilt syncs files into that pod).

    python bench/devloop/backend_reload.py [--runs 5] [--only devserve] [--before OLD/backend]

Works on a copy of backend/ in a temporary directory; each run rewrites app/__init__.py's
__version__ and polls GET /health until the new version answers. Three loops in one run:

  floor     a trivial ASGI app under bare `uvicorn --reload`: what any reload costs here (the
            watcher's debounce, a new interpreter, uvicorn's start) with nothing to import
  uvicorn   the app under `uvicorn --reload` (the dev loop before `app.devserve`)
  devserve  the app under `python -m app.devserve` (forks a worker from a parent that already
            imported the third-party modules)
  floor-devserve  the trivial app under `python -m app.devserve`: devserve's own cost (watcher,
            fork, first request) with nothing to import
  before    with --before: another tree's app under `uvicorn --reload`, e.g. the commit before
            app.devserve (`git archive COMMIT backend | tar -x -C DIR`)

Prints each figure beside the floor and the ratio, the machine's load (it is shared), and where
the time goes: a cold start (interpreter, `import app.main`, lifespan, first request) and a
devserve worker's (import of the app's own code, lifespan). The target is 1.5 s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
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
from tests.support.waiting import wait_for  # noqa: E402

TRIVIAL_APP = """
import json

from app import __version__


async def socket_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = json.dumps({"status": "ok", "version": __version__}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
"""

# Times a cold start the way uvicorn --reload's new worker does it, printing wall-clock marks.
COLD_START = """
import time
print("interpreter", time.time(), flush=True)
import app.main
print("imported", time.time(), flush=True)
print("cpu", time.process_time(), flush=True)
import sys, uvicorn

class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets)
        print("started", time.time(), flush=True)

Server(uvicorn.Config(app.main.socket_app, port=int(sys.argv[1]), log_level="warning")).run()
"""

WORKER_LOG = re.compile(
    r"worker (\d+) imported the app in ([\d.]+) s \(([\d.]+) s CPU\), started in ([\d.]+) s"
)


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


def command(kind: str, work: Path, port: int) -> list[str]:
    if kind in ("devserve", "floor-devserve"):
        return [sys.executable, "-m", "app.devserve", "--port", str(port)]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:socket_app",
        "--reload",
        "--reload-dir",
        str(work / "app"),
        "--port",
        str(port),
    ]


def reload_loop(kind: str, work: Path, env: dict[str, str], runs: int, log: Path) -> list[float]:
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            command(kind, work, port), cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def answering() -> str | None:
            if server.poll() is not None:
                return "exited"
            return "up" if health_version(port) is not None else None

        if wait_for(f"{kind} to answer (log: {log})", answering, 120, 0.05) == "exited":
            raise SystemExit(f"{kind} did not start; see {log}")
        if kind == "devserve":
            # The parent preloads what its first worker imported: wait until it says so.
            wait_for(
                f"devserve to preload (log: {log})",
                lambda: "parent preloaded" in log.read_text(),
                120,
                0.05,
            )
        init = work / "app" / "__init__.py"
        original = init.read_text()
        times = []
        for run in range(runs):
            version = f"0.0.{run + 100}"
            started = time.monotonic()
            init.write_text(original.replace('"0.1.0"', f'"{version}"'))

            def new_code_at(version: str = version) -> float | None:
                return time.monotonic() if health_version(port) == version else None

            answered = wait_for(f"{kind}: the new code to answer", new_code_at, 60, 0.01)
            times.append(answered - started)
        init.write_text(original)
    finally:
        server.terminate()
        server.wait(30)
    return times


def cold_start(work: Path, env: dict[str, str]) -> dict[str, float]:
    """Interpreter start, `import app.main`, lifespan + bind, first request (seconds)."""
    port = free_port()
    spawned = time.time()
    process = subprocess.Popen(
        [sys.executable, "-c", COLD_START, str(port)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    marks = {"spawned": spawned}
    try:
        while "started" not in marks:  # the app logs to stdout too
            line = process.stdout.readline()
            if not line:
                raise SystemExit("the cold start failed")
            name, _, stamp = line.strip().partition(" ")
            if name in ("interpreter", "imported", "cpu", "started"):
                marks[name] = float(stamp)
        marks["answered"] = wait_for(
            "the cold start's first answer",
            lambda: time.time() if health_version(port) is not None else None,
            60,
            0.005,
        )
    finally:
        process.terminate()
        process.wait(30)
    names = ["spawned", "interpreter", "imported", "started", "answered"]
    times = {b: marks[b] - marks[a] for a, b in itertools.pairwise(names)}
    times["import CPU"] = marks["cpu"]
    return times


def summary(times: list[float]) -> str:
    return (
        f"median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}, "
        f"{len(times)} runs)"
    )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--before",
        type=Path,
        help="another backend/ (e.g. an older commit's, from git archive): its `uvicorn --reload`"
        " loop runs too, as `before`",
    )
    parser.add_argument(
        "--only",
        choices=["floor", "floor-devserve", "before", "uvicorn", "devserve"],
        action="append",
        help="repeatable",
    )
    args = parser.parse_args()
    kinds: list[str] = args.only or ["floor", "floor-devserve", "uvicorn", "devserve"]
    if args.before:
        kinds.insert(1, "before")

    postgres = start_postgres()
    results: dict[str, list[float]] = {}
    print(f"load average at start: {load()}")
    with tempfile.TemporaryDirectory(prefix="dimini-reload-") as tmp:
        work = Path(tmp) / "backend"
        shutil.copytree(
            REPO / "backend", work, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
        if args.before:
            shutil.copytree(
                args.before,
                Path(tmp) / "before",
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
        trivial = Path(tmp) / "trivial"
        (trivial / "app").mkdir(parents=True)
        (trivial / "app" / "__init__.py").write_text('__version__ = "0.1.0"\n')
        (trivial / "app" / "main.py").write_text(TRIVIAL_APP)
        shutil.copy(REPO / "backend" / "app" / "devserve.py", trivial / "app")
        env = {
            **os.environ,
            "DATABASE_URL": postgres.url("postgres"),
            "SECRET_KEY": "bench-secret-key-" + "x" * 32,
        }
        try:
            cold = cold_start(work, {**env, "PYTHONPATH": str(work)})
            for kind in kinds:
                trees = {
                    "floor": trivial,
                    "floor-devserve": trivial,
                    "before": Path(tmp) / "before",
                }
                tree = trees.get(kind, work)
                log = Path(tmp) / f"{kind}.log"
                results[kind] = reload_loop(
                    kind, tree, {**env, "PYTHONPATH": str(tree)}, args.runs, log
                )
                print(f"{kind:14} save -> new code answers: {summary(results[kind])}", flush=True)
                if kind == "devserve":
                    workers = {m[1]: m for m in WORKER_LOG.finditer(log.read_text())}
                    warm = list(workers.values())[1:]  # the first worker starts cold
                    if warm:
                        imports = statistics.median(float(m[2]) for m in warm)
                        cpu = statistics.median(float(m[3]) for m in warm)
                        starts = statistics.median(float(m[4]) for m in warm)
                        print(
                            f"          devserve worker: import of the app's code {imports:.2f} s"
                            f" ({cpu:.2f} s CPU),"
                            f" lifespan start {starts:.2f} s (medians); the rest is the watcher,"
                            " the fork and the first request"
                        )
        finally:
            postgres.destroy()
    print(
        "cold start (what each `uvicorn --reload` pays): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in cold.items())
        + " (spawned->interpreter: Python starts; ->imported: import app.main;"
        " ->started: lifespan and bind; ->answered: first request; import CPU: the"
        " interpreter's CPU time up to the end of the import, load-independent)"
    )
    if "floor" in results:
        floor = statistics.median(results["floor"])
        for kind in ("before", "uvicorn", "devserve"):
            if kind in results:
                figure = statistics.median(results[kind])
                print(
                    f"{kind}: figure {figure:.2f} s, floor {floor:.2f} s (trivial app, bare "
                    f"uvicorn --reload), ratio {figure / floor:.2f} (target <= 1.5 s)"
                )
    if "floor-devserve" in results and "devserve" in results:
        own, figure = (
            statistics.median(results["floor-devserve"]),
            statistics.median(results["devserve"]),
        )
        print(
            f"devserve: figure {figure:.2f} s, its own floor {own:.2f} s (trivial app under "
            f"devserve), ratio {figure / own:.2f}: the rest is the app's own import and lifespan"
        )
    print(f"load average at end: {load()}")


if __name__ == "__main__":
    main()
