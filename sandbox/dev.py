"""`make dev` without Docker (Linux, root): the sandbox with its real node and Traefik, then
`tilt up` against it; Tilt builds the images with buildah (`python -m images tilt`).

    python -m sandbox.dev [-- tilt up arguments, e.g. --operator=host]

Leaves the sandbox running when Tilt exits (a warm next `make dev`); `make sandbox-down` stops it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import images
from images import traefik as traefik_image
from sandbox import cluster, ingress, tilt
from sandbox.nodes import client as sandbox_client

HOST = "dimini.localhost"  # manifests/samples/diministack-dev.yaml's spec.ingress.host
CONTEXT = "dimini-sandbox"


def _say(msg: str) -> None:
    print(f"make dev: {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.dev", description=__doc__)
    parser.add_argument("tilt_args", nargs="*", help="after --: passed to the Tiltfile")
    args = parser.parse_args(argv)
    tilt_bin = tilt.find()
    if tilt_bin is None:
        _say(tilt.INSTALL_HINT)
        return 1
    start = time.monotonic()
    sb = cluster.up(nodes=0, real_node=True)
    traefik = traefik_image.build()
    images.load(traefik, sb.containerd_socket)
    ingress.install(sandbox_client(sb), traefik)
    url = f"http://{HOST}:{ingress.DEFAULT_HTTP_PORT}"
    _say(f"sandbox with its real node and Traefik up in {time.monotonic() - start:.0f} s")
    _say(f"tilt up ({tilt_bin}); Dimini at {url} once the stack is Ready (Tilt's stack-ready)")
    env = {
        **sb.env(),
        "DIMINI_SANDBOX_DIR": str(sb.root),  # where `python -m images tilt` loads images
        "DIMINI_PYTHON": sys.executable,
        "DIMINI_URL": url,
    }
    command = [str(tilt_bin), "up", "--stream", "--context", CONTEXT, "--", *args.tilt_args]
    if "--builder" not in " ".join(args.tilt_args):
        command.append("--builder=buildah")
    # Tilt replaces this process: Ctrl-C and a killed `make dev` reach Tilt itself.
    os.execve(command[0], command, env)  # noqa: S606 (argv of our own, no shell)


if __name__ == "__main__":
    sys.exit(main())
