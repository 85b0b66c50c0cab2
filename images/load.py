"""Load built images into a containerd (the sandbox's kubelet node) under the names pods use.

`buildah push <ref> docker-archive:` keeps the full name (`localhost/dimini/backend:<tag>`) in the
archive; `ctr images import` unpacks it for the default snapshotter in the `k8s.io` namespace,
where the CRI (kubelet) finds it with imagePullPolicy IfNotPresent or Never.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from images import cmd, config
from images.log import say, step

NAMESPACE = "k8s.io"


def _ctr(address: Path, *args: str) -> list[str]:
    return ["ctr", "--address", str(address), "--namespace", NAMESPACE, *args]


def loaded(address: Path) -> set[str]:
    """Names of the images the containerd at `address` holds in the k8s.io namespace."""
    return set(cmd.output(_ctr(address, "images", "list", "--quiet")).split())


def load(ref: str, address: Path, aliases: Sequence[str] = ()) -> None:
    """Import `ref` (and tag `aliases` of it) into containerd; fail if the names do not resolve."""
    if ref in loaded(address):
        # A content tag names exactly one build, so a present ref is this image already.
        say(f"{ref}: already in {address}")
    else:
        archives = config.cache_dir() / "archives"
        archives.mkdir(exist_ok=True)
        with step(f"load {ref} into {address}"), tempfile.TemporaryDirectory(dir=archives) as tmp:
            archive = Path(tmp) / "image.tar"
            push = ["buildah", "push", "--quiet", ref, f"docker-archive:{archive}:{ref}"]
            cmd.run(push, quiet=True)
            cmd.run(_ctr(address, "images", "import", str(archive)), quiet=True)
    for alias in aliases:
        cmd.run(_ctr(address, "images", "tag", "--force", ref, alias), quiet=True)
    missing = {ref, *aliases} - loaded(address)
    if missing:
        raise cmd.CommandError(f"not in containerd after import: {', '.join(sorted(missing))}")
