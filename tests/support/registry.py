"""A throwaway OCI registry for tests: Debian's `docker-registry` (the CNCF `distribution`
registry, `apt-get install docker-registry`) on a free loopback port, storing in a temp dir.

Plain http on 127.0.0.1: buildah, skopeo and helm are told so (`--tls-verify=false`,
`--plain-http`), and containerd's CRI speaks http to a loopback registry by itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.ports import free_port
from tests.support.processes import stop
from tests.support.waiting import wait_for

BINARY = "/usr/bin/docker-registry"


@dataclass(frozen=True)
class LocalRegistry:
    host: str  # 127.0.0.1:<port>
    root: Path

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://{self.host}{path}", timeout=10) as response:
            return json.loads(response.read())

    def catalog(self) -> list[str]:
        return list(self.get("/v2/_catalog").get("repositories", []))

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as response:
                return int(response.status) == 200
        except OSError:
            return False


@contextmanager
def running(root: Path) -> Iterator[LocalRegistry]:
    """The registry, serving from `root`, until the block ends."""
    binary = shutil.which("docker-registry") or BINARY
    if not Path(binary).exists():
        raise RuntimeError("docker-registry not found: apt-get install docker-registry")
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    config_file = root / "config.yml"
    config_file.write_text(yaml.safe_dump(config))
    log = (root / "registry.log").open("w")
    proc = subprocess.Popen(
        [binary, "serve", str(config_file)], stdout=log, stderr=subprocess.STDOUT
    )
    registry = LocalRegistry(f"127.0.0.1:{port}", root)
    try:
        state = wait_for(
            "the registry answering /v2/ (or exiting)",
            lambda: "up" if registry.answers() else "exited" if proc.poll() is not None else None,
            30,
        )
        if state == "exited":
            tail = (root / "registry.log").read_text()[-2000:]
            raise RuntimeError(f"docker-registry exited with {proc.returncode}: {tail}")
        yield registry
    finally:
        stop(proc, grace=10)
        log.close()
