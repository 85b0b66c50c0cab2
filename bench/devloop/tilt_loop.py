"""Backend dev loop through the real Tilt on the sandbox's real node: save a file under
backend/app -> the new code answers through the Ingress, with the pod unchanged (live update).

    python bench/devloop/tilt_loop.py [--runs 5]      # while `make dev` (tilt up) runs

Each run rewrites backend/app/__init__.py's __version__ (restored afterwards) and times:
  sync    save -> the file's new text is in the pod (Tilt: file watch, kubectl exec + tar)
  reload  sync -> GET /health through the Ingress answers the new version (app.devserve)
  total   save -> new version answers (the figure with the 1.5 s target)
beside the floor: one `kubectl exec` tar of the file + importing the app in the pod + one request
through the Ingress — what any sync-and-reload loop must spend.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.support.waiting import wait_for  # noqa: E402

INIT = REPO / "backend" / "app" / "__init__.py"
NAMESPACE = "dimini-dev"
DEPLOYMENT = "deploy/dimini-backend"
HOST = "dimini.localhost"
TARGET_S = 1.5


@dataclass
class Run:
    sync: float
    reload: float
    total: float


def health_version(base_url: str, host: str = HOST) -> str | None:
    # base_url is the sandbox's Ingress (http://127.0.0.1:<port>), never user input.
    request = urllib.request.Request(f"{base_url}/health", headers={"Host": host})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=2) as r:  # noqa: S310
            return str(json.load(r)["version"])
    except (urllib.error.URLError, OSError, ValueError):
        return None  # between workers during a reload, or the route not there yet


def kubectl(env: dict[str, str], *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["kubectl", "--namespace", NAMESPACE, *args],
        env=env,
        input=stdin,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


def _wait(what: str, check: Callable[[], bool], timeout: float, interval: float) -> float:
    """When `check` first held (monotonic seconds), through the tests' one poll loop."""
    return wait_for(what, lambda: time.monotonic() if check() else None, timeout, interval)


def save_to_running(
    env: dict[str, str], base_url: str, version: str, original: str, timeout: float = 60
) -> Run:
    """One save of __init__.py (`original` with `version`); the caller restores the file."""
    synced: list[float] = []

    def watch_pod() -> None:
        # A separate poller: the request loop below must not wait on kubectl's round trips.
        def in_pod() -> bool:
            out = kubectl(env, "exec", DEPLOYMENT, "--", "cat", "/app/app/__init__.py")
            return version.encode() in out

        synced.append(_wait("the file in the pod", in_pod, timeout, 0.02))

    started = time.monotonic()
    INIT.write_text(original.replace('"0.1.0"', f'"{version}"'))
    poller = threading.Thread(target=watch_pod, daemon=True)
    poller.start()
    answered = _wait(
        "the new version through the Ingress",
        lambda: health_version(base_url) == version,
        timeout,
        0.01,
    )
    poller.join(timeout)
    sync_at = min(synced[0], answered) if synced else answered
    return Run(sync=sync_at - started, reload=answered - sync_at, total=answered - started)


def floor(env: dict[str, str], base_url: str) -> float:
    """One tar of the file into the pod + the app's import in the pod + one Ingress request."""
    started = time.monotonic()
    tar = subprocess.run(
        ["tar", "-C", str(REPO / "backend"), "-c", "app/__init__.py"],
        capture_output=True,
        check=True,
    ).stdout
    kubectl(env, "exec", "-i", DEPLOYMENT, "--", "tar", "-x", "-C", "/app", stdin=tar)
    kubectl(env, "exec", DEPLOYMENT, "--", "python", "-c", "import app.main")
    health_version(base_url)
    return time.monotonic() - started


def figures(label: str, values: list[float], floor_s: float) -> str:
    median = statistics.median(values)
    return (
        f"{label}: median {median:.2f} s, min {min(values):.2f} s, max {max(values):.2f} s "
        f"(floor {floor_s:.2f} s, ratio {median / floor_s:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", default=os.environ.get("DIMINI_URL", "http://127.0.0.1:18080"))
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from sandbox import cluster

    env = cluster.Sandbox(cluster.default_root()).env()
    pod_uid = kubectl(env, "get", "pod", "-l", "app.kubernetes.io/component=backend", "-o",
                      "jsonpath={.items[0].metadata.uid}").decode()  # fmt: skip
    original = INIT.read_text()
    runs: list[Run] = []
    try:
        floor_s = min(floor(env, args.url) for _ in range(3))
        for i in range(args.runs):
            runs.append(save_to_running(env, args.url, f"0.0.{int(time.time())}{i}", original))
    finally:
        INIT.write_text(original)
    after = kubectl(env, "get", "pod", "-l", "app.kubernetes.io/component=backend", "-o",
                    "jsonpath={.items[0].metadata.uid}").decode()  # fmt: skip
    print(f"backend save -> new code through the Ingress, via tilt live update, {len(runs)} runs")
    print(figures("  total ", [r.total for r in runs], floor_s) + f" target <= {TARGET_S} s")
    print(figures("  sync  ", [r.sync for r in runs], floor_s))
    print(figures("  reload", [r.reload for r in runs], floor_s))
    print(f"  same pod throughout: {pod_uid == after} ({pod_uid})")


if __name__ == "__main__":
    main()
