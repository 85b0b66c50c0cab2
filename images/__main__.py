"""`python -m images build|load|list [name ...]`: refs go to stdout, progress to stderr.

`python -m images tilt <name>` is Tilt's custom_build command (Tiltfile, no Docker): build the
image's dev stage with buildah, load it into the sandbox's real node and tag it there as Tilt's
$EXPECTED_REF, the ref Tilt writes into the DiminiStack.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from images import cmd
from images import project as builder
from images.load import load as load_image
from images.log import say


def _names(given: list[str]) -> list[str]:
    unknown = set(given) - set(builder.IMAGES)
    if unknown:
        raise SystemExit(f"unknown image(s): {', '.join(sorted(unknown))}; see `list`")
    return given or list(builder.IMAGES)


def _build(names: list[str]) -> list[str]:
    refs = []
    for name in names:
        start = time.monotonic()
        refs.append(builder.build(name))
        say(f"{name}: {time.monotonic() - start:.1f} s")
    return refs


def _sandbox_socket() -> Path | None:
    """The sandbox's real-node containerd socket (sandbox/cluster.py), if the sandbox has one."""
    try:
        from sandbox import cluster
    except ImportError:
        return None
    return cluster.Sandbox(cluster.default_root()).containerd_socket


def containerd_name(ref: str) -> str:
    """The fully qualified name containerd stores `ref` under (what the kubelet looks up):
    `dimini-backend:tilt-1` is `docker.io/library/dimini-backend:tilt-1`."""
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return ref
    return f"docker.io/{ref}" if rest else f"docker.io/library/{ref}"


def _tilt(name: str, address: Path | None) -> int:
    expected = os.environ.get("EXPECTED_REF")
    if not expected:
        raise SystemExit("EXPECTED_REF is not set: `images tilt` is run by Tilt's custom_build")
    if address is None or not address.is_socket():
        raise SystemExit(f"no containerd socket at {address}: start the sandbox with --real-node")
    start = time.monotonic()
    ref = builder.build(name, dev=True)
    built = time.monotonic()
    load_image(ref, address, [containerd_name(expected)])
    loaded = time.monotonic()
    say(f"{name}: {ref} as {expected}: build {built - start:.1f} s, load {loaded - built:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m images", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("build", "load"):
        p = sub.add_parser(command, help=f"{command} images (default: all)")
        p.add_argument("names", nargs="*", metavar="name")
        if command == "load":
            p.add_argument(
                "--address", type=Path, help="containerd socket (default: the sandbox's)"
            )
            p.add_argument(
                "--if-running", action="store_true", help="no socket: say so and succeed"
            )
    p = sub.add_parser("tilt", help="Tilt's custom_build: dev stage, loaded as $EXPECTED_REF")
    p.add_argument("name", choices=sorted(builder.IMAGES))
    p.add_argument("--address", type=Path, help="containerd socket (default: the sandbox's)")
    sub.add_parser("list", help="the images and their current refs")
    args = parser.parse_args(argv)

    if args.command == "list":
        for name, image in builder.IMAGES.items():
            aliases = ", ".join(f"{image.repository}:{a}" for a in image.aliases)
            print(f"{name}\t{aliases}\t(base {image.base}; context {image.context})")
        return 0
    if args.command == "tilt":
        return _tilt(args.name, args.address or _sandbox_socket())
    names = _names(args.names)
    address: Path | None = None
    if args.command == "load":
        address = args.address or _sandbox_socket()
        if address is None or not address.is_socket():
            if args.if_running:
                say(f"no containerd socket at {address}: images built, not loaded")
                address = None
            else:
                raise SystemExit(f"no containerd socket at {address}")
    refs = _build(names)
    if address is not None:
        for name, ref in zip(names, refs, strict=True):
            image = builder.IMAGES[name]
            load_image(ref, address, [f"{image.repository}:{a}" for a in image.aliases])
    for ref in refs:
        print(ref)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except cmd.CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
