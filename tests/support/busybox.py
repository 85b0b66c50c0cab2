"""A tiny test image, `localhost/dimini/busybox:test`, from Debian's static busybox.

For tests of the real node itself (pods run, Services route, volumes keep data) without waiting
for the application images.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sandbox import cluster, realnode

IMAGE = "localhost/dimini/busybox:test"
APPLETS = ("sh", "cat", "echo", "httpd", "wget", "sleep", "mkdir", "nslookup", "ls", "test")


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def ensure_loaded(sb: cluster.Sandbox) -> str:
    """Build the image once (cached as an OCI archive) and import it into the node's containerd."""
    paths = realnode.NodePaths(sb.root)
    if realnode.has_image(paths, IMAGE):
        return IMAGE
    busybox = shutil.which("busybox")
    if not busybox:
        raise RuntimeError("busybox not found: apt-get install busybox-static")
    archive = realnode.cache_dir() / "busybox-test-oci.tar"
    if not archive.exists():
        container = _run("buildah", "from", "scratch")
        try:
            root = Path(_run("buildah", "mount", container))
            (root / "bin").mkdir()
            (root / "tmp").mkdir(mode=0o1777)
            shutil.copy(busybox, root / "bin" / "busybox")
            for applet in APPLETS:
                (root / "bin" / applet).symlink_to("busybox")
            _run("buildah", "umount", container)
            _run("buildah", "config", "--cmd", '["sh"]', container)
            _run("buildah", "commit", "-q", container, IMAGE)
        finally:
            subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
        tmp = archive.with_suffix(".tmp")
        _run("buildah", "push", "-q", IMAGE, f"oci-archive:{tmp}:{IMAGE}")
        tmp.rename(archive)
    realnode.ctr(paths, "images", "import", str(archive))
    return IMAGE
