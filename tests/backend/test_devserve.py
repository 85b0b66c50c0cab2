"""`python -m app.devserve` (the development server): a saved file reloads the app the way
`uvicorn --reload` did, from a parent that never imports the app's own code."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.backend.helpers import (
    BACKEND_DIR,
    SocketRecorder,
    backend_env,
    register_therapist,
    wait_for,
)
from tests.support.ports import free_port
from tests.support.processes import stop

pytestmark = pytest.mark.postgres

# A cold first worker on a loaded machine takes a while; reloads are what the bench times.
START_WITHIN = 120.0
RELOAD_WITHIN = 60.0


@dataclass
class DevServer:
    process: subprocess.Popen[bytes]
    tree: Path
    log: Path
    url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def save(self, relative: str, text: str) -> None:
        (self.tree / relative).write_text(text)

    def read(self, relative: str) -> str:
        return (self.tree / relative).read_text()

    async def version(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"devserve exited:\n{self.output()}")
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(self.url + "/health")
        except httpx.TransportError:
            return None
        return str(response.json()["version"]) if response.status_code == 200 else None

    async def wait_version(self, version: str, within: float = RELOAD_WITHIN) -> None:
        async def answered() -> bool:
            return await self.version() == version

        await wait_for(answered, within=within)

    async def wait_output(self, pattern: str, within: float = RELOAD_WITHIN) -> re.Match[str]:
        async def logged() -> re.Match[str] | None:
            return re.search(pattern, self.output())

        return await wait_for(logged, within=within)

    def set_version(self, version: str) -> None:
        self.save("app/__init__.py", f'"""Dimini API."""\n\n__version__ = "{version}"\n')


@pytest.fixture(scope="module")
def devserve(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    # A copy of backend/: the tests edit its files.
    root = tmp_path_factory.mktemp("devserve")
    tree = root / "backend"
    shutil.copytree(BACKEND_DIR, tree, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    log = root / "devserve.log"
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.devserve", "--port", str(port)],
            env={**backend_env(migrated_url), "PYTHONPATH": str(tree)},
            cwd=tree,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = DevServer(process, tree, log, f"http://127.0.0.1:{port}")
    try:
        yield server
    finally:
        stop(process)


async def test_serves_the_app_with_its_lifespan_and_preloads_in_the_parent(
    devserve: DevServer,
) -> None:
    await devserve.wait_version("0.1.0", within=START_WITHIN)
    assert "backend started" in devserve.output()  # the lifespan ran in the worker
    # The parent imports what the first worker loaded (third-party only) for the next one.
    match = await devserve.wait_output(r"parent preloaded (\d+) modules .*app modules: (.+)\)")
    assert int(match[1]) > 100
    assert match[2] == "none"


async def test_a_saved_file_reloads_and_the_old_worker_shuts_down(devserve: DevServer) -> None:
    await devserve.wait_version("0.1.0", within=START_WITHIN)
    stopped_before = devserve.output().count("backend stopped")
    devserve.set_version("0.2.0")
    await devserve.wait_version("0.2.0")
    # The old worker's lifespan shutdown ran (engine disposed, jobs drained).
    await devserve.wait_output(r"(?s)" + r"backend stopped.*" * (stopped_before + 1))
    assert "app modules in the parent: none" in devserve.output()


async def test_socketio_works_after_a_reload(devserve: DevServer) -> None:
    devserve.set_version("0.3.0")
    await devserve.wait_version("0.3.0")
    async with httpx.AsyncClient(base_url=devserve.url, timeout=10.0) as client:
        therapist = await register_therapist(client)
    recorder = SocketRecorder()
    await recorder.connect(devserve.url, therapist.token)
    try:
        assert recorder.client.connected
    finally:
        await recorder.disconnect()


async def test_a_broken_file_prints_the_traceback_and_the_next_save_recovers(
    devserve: DevServer,
) -> None:
    devserve.set_version("0.4.0")
    await devserve.wait_version("0.4.0")
    main = devserve.read("app/main.py")
    devserve.save("app/main.py", main + "\ndef broken(:\n")
    await devserve.wait_output(r"SyntaxError: invalid syntax")
    await devserve.wait_output(r"worker \d+ exited \(1\); waiting for the next change")
    assert devserve.process.poll() is None  # the parent waits for the fix
    devserve.save("app/main.py", main)
    devserve.set_version("0.5.0")
    await devserve.wait_version("0.5.0")


async def test_sigterm_stops_the_parent_and_its_workers(devserve: DevServer) -> None:
    devserve.set_version("0.6.0")
    await devserve.wait_version("0.6.0")
    workers = [
        int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", devserve.output())
    ]
    devserve.process.send_signal(signal.SIGTERM)
    assert devserve.process.wait(timeout=60) == 0
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # gone, and reaped by the parent (no zombie either)
