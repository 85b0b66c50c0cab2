"""Run a built image as a real container without Kubernetes: runc on a buildah-mounted root fs.

The container is configured like the operator's pods: a numeric non-root user, every capability
dropped, no new privileges, emptyDir-like tmpfs mounts, plus optional bind-mounted volumes. It
shares the host's network namespace, so a test reaches its ports on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _image_config(ref: str) -> dict[str, Any]:
    """The image's OCI config: user, env, entrypoint, cmd, working dir, stop signal."""
    out = subprocess.run(
        ["buildah", "inspect", "--type", "image", ref], capture_output=True, text=True, check=True
    ).stdout
    config: dict[str, Any] = json.loads(out)["OCIv1"]["config"]
    return config


@dataclass
class Container:
    id: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def exec(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command inside (same user and environment as the main process)."""
        return subprocess.run(
            ["runc", "exec", self.id, *args], capture_output=True, text=True, check=False
        )

    def stop(self, signal: str | None = None, timeout: float = 30) -> int:
        """Send the image's stop signal (or `signal`) and wait for the main process to exit."""
        subprocess.run(["runc", "kill", self.id, signal or self.stop_signal], check=False)
        return self.process.wait(timeout=timeout)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)


def _default_spec() -> dict[str, Any]:
    """runc's own default config (namespaces, masked paths, /proc, /dev ...), to adjust."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["runc", "spec", "--bundle", tmp], capture_output=True, check=True)
        spec: dict[str, Any] = json.loads((Path(tmp) / "config.json").read_text())
    return spec


def _spec(
    root: Path,
    image: dict[str, Any],
    *,
    args: Sequence[str] | None,
    user: tuple[int, int],
    env: Mapping[str, str],
    tmpfs: Sequence[str],
    binds: Mapping[str, Path],
) -> dict[str, Any]:
    with_env = [*image.get("Env", []), *(f"{k}={v}" for k, v in env.items())]
    argv = list(args) if args is not None else [*image.get("Entrypoint", []), *image.get("Cmd", [])]
    spec = _default_spec()
    spec["root"] = {"path": str(root), "readonly": False}
    spec["hostname"] = "test"
    spec["process"].update(
        terminal=False,
        args=argv,
        env=with_env,
        cwd=image.get("WorkingDir") or "/",
        user={"uid": user[0], "gid": user[1], "additionalGids": [user[1]]},
        capabilities={},  # every capability dropped, like the operator's containers
        noNewPrivileges=True,
    )
    linux = spec["linux"]
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "network"]
    for path in tmpfs:
        spec["mounts"].append(
            {
                "destination": path,
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "nodev", "mode=1777"],
            }
        )
    for destination, source in binds.items():
        spec["mounts"].append(
            {
                "destination": destination,
                "type": "bind",
                "source": str(source),
                "options": ["rbind"],
            }
        )
    return spec


@contextmanager
def rootfs(ref: str) -> Iterator[Path]:
    """A writable root fs of `ref` (a buildah working container, removed afterwards)."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    subprocess.run(
        ["buildah", "from", "--pull=never", "--name", name, ref], capture_output=True, check=True
    )
    try:
        mount = subprocess.run(
            ["buildah", "mount", name], capture_output=True, text=True, check=True
        ).stdout.strip()
        yield Path(mount)
    finally:
        subprocess.run(["buildah", "rm", name], capture_output=True, check=False)


@contextmanager
def run(
    ref: str,
    bundle: Path,
    *,
    args: Sequence[str] | None = None,
    user: tuple[int, int],
    env: Mapping[str, str] | None = None,
    tmpfs: Sequence[str] = ("/tmp",),
    binds: Mapping[str, Path] | None = None,
) -> Iterator[Container]:
    """Start `ref` in the background; on exit kill it and delete the container."""
    image = _image_config(ref)
    bundle.mkdir(parents=True, exist_ok=True)
    with rootfs(ref) as root:
        spec = _spec(
            root, image, args=args, user=user, env=env or {}, tmpfs=tmpfs, binds=binds or {}
        )
        (bundle / "config.json").write_text(json.dumps(spec))
        container_id = f"dimini-test-{uuid.uuid4().hex[:10]}"
        log = bundle / "output.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                ["runc", "run", "--bundle", str(bundle), container_id],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        container = Container(container_id, process, log, image.get("StopSignal") or "TERM")
        try:
            yield container
        finally:
            if process.poll() is None:
                subprocess.run(["runc", "kill", container_id, "KILL"], check=False)
                process.wait(timeout=30)
            subprocess.run(["runc", "delete", "--force", container_id], check=False)
